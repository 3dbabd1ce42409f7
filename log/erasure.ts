import { CATALOG, type ContentEvent } from '../schemas/catalog.ts';
import { ERASURE_TYPES, type ErasureFields } from '../schemas/erasureEvents.ts';
import { InvalidRecordError, PresslogError } from '../schemas/errors.ts';
import { deriveEventId } from '../schemas/eventId.ts';
import type { EntityType } from '../schemas/names.ts';
import type { KeyRing } from './keyRing.ts';
import type { ContentLog, ErasedEvent, StoredEvent } from './types.ts';

/** What to erase and the record to leave. */
export interface EraseRequest extends ErasureFields {
  entityType: EntityType;
  id: string;
  /** The erasure's time (default now). */
  now?: Date;
}

/** What an erasure did. */
export interface ErasureResult {
  entityType: EntityType;
  id: string;
  /** `erased` by this call, `already` erased before (nothing changed but the downstream purge). */
  status: 'erased' | 'already';
  /** Sequence of the erasure record. */
  seq: number;
  /** Blobs an erased image's events referenced (original and renditions), for deletion. */
  blobDigests: string[];
  /** Messages of the item whose content is now unreadable. */
  erasedMessages: number;
}

const isErasure = (event: ContentEvent) => event.type === ERASURE_TYPES[event.entityType];

/** Every key pack the item's events name (normally one: its first event's). */
function keyPacksOf(events: readonly StoredEvent[], erased: readonly ErasedEvent[]): string[] {
  const packs = new Set<string>();
  for (const e of [...events, ...erased]) if (e.keyPack) packs.add(e.keyPack);
  return [...packs];
}

/** Every blob an image's events reference. */
function blobDigestsOf(events: readonly StoredEvent[]): string[] {
  const digests = new Set<string>();
  for (const { event } of events) {
    if (event.type === 'ImageSubmitted') digests.add(event.payload.original.digest);
    if (event.type === 'ImageUpdated' && event.payload.original) digests.add(event.payload.original.digest);
    if (event.type === 'ImageProcessed') {
      digests.add(event.payload.original);
      for (const r of event.payload.renditions) digests.add(r.digest);
    }
  }
  return [...digests];
}

/**
 * Erase an item from the log (crypto-shredding): read what must be cleaned downstream
 * (an image's blobs), purge the item's keys for good, then append the erasure record.
 * Idempotent: run again after any failure, it completes what is missing; an item already
 * erased answers `already`. An id the log has never seen is an InvalidRecordError.
 */
export async function eraseItem(
  log: ContentLog,
  keys: KeyRing,
  request: EraseRequest,
): Promise<ErasureResult> {
  const { entityType, id } = request;
  const erased: ErasedEvent[] = [];
  const events = await log.readEntity(entityType, id, { onErased: (e) => erased.push(e) });
  if (events.length === 0 && erased.length === 0)
    throw new InvalidRecordError(`no ${entityType} ${JSON.stringify(id)} in the log: nothing to erase`, {
      field: 'id',
    });
  const recorded = events.find((s) => isErasure(s.event));
  const blobDigests = blobDigestsOf(events);
  await keys.erase(entityType, id, keyPacksOf(events, erased));
  const base = {
    entityType,
    id,
    blobDigests,
    erasedMessages: events.length + erased.length - (recorded ? 1 : 0),
  };
  if (recorded) return { ...base, status: 'already', seq: recorded.seq };
  const lastSeq = Math.max(0, ...events.map((s) => s.seq), ...erased.map((e) => e.seq));
  const payload: ErasureFields = {
    actor: request.actor,
    reason: request.reason,
    ...(request.ticket ? { ticket: request.ticket } : {}),
    ...(request.publicNote ? { publicNote: request.publicNote } : {}),
  };
  const type = ERASURE_TYPES[entityType];
  const at = (request.now ?? new Date()).toISOString();
  const event = {
    id: deriveEventId({ type, entityType, entityId: id, payload, basisSeq: lastSeq }),
    type,
    version: CATALOG[type].current,
    entityType,
    entityId: id,
    occurredAt: at,
    recordedAt: at,
    source: `erase:${request.actor}`.slice(0, 200),
    payload,
  } as unknown as ContentEvent;
  const stats = await log.append([{ event, expectedLastSeq: lastSeq }]);
  const outcome = stats.outcomes[0]!;
  if (outcome.status === 'appended' || outcome.status === 'duplicate')
    return { ...base, status: 'erased', seq: outcome.seq };
  if (outcome.status === 'conflict') {
    // Another event (a concurrent erase, a writer) came in between: decide again.
    return eraseItem(log, keys, request);
  }
  throw new PresslogError(
    `the erasure of ${entityType} ${id} could not be recorded: ${outcome.error.message}`,
    {
      cause: outcome.error,
    },
  );
}

