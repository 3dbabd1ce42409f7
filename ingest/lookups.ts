import type { Logger } from 'pino';
import { retrying } from '../log/async.ts';
import type { ContentLog } from '../log/types.ts';
import type { EventType } from '../schemas/catalog.ts';
import type { EntityType } from '../schemas/names.ts';
import { applyEvent, type EntityState, foldEntity } from '../schemas/state.ts';
import { type Entry, entryKey, keyOf } from './entry.ts';

/** What a run knows about entities besides asking the log: its caches and its own writes. */
export interface KnownEntities {
  /**
   * On a log that was empty when the run started, every entity is new unless this run
   * wrote it: the per-record lookups are skipped and the append's expected-sequence
   * guard catches the exceptions (an id seen twice, a concurrent writer), decided again then.
   */
  assumeNew: boolean;
  /** Entities this run decided to append to, while assuming new: those are looked up, not assumed. */
  touched: Set<string>;
  /** Byline and image ids this run has seen as valid records: the run's own reference targets. */
  seenInRun: Set<string>;
  /** Entities known to exist in the log (only positives are cached: entities never vanish). */
  existsInLog: Set<string>;
  /** Dry run only: the state each decision would have produced, so repeated ids decide right. */
  overlay: Map<string, EntityState>;
  /** Dry run only: the sequence the last would-be append would have had. */
  fakeSeq: number;
  /** Lookups retried so far in the run (the first of each outage is logged, not all 256 in flight). */
  lookupRetries: number;
}

/** What the lookups need of a run. */
export interface LookupContext {
  log: ContentLog;
  dryRun: boolean;
  known: KnownEntities;
  /** How long one failing lookup is retried before the run gives up. */
  lookupRetryMs: number;
  /** Ends the waits between retries (the run's signal). */
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Read from the log, retrying a transient failure (a NATS restart, a timeout) with
 * backoff for up to `lookupRetryMs`, as appends do: the run waits out an outage instead
 * of dying in its lookup phase. An abort ends the wait and throws the signal's reason.
 */
export function readLog<T>(ctx: LookupContext, what: string, read: () => Promise<T>): Promise<T> {
  return retrying(read, {
    signal: ctx.signal,
    deadlineMs: ctx.lookupRetryMs,
    initialMs: 250,
    maxMs: 5_000,
    onRetry: (err, attempt, waitMs) => {
      // Hundreds of lookups fail together in an outage: log one in a hundred.
      if (ctx.known.lookupRetries++ % 100 === 0)
        ctx.logger?.warn({ err, attempt, waitMs, lookup: what }, 'reading the log failed; retrying');
    },
  });
}

const FULL_STATE_EVENTS = new Set<EventType>([
  'ArticlePublished',
  'ArticleRevised',
  'BylineRegistered',
  'BylineUpdated',
  'ImageSubmitted',
]);

/** Events only an entity's first version has: after one of them, there is no earlier version. */
const FIRST_VERSION_EVENTS = new Set<EventType>(['ArticlePublished', 'BylineRegistered']);

const EXISTS_CACHE_LIMIT = 100_000;

/** The caches of a run against a log whose last sequence was `headSeq` at its start. */
export function createKnownEntities(headSeq: number): KnownEntities {
  return {
    assumeNew: headSeq === 0,
    touched: new Set(),
    seenInRun: new Set(),
    existsInLog: new Set(),
    overlay: new Map(),
    fakeSeq: headSeq,
    lookupRetries: 0,
  };
}

function rememberExists(known: KnownEntities, key: string): void {
  if (known.existsInLog.size >= EXISTS_CACHE_LIMIT) known.existsInLog.clear();
  known.existsInLog.add(key);
}

/** The entity's current state, and its history when reading it was needed anyway. */
export async function loadState(ctx: LookupContext, entry: Entry): Promise<void> {
  const { kind, id } = entry.record;
  const key = keyOf(kind, id);
  entry.history = undefined;
  entry.singleVersion = false;
  if (ctx.dryRun && ctx.known.overlay.has(key)) {
    entry.state = ctx.known.overlay.get(key);
    return;
  }
  const last = await readLog(ctx, `last event of ${key}`, () => ctx.log.lastEvent(kind, id));
  if (!last) {
    entry.state = undefined;
    return;
  }
  rememberExists(ctx.known, key);
  // A full-state event is the state; after any other (a retraction, an image's
  // processing result) fold the entity's history.
  if (FULL_STATE_EVENTS.has(last.event.type)) {
    entry.state = applyEvent(undefined, last.event, last.seq);
    entry.singleVersion = FIRST_VERSION_EVENTS.has(last.event.type);
    return;
  }
  entry.history = await readLog(ctx, `history of ${key}`, () => ctx.log.readEntity(kind, id));
  entry.state = foldEntity(entry.history);
}

/** Whether a referenced entity is known: seen in this run, cached, or (when `lookup`) in the log. */
export async function refExists(
  ctx: LookupContext,
  entityType: EntityType,
  id: string,
  lookup: boolean,
): Promise<boolean> {
  const key = keyOf(entityType, id);
  if (ctx.known.seenInRun.has(key) || ctx.known.existsInLog.has(key)) return true;
  if (!lookup) return false;
  const last = await readLog(ctx, `last event of ${key}`, () => ctx.log.lastEvent(entityType, id));
  if (last) rememberExists(ctx.known, key);
  return last !== undefined;
}

/** Whether the entry's state may be assumed empty rather than looked up (see `assumeNew`). */
export function mayAssumeNew(ctx: LookupContext, entry: Entry): boolean {
  const key = entryKey(entry);
  return ctx.known.assumeNew && !ctx.known.touched.has(key) && !(ctx.dryRun && ctx.known.overlay.has(key));
}

const TOUCHED_LIMIT = 1_000_000;

/** While assuming new, remember the entities these entries append to (they are looked up from now on). */
export function rememberAppends(known: KnownEntities, entries: readonly Entry[]): void {
  if (!known.assumeNew) return;
  for (const entry of entries) if (entry.decision?.action === 'append') known.touched.add(entryKey(entry));
  // Remembering every entity is what makes assuming safe and cheap; past the limit, look up.
  if (known.touched.size > TOUCHED_LIMIT) {
    known.assumeNew = false;
    known.touched.clear();
  }
}
