import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { isTransportError } from './contentLog/natsErrors.ts';
import { bucketRead } from './contentLog/request.ts';
import { unwrapKey, wrapKey } from './crypto/sealing.ts';

/** Key packs' entries are `pack.<id>` (no entity type is called `pack`). */
export const PACK_PREFIX = 'pack.';
/**
 * Items per key pack: ~60-240 bytes each once wrapped (ids of up to 128 characters),
 * which keeps a pack well under NATS's default 1 MiB message.
 */
export const PACK_ITEMS = 2000;

/** A key pack as cached: its revision (for the watch) and its items' first-generation keys. */
export interface Pack {
  revision: number;
  /** `<entityType>.<id>` → the item's first-generation data key. */
  keys: Map<string, Uint8Array>;
}

/**
 * The key packs of one keys bucket as a process holds them (see `KeyRing`): a cache bounded
 * by the items its packs hold, least recently used first out, and the packs' reads and
 * rewrites. A pack is wrapped whole under the master key, bound to its entry's name.
 */
export interface KeyPacks {
  get(id: string): Pack | undefined;
  remember(id: string, pack: Pack): void;
  forget(id: string): void;
  clear(): void;
  /** Whether the cache holds fewer items than its bound (a preload stops adding past it). */
  hasRoom(): boolean;
  /** A pack's keys from its entry's value (`name` is the entry's key, `pack.<id>`). */
  open(name: string, wrapped: string): Map<string, Uint8Array>;
  /** The entry value of a pack holding `keys`. */
  wrap(name: string, keys: Map<string, Uint8Array>): string;
  /** Read a pack into the cache; undefined when the bucket has no such pack. */
  read(id: string): Promise<Pack | undefined>;
  /** Rewrite each pack without the item's key (compare-and-set: a concurrent rewrite is read again). */
  removeItem(itemKey: string, ids: readonly string[]): Promise<void>;
}

export function createKeyPacks(options: {
  kv: KV;
  nc: NatsConnection;
  /** The current master key (it changes when the ring re-wraps). */
  master: () => Uint8Array;
  cacheSize: number;
}): KeyPacks {
  const { kv, nc, master, cacheSize } = options;
  const packs = new Map<string, Pack>();
  let packed = 0;

  const forget = (id: string) => {
    const pack = packs.get(id);
    if (!pack) return;
    packs.delete(id);
    packed -= pack.keys.size;
  };
  const remember = (id: string, pack: Pack) => {
    forget(id);
    packs.set(id, pack);
    packed += pack.keys.size;
    while (packed > cacheSize && packs.size > 1) forget(packs.keys().next().value as string);
  };
  const open = (name: string, wrapped: string): Map<string, Uint8Array> => {
    const items = JSON.parse(unwrapKey(master(), name, wrapped).toString('utf8')) as Record<string, string>;
    const keys = new Map<string, Uint8Array>();
    for (const [k, key] of Object.entries(items)) keys.set(k, Buffer.from(key, 'base64'));
    return keys;
  };
  const wrap = (name: string, keys: Map<string, Uint8Array>): string => {
    const items: Record<string, string> = {};
    for (const [k, key] of keys) items[k] = Buffer.from(key).toString('base64');
    return wrapKey(master(), name, Buffer.from(JSON.stringify(items)));
  };
  const read = async (id: string): Promise<Pack | undefined> => {
    const name = `${PACK_PREFIX}${id}`;
    const entry = await bucketRead(nc, () => kv.get(name));
    if (entry?.operation !== 'PUT') return undefined;
    const pack = { revision: entry.revision, keys: open(name, entry.string()) };
    remember(id, pack);
    return pack;
  };

  return {
    get: (id) => packs.get(id),
    remember,
    forget,
    clear() {
      packs.clear();
      packed = 0;
    },
    hasRoom: () => packed < cacheSize,
    open,
    wrap,
    read,
    async removeItem(itemKey, ids) {
      for (const id of new Set(ids)) {
        const name = `${PACK_PREFIX}${id}`;
        for (;;) {
          const pack = await read(id);
          if (!pack?.keys.has(itemKey)) break;
          const kept = new Map(pack.keys);
          kept.delete(itemKey);
          try {
            remember(id, { revision: await kv.update(name, wrap(name, kept), pack.revision), keys: kept });
            break;
          } catch (err) {
            if (isTransportError(err)) throw err;
            // Rewritten by another erasure meanwhile: read it again.
          }
        }
      }
    },
  };
}
