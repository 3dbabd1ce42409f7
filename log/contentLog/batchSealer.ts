import type { ContentEvent } from '../../schemas/catalog.ts';
import { PresslogError } from '../../schemas/errors.ts';
import { isEntityType, isValidId } from '../../schemas/names.ts';
import { mapLimit } from '../async.ts';
import { PLAINTEXT_TYPES, sealEvent } from '../crypto/sealedCodec.ts';
import type { DataKey } from '../crypto/sealing.ts';
import type { KeyRing } from '../keyRing.ts';
import type { AppendItem } from '../types.ts';

/** Seals the events of one append batch: the keys of its items fetched up front, in parallel. */
export interface BatchSealer {
  /** The stored id and bytes of a validated event; throws (e.g. ErasedItemError) when its item has no usable key. */
  seal(event: ContentEvent): { id: string; bytes: Uint8Array };
}

/** Requests to the keys bucket in flight at once while a batch's keys are fetched. */
const KEY_FETCHES = 512;

/**
 * Fetch (or create) the data key of every item in the batch before anything is sent, so
 * the publishing loop stays synchronous per event: one keys-bucket request per item not
 * already cached, none for items whose keys are.
 */
export async function createBatchSealer(keys: KeyRing, items: readonly AppendItem[]): Promise<BatchSealer> {
  const wanted = new Map<string, { entityType: ContentEvent['entityType']; entityId: string }>();
  for (const { event } of items) {
    const raw = event as { type?: unknown; entityType?: unknown; entityId?: unknown };
    // An erasure record is stored plain and must not create keys for the item it erases.
    if (typeof raw?.type === 'string' && PLAINTEXT_TYPES.has(raw.type)) continue;
    if (typeof raw?.entityType !== 'string' || !isEntityType(raw.entityType)) continue;
    if (typeof raw.entityId !== 'string' || !isValidId(raw.entityId)) continue;
    wanted.set(`${raw.entityType}.${raw.entityId}`, { entityType: raw.entityType, entityId: raw.entityId });
  }
  const found = new Map<string, DataKey | Error>();
  await mapLimit([...wanted], KEY_FETCHES, async ([k, { entityType, entityId }]) => {
    try {
      found.set(k, await keys.forAppend(entityType, entityId));
    } catch (err) {
      found.set(k, err as Error);
    }
  });
  return {
    seal(event) {
      if (PLAINTEXT_TYPES.has(event.type)) return sealEvent(event, undefined, keys.idKey);
      const key = found.get(`${event.entityType}.${event.entityId}`);
      if (key instanceof Error) throw key;
      if (key === undefined)
        throw new PresslogError(`no data key was fetched for ${event.entityType} ${event.entityId}`);
      return sealEvent(event, key, keys.idKey);
    },
  };
}