/** What a redaction did. */
export interface RedactionResult {
  id: string;
  /** Sequence of the restated current version (its new generation's first event). */
  seq: number;
  /** Earlier messages of the article whose content is now unreadable. */
  erasedMessages: number;
}

/**
 * Redact an article's history (`erase article <id> --history-only`): start a new key
 * generation, append the redaction record and the current version restated under the new
 * key, then drop the older generations for good. Every earlier version becomes
 * unreadable; the current one stays published and searchable. Running it again redacts
 * again (harmless: one more restatement).
 */
export async function eraseHistory(
  log: ContentLog,
  keys: KeyRing,
  request: Omit<EraseRequest, 'entityType'>,
): Promise<RedactionResult> {
  const { id } = request;
  const erased: ErasedEvent[] = [];
  const events = await log.readEntity('article', id, { onErased: (e) => erased.push(e) });
  const last = events.at(-1);
  if (!last)
    throw new InvalidRecordError(`no readable article ${JSON.stringify(id)} in the log: nothing to redact`, {
      field: 'id',
    });
  if (last.event.type !== 'ArticlePublished' && last.event.type !== 'ArticleRevised')
    throw new InvalidRecordError(
      `article ${id}: its last event is ${last.event.type}; only a published article's history can be redacted (erase the whole article instead)`,
      { field: 'id' },
    );
  const next = await keys.rotateItem('article', id);
  const at = (request.now ?? new Date()).toISOString();
  const payload: ErasureFields = {
    actor: request.actor,
    reason: request.reason,
    ...(request.ticket ? { ticket: request.ticket } : {}),
    ...(request.publicNote ? { publicNote: request.publicNote } : {}),
  };
  const envelope = { version: 1, entityType: 'article', entityId: id, occurredAt: at, recordedAt: at };
  const source = `erase:${request.actor}`.slice(0, 200);
  const record = {
    ...envelope,
    id: deriveEventId({
      type: 'ArticleHistoryErased',
      entityType: 'article',
      entityId: id,
      payload,
      basisSeq: last.seq,
    }),
    type: 'ArticleHistoryErased',
    source,
    payload,
  } as unknown as ContentEvent;
  const restated = {
    ...envelope,
    version: CATALOG.ArticleRevised.current,
    id: deriveEventId({
      type: 'ArticleRevised',
      entityType: 'article',
      entityId: id,
      payload: { generation: next.gen, fields: last.event.payload },
      basisSeq: last.seq,
    }),
    type: 'ArticleRevised',
    occurredAt: last.event.occurredAt,
    source,
    payload: last.event.payload,
  } as unknown as ContentEvent;
  const stats = await log.append([
    { event: record, expectedLastSeq: last.seq },
    { event: restated, expectedLastSeq: last.seq },
  ]);
  const failed = stats.outcomes.find((o) => o.status !== 'appended' && o.status !== 'duplicate');
  if (failed && 'error' in failed)
    throw new PresslogError(`the redaction of article ${id} could not be appended: ${failed.error.message}`, {
      cause: failed.error,
    });
  await keys.dropBefore('article', id, next.gen, keyPacksOf(events, erased));
  return { id, seq: stats.lastSeq, erasedMessages: events.length + erased.length };
}
