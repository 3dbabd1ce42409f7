import { applyEvent, type EntityState } from '../schemas/state.ts';
import type { StoredEvent } from './types.ts';

/** One difference between two values, by JSON-pointer-like dotted path (`headline`, `original.digest`). */
export interface Change {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The fields that differ between two payloads (or any JSON values). Objects present on
 * both sides are compared field by field; arrays, strings and objects that appear or
 * disappear whole are one change each. Keys keep the order of `after`, then `before`.
 */
export function diffPayload(before: unknown, after: unknown, path = ''): Change[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const changes: Change[] = [];
    const keys = new Set([...Object.keys(after), ...Object.keys(before)]);
    for (const key of keys) {
      const at = path ? `${path}.${key}` : key;
      const b = before[key];
      const a = after[key];
      if (b === undefined && a === undefined) continue;
      if (b === undefined) changes.push({ path: at, kind: 'added', after: a });
      else if (a === undefined) changes.push({ path: at, kind: 'removed', before: b });
      else changes.push(...diffPayload(b, a, at));
    }
    return changes;
  }
  if (equal(before, after)) return [];
  if (before === undefined) return [{ path, kind: 'added', after }];
  if (after === undefined) return [{ path, kind: 'removed', before }];
  return [{ path, kind: 'changed', before, after }];
}

const SHORT = 48;

/** A value in a few characters: short strings quoted, long ones by their length. */
export function shortValue(value: unknown): string {
  if (typeof value === 'string') {
    if (value.length <= SHORT) return JSON.stringify(value);
    return `(${value.length.toLocaleString('en-US')} chars)`;
  }
  if (Array.isArray(value)) {
    const text = JSON.stringify(value);
    return text.length <= SHORT ? text : `[${value.length} items]`;
  }
  if (isPlainObject(value)) {
    const text = JSON.stringify(value);
    return text.length <= SHORT ? text : `{${Object.keys(value).length} fields}`;
  }
  return String(value);
}

/** One change in one short line: `headline: "Old" → "New"`, `tags: +local -sport`, `body: (1,203 → 1,250 chars)`. */
export function formatChange(change: Change): string {
  const { path, kind, before, after } = change;
  if (kind === 'added') return `${path}: + ${shortValue(after)}`;
  if (kind === 'removed') return `${path}: - ${shortValue(before)}`;
  if (
    Array.isArray(before) &&
    Array.isArray(after) &&
    [...before, ...after].every((v) => typeof v === 'string')
  ) {
    const was = new Set(before as string[]);
    const now = new Set(after as string[]);
    const parts = [
      ...[...now].filter((v) => !was.has(v)).map((v) => `+${v}`),
      ...[...was].filter((v) => !now.has(v)).map((v) => `-${v}`),
    ];
    return `${path}: ${parts.length > 0 ? parts.join(' ') : 'reordered'}`;
  }
  if (
    typeof before === 'string' &&
    typeof after === 'string' &&
    (before.length > SHORT || after.length > SHORT)
  ) {
    const fmt = (n: number) => n.toLocaleString('en-US');
    return `${path}: changed (${fmt(before.length)} → ${fmt(after.length)} chars)`;
  }
  return `${path}: ${shortValue(before)} → ${shortValue(after)}`;
}

/** The changes of an entity's list in a few items, the rest counted: for one table cell. */
export function summarizeChanges(changes: readonly Change[], max = 4): string {
  if (changes.length === 0) return '(no change)';
  const shown = changes.slice(0, max).map(formatChange);
  if (changes.length > max) shown.push(`(+${changes.length - max} more)`);
  return shown.join('; ');
}

/**
 * What a reader of an entity's history cares about: its content, without the
 * bookkeeping (sequences, event counts) that changes with every event.
 */
export function stateView(state: EntityState | undefined): Record<string, unknown> | undefined {
  if (!state) return undefined;
  switch (state.entityType) {
    case 'article':
      return { ...state.fields, retracted: state.retracted, retractReason: state.retractReason };
    case 'byline':
      return { ...state.fields };
    case 'image': {
      const { seq: _p, ...processed } = state.processed ?? { seq: 0 };
      const { seq: _f, ...failed } = state.failed ?? { seq: 0 };
      return {
        caption: state.caption,
        credit: state.credit,
        fileName: state.fileName,
        original: state.original,
        processed: state.processed ? processed : undefined,
        failed: state.failed ? failed : undefined,
        removed: state.removed,
      };
    }
  }
}

/** One line of `presslog history`: an event and what it changed in the entity's state. */
export interface HistoryEntry {
  seq: number;
  time: string;
  type: string;
  /** The version the event was stored in (it is shown upcast to the current version). */
  storedVersion: number;
  version: number;
  eventId: string;
  occurredAt: string;
  source: string;
  changes: Change[];
}

/** An entity's history (events in order) with the state change each event made. Pure. */
export function historyEntries(events: readonly StoredEvent[]): HistoryEntry[] {
  let state: EntityState | undefined;
  return events.map((stored) => {
    const next = applyEvent(state, stored.event, stored.seq);
    const changes = diffPayload(stateView(state) ?? {}, stateView(next));
    state = next;
    return {
      seq: stored.seq,
      time: stored.time.toISOString(),
      type: stored.event.type,
      storedVersion: stored.storedVersion,
      version: stored.event.version,
      eventId: stored.event.id,
      occurredAt: stored.event.occurredAt,
      source: stored.event.source,
      changes,
    };
  });
}
