import type { ContentEvent } from '../../schemas/catalog.ts';
import { ErasedItemError, PresslogError } from '../../schemas/errors.ts';
import { type EntityType, isEntityType, isValidId } from '../../schemas/names.ts';
import { mapLimit } from '../async.ts';
import { PLAINTEXT_TYPES, sealEvent } from '../crypto/sealedCodec.ts';
import type { DataKey } from '../crypto/sealing.ts';
import type { KeyRing } from '../keyRing.ts';
import type { AppendItem, AppendOutcome } from '../types.ts';

/** Seals the events of one append batch: the keys of its items fetched or created up front. */
export interface BatchSealer {
  /** The stored id and bytes of a validated event; throws (e.g. ErasedItemError) when its item has no usable key. */
  seal(event: ContentEvent): { id: string; bytes: Uint8Array };
  /** After the batch: the items whose first event was stored under a new pack key keep using it. */
  settle(outcomes: readonly AppendOutcome[]): void;
}

/** Requests to the keys bucket in flight at once while a batch's keys are fetched. */
const KEY_FETCHES = 512;

interface Wanted {
  entityType: EntityType;
  entityId: string;
  /** Index of the item's first event in the batch. */
  first: number;
  /** Its first event expects no earlier event of the item: the item is new, or the event is refused. */
  isNew: boolean;
}

/**
 * Fetch or create the data key of every item in the batch before anything is sent, so
 * the publishing loop stays synchronous per event. Items whose first event in the batch
 * is appended expecting no earlier event (ingest's new items) get fresh keys written
 * together in key packs, one write per `PACK_ITEMS` (log/keyPacks.ts) of them: the server stores that
 * event only if the item has none, so exactly one pack key of an item is ever used. Other
 * items take their cached key, or one keys-bucket request each.
 */
export async function createBatchSealer(keys: KeyRing, items: readonly AppendItem[]): Promise<BatchSealer> {
  const wanted = new Map<string, Wanted>();
  items.forEach(({ event, expectedLastSeq }, index) => {
    const raw = event as { type?: unknown; entityType?: unknown; entityId?: unknown };
    // An erasure record is stored plain and must not create keys for the item it erases.
    if (typeof raw?.type === 'string' && PLAINTEXT_TYPES.has(raw.type)) return;
    if (typeof raw?.entityType !== 'string' || !isEntityType(raw.entityType)) return;
    if (typeof raw.entityId !== 'string' || !isValidId(raw.entityId)) return;
    const k = `${raw.entityType}.${raw.entityId}`;
    if (!wanted.has(k))
      wanted.set(k, {
        entityType: raw.entityType,
        entityId: raw.entityId,
        first: index,
        isNew: expectedLastSeq === 0,
      });
  });
  const found = new Map<string, DataKey | Error>();
  const fresh = [...wanted].filter(([, w]) => w.isNew);
  if (fresh.length > 0) {
    try {
      const created = await keys.createFirstKeys(fresh.map(([, w]) => w));
      for (const [k, { entityType, entityId }] of fresh)
        found.set(k, created.get(k) ?? new ErasedItemError(entityType, entityId));
    } catch (err) {
      for (const [k] of fresh) found.set(k, err as Error);
    }
  }
  await mapLimit(
    [...wanted].filter(([, w]) => !w.isNew),
    KEY_FETCHES,
    async ([k, { entityType, entityId }]) => {
      try {
        found.set(k, await keys.forAppend(entityType, entityId));
      } catch (err) {
        found.set(k, err as Error);
      }
    },
  );
  return {
    seal(event) {
      if (PLAINTEXT_TYPES.has(event.type)) return sealEvent(event, undefined, keys.idKey);
      const key = found.get(`${event.entityType}.${event.entityId}`);
      if (key instanceof Error) throw key;
      if (key === undefined)
        throw new PresslogError(`no data key was fetched for ${event.entityType} ${event.entityId}`);
      return sealEvent(event, key, keys.idKey);
    },
    settle(outcomes) {
      for (const [k, { entityType, entityId, first, isNew }] of wanted) {
        const key = found.get(k);
        // Only a stored first event makes a pack key the item's: a refused one (the item
        // existed) or a duplicate (stored earlier, under another key) leaves it unused.
        if (isNew && key && !(key instanceof Error) && outcomes[first]?.status === 'appended')
          keys.adopt(entityType, entityId, key);
      }
    },
  };
}
