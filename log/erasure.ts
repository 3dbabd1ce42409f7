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
  await keys.erase(entityType, id);
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
