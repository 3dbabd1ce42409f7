import type { StoredEvent } from '../log/types.ts';

/** One entry of an entity's audit trail as the API returns it. */
export interface HistoryEntry {
  /** Stream sequence: the event's place in the whole log. */
  seq: number;
  /** When the log stored it. */
  storedAt: string;
  eventId: string;
  type: string;
  /** Current schema version (after upcasting) and the version it was stored in. */
  version: number;
  storedVersion: number;
  occurredAt: string;
  recordedAt: string;
  source: string;
  correlationId: string | null;
  /** Payload fields that differ from the previous event of the same entity that carried them. */
  changed: string[];
  /** The payload; an article body is replaced by its length unless the full history was asked for. */
  payload: Record<string, unknown>;
}

export interface History {
  entityType: string;
  id: string;
  events: HistoryEntry[];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Shape an entity's stored events for readers. Article events carry the whole article,
 * so `changed` (which fields differ from the previous full state) is what tells a reader
 * what a revision did; the body itself (up to hundreds of KB per revision) is left out
 * unless `full` is set.
 */
export function toHistory(
  entityType: string,
  id: string,
  events: readonly StoredEvent[],
  options: { full?: boolean } = {},
): History {
  let previous: Record<string, unknown> | undefined;
  const out: HistoryEntry[] = events.map((stored) => {
    const event = stored.event;
    const payload = { ...(event.payload as Record<string, unknown>) };
    const keys = new Set([...Object.keys(payload), ...Object.keys(previous ?? {})]);
    const fullState = event.type === 'ArticlePublished' || event.type === 'ArticleRevised';
    const changed = fullState
      ? previous === undefined
        ? Object.keys(payload)
        : [...keys].filter((k) => !same(payload[k], previous?.[k]))
      : Object.keys(payload);
    if (fullState) previous = { ...payload };
    if (!options.full && typeof payload.body === 'string') {
      payload.bodyChars = payload.body.length;
      delete payload.body;
    }
    return {
      seq: stored.seq,
      storedAt: stored.time.toISOString(),
      eventId: event.id,
      type: event.type,
      version: event.version,
      storedVersion: stored.storedVersion,
      occurredAt: event.occurredAt,
      recordedAt: event.recordedAt,
      source: event.source,
      correlationId: event.correlationId ?? null,
      changed,
      payload,
    };
  });
  return { entityType, id, events: out };
}
