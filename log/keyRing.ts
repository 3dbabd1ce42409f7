import { randomBytes } from 'node:crypto';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { type KV, type KvEntry, KvWatchInclude } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConfigError, ErasedItemError, PresslogError, TransientError } from '../schemas/errors.ts';
import type { EntityType, Names } from '../schemas/names.ts';
import { readUntil } from './async.ts';
import { isTransportError } from './contentLog/natsErrors.ts';
import { createPublisher, type Publisher } from './contentLog/publisher.ts';
import { bucketRead } from './contentLog/request.ts';
import { type DataKey, masterKeyCheck, newKey, newKeys, unwrapKey, wrapKey } from './crypto/sealing.ts';
import { createKeyPacks, PACK_ITEMS, PACK_PREFIX } from './keyPacks.ts';
import { openKv } from './stores.ts';

/** What the key ring knows about an item's data keys. */
export type ItemKeys =
  | { state: 'active'; gen: number; keys: Map<number, Uint8Array>; revision: number }
  | { state: 'erased' }
  | { state: 'none' };

/** The answer of a synchronous lookup: a key, a key that is gone for good, or not known here yet. */
export type KeyLookup = Uint8Array | 'erased' | 'missing' | undefined;

/**
 * The data keys of every item, envelope-encrypted under the master key, in the KV bucket
 * `<NS>_KEYS` (history 1: a rewritten or purged value keeps no older revision), in two
 * kinds of entries:
 *
 * - **Key packs**, `pack.<random id>`: the first-generation keys of the items an append
 *   batch creates (events appended expecting no earlier event of their item), up to
 *   {@link PACK_ITEMS} per pack, the whole pack wrapped under the master key. One write per
 *   batch instead of one per new item; each event names its pack (`sealed.pack`). Only one
 *   first event of an item can be stored (the server refuses the others), so the keys of
 *   a pack that no stored event names are never used.
 * - **Item entries**, `<entityType>.<id>`: the current generation and the wrapped keys of
 *   the generations still readable, for an item whose events are appended without that
 *   guarantee (a revision from another process, a redaction's next generation).
 *
 * Erasing an item removes it from every pack its events name (the pack rewritten without
 * it) and purges its entry (the purge marker is how every process learns that the item
 * was erased); a redaction removes it from its packs and rewrites its entry with only the
 * newest generation. Unwrapped keys are cached per process (bounded, least recently used
 * first out) so appends and replays cost about what they cost in plaintext.
 */
export interface KeyRing {
  /** The deployment's event-id key (see `keyedEventId`). */
  readonly idKey: Uint8Array;
  /**
   * A cached answer, synchronously: undefined when the item (or, with `pack`, the key
   * pack its event names) is not cached (call `load`).
   */
  lookup(entityType: EntityType, entityId: string, gen: number, pack?: string): KeyLookup;
  /** Load every item's keys into the cache (as far as it holds), before a long read. */
  preload(): Promise<void>;
  /** Read an item's entry (or, with `pack`, that key pack) into the cache. */
  load(entityType: EntityType, entityId: string, pack?: string): Promise<void>;
  /** The key new events of the item are sealed with, created on the item's first event. Throws ErasedItemError. */
  forAppend(entityType: EntityType, entityId: string): Promise<DataKey>;
  /**
   * Fresh first-generation keys for items whose first event is about to be appended
   * (expecting no earlier event), written in key packs: keyed `<entityType>.<id>`. None
   * for an item this process knows is erased.
   */
  createFirstKeys(
    items: ReadonlyArray<{ entityType: EntityType; entityId: string }>,
  ): Promise<Map<string, DataKey>>;
  /** Use a pack key for the item's later appends: its first event was stored sealed under it. */
  adopt(entityType: EntityType, entityId: string, key: DataKey): void;
  /** Start a new generation (kept beside the older ones until `dropBefore`). */
  rotateItem(entityType: EntityType, entityId: string): Promise<DataKey>;
  /** Forget every generation older than `gen` for good, from the entry and from the item's packs. */
  dropBefore(entityType: EntityType, entityId: string, gen: number, packs?: readonly string[]): Promise<void>;
  /**
   * Purge every key of the item for good: its entry and its keys in `packs` (every pack
   * its events name). Returns what the item's entry was before (`active` also when only
   * packs held its keys).
   */
  erase(entityType: EntityType, entityId: string, packs?: readonly string[]): Promise<ItemKeys['state']>;
  /** Re-wrap every data key under a new master key (rotation). Returns how many entries were rewritten. */
  rewrap(newMasterKey: Uint8Array): Promise<number>;
  /** Stop following the bucket's changes (also stopped when the connection closes). Idempotent. */
  close(): void;
}

/** Options of {@link openKeyRing}. */
export interface KeyRingOptions {
  nc: NatsConnection;
  names: Names;
  /** The 32-byte master key (see `loadMasterKey`). */
  masterKey: Uint8Array;
  /** Replicas of the keys bucket when it is created (default 1; give the log's). */
  replicas?: number;
  /** Items whose unwrapped keys stay cached (default 100,000: ~20 MB). */
  cacheSize?: number;
}

const MASTER_CHECK = '_master';
const ID_KEY = '_ids';
/**
 * How long a preload waits for its next entry before it stops (the consumer stalled; see
 * readUntil). The server delivers a batch in milliseconds when it delivers at all.
 */
const PRELOAD_IDLE_MS = 10_000;
interface StoredEntry {
  gen: number;
  keys: Record<string, string>;
}

const itemKey = (entityType: string, entityId: string) => `${entityType}.${entityId}`;

/** Open the keys bucket (creating it), check the master key against it and load the event-id key. */
export async function openKeyRing(options: KeyRingOptions): Promise<KeyRing> {
  const bucket = options.names.bucket('keys');
  const kv = await bucketRead(options.nc, () =>
    openKv(options.nc, options.names, 'keys', options.replicas ?? 1),
  );
  const js = jetstream(options.nc);
  let master = options.masterKey;
  await bucketRead(options.nc, () => checkMasterKey(kv, master, bucket));
  const idKey = await bucketRead(options.nc, () => sharedKey(kv, master, ID_KEY));
  const cacheSize = Math.max(1, options.cacheSize ?? 100_000);
  /** Items' entries. */
  const cache = new Map<string, ItemKeys>();
  const packs = createKeyPacks({ kv, nc: options.nc, master: () => master, cacheSize });
  /** First-generation pack keys this process created for items whose first event it stored. */
  const adopted = new Map<string, DataKey>();

  const remember = (k: string, keys: ItemKeys): ItemKeys => {
    cache.delete(k);
    cache.set(k, keys);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
    return keys;
  };
  const adopt = (k: string, key: DataKey) => {
    adopted.delete(k);
    adopted.set(k, key);
    if (adopted.size > cacheSize) adopted.delete(adopted.keys().next().value as string);
  };

  const fromEntry = (k: string, entry: Pick<KvEntry, 'operation' | 'json' | 'revision'> | null): ItemKeys => {
    if (!entry) return remember(k, { state: 'none' });
    if (entry.operation !== 'PUT') return remember(k, { state: 'erased' });
    const stored = entry.json<StoredEntry>();
    const keys = new Map<number, Uint8Array>();
    for (const [gen, wrapped] of Object.entries(stored.keys))
      keys.set(Number(gen), unwrapKey(master, `${k}.${gen}`, wrapped));
    return remember(k, { state: 'active', gen: stored.gen, keys, revision: entry.revision });
  };
  const read = async (entityType: string, entityId: string): Promise<ItemKeys> => {
    const k = itemKey(entityType, entityId);
    return fromEntry(k, await bucketRead(options.nc, () => kv.get(k)));
  };

  // Every change to the bucket made by another process reaches this cache: an erasure (a
  // purge) or a redaction (a rewritten entry, a rewritten pack) in another process would
  // otherwise leave a long-running one (a worker, a projector) sealing new events of an
  // erased item under its cached key, or opening redacted versions with cached keys.
  // Headers only: a changed entry or pack is dropped from the cache and read again when
  // needed, so no process receives every pack another one writes.
  const watcher = await bucketRead(options.nc, () =>
    kv.watch({ include: KvWatchInclude.UpdatesOnly, headers_only: true }),
  );
  void (async () => {
    for await (const entry of watcher) {
      if (entry.key.startsWith('_')) continue;
      if (entry.key.startsWith(PACK_PREFIX)) {
        const id = entry.key.slice(PACK_PREFIX.length);
        if ((packs.get(id)?.revision ?? Number.MAX_SAFE_INTEGER) < entry.revision) packs.forget(id);
        continue;
      }
      adopted.delete(entry.key);
      if (entry.operation !== 'PUT') remember(entry.key, { state: 'erased' });
      else {
        const cached = cache.get(entry.key);
        if (cached?.state !== 'active' || cached.revision < entry.revision) cache.delete(entry.key);
      }
    }
  })().catch(() => {});

  // New entries go through the content log's publisher (core publishes, one reply inbox):
  // a new item's key is one publish, and `js.publish` spent ~100 µs of CPU on each (a timer
  // and two Error objects per request), a third of a sealed append's client CPU when every
  // event is a new item. It lives as long as the connection (closed with it).
  let publisher: Promise<Publisher> | undefined;
  const publish = (subject: string, value: string) => {
    publisher ??= createPublisher(options.nc, { timeoutMs: 10_000 });
    return publisher.then((p) =>
      p.publish({
        subject,
        bytes: Buffer.from(value),
        // Resends of this write (after a reconnect) are recognised; another write is not.
        msgId: randomBytes(12).toString('base64url'),
        expectedLastSubjectSequence: 0,
      }),
    );
  };

  const write = async (
    entityType: string,
    entityId: string,
    keys: Map<number, Uint8Array>,
    gen: number,
    revision?: number,
  ) => {
    const k = itemKey(entityType, entityId);
    const stored: StoredEntry = { gen, keys: {} };
    for (const [g, key] of keys) stored.keys[String(g)] = wrapKey(master, `${k}.${g}`, key);
    const value = JSON.stringify(stored);
    // A new entry is published expecting no message at all on its key, not with `create`:
    // create succeeds over a purge marker, and so would give an erased item keys again.
    const next =
      revision === undefined
        ? (await publish(`$KV.${bucket}.${k}`, value)).seq
        : await kv.update(k, value, revision);
    remember(k, { state: 'active', gen, keys, revision: next });
  };

  /** Write, and when another process won the race, read what it wrote. */
  const writeOrReread = async (
    entityType: EntityType,
    entityId: string,
    keys: Map<number, Uint8Array>,
    gen: number,
    revision?: number,
  ): Promise<ItemKeys> => {
    try {
      await write(entityType, entityId, keys, gen, revision);
      return cache.get(itemKey(entityType, entityId))!;
    } catch (err) {
      // Created or changed meanwhile by another process, or erased: what is there wins.
      const found = await read(entityType, entityId);
      // Nothing there and the write timed out (a fail-over): retry later, it is no verdict.
      if (found.state === 'none' && isTransportError(err)) {
        cache.delete(itemKey(entityType, entityId));
        throw new TransientError(
          `creating the keys of ${entityType} ${entityId}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      return found;
    }
  };

  const activeOrThrow = (entityType: EntityType, entityId: string, keys: ItemKeys) => {
    if (keys.state === 'erased') throw new ErasedItemError(entityType, entityId);
    // Neither there nor erased after a write: the write failed (a server not answering,
    // a stream electing its leader). No verdict on the event: retry it later.
    if (keys.state !== 'active')
      throw new TransientError(`the keys of ${entityType} ${entityId} could not be created`);
    return keys;
  };

  return {
    idKey,
    close() {
      watcher.stop();
    },
    lookup(entityType, entityId, gen, pack) {
      const keys = cache.get(itemKey(entityType, entityId));
      if (keys?.state === 'erased') return 'erased';
      if (pack !== undefined) {
        const found = packs.get(pack);
        if (!found) return undefined;
        // Not in its pack (any more): erased, or a redacted first generation.
        return found.keys.get(itemKey(entityType, entityId)) ?? 'erased';
      }
      if (!keys) return undefined;
      if (keys.state === 'none') return 'missing';
      // A generation below the current one that is gone was redacted; above it, not known yet.
      return keys.keys.get(gen) ?? (gen < keys.gen ? 'erased' : undefined);
    },
    async load(entityType, entityId, pack) {
      if (pack === undefined) {
        await read(entityType, entityId);
        return;
      }
      // No such pack: the lookup still answers undefined, and the reader reports the event
      // unreadable (no key for it): a lost keys bucket, not something a reload fixes.
      await packs.read(pack);
    },
    async preload() {
      // Every entry's last value through one consumer, instead of one get per item (or
      // pack) as a replay meets them: what makes a sealed replay cost about a plaintext one.
      // An ordered pull consumer over the bucket's stream: ~6x the rate of a KV watch (a
      // push consumer) measured on 10,000 keys. Every message in order rather than the last
      // per key: the bucket keeps one revision per key (history 1), so they are the same
      // set, without the server working out the last per subject (20,000 keys: 550-700 ms
      // against 900-1,200 ms); with more revisions the later one still wins here.
      const stream = `KV_${bucket}`;
      const prefix = `$KV.${bucket}.`;
      const consumer = await bucketRead(options.nc, () =>
        js.consumers.get(stream, {
          deliver_policy: DeliverPolicy.All,
          filter_subjects: `${prefix}>`,
        }),
      );
      try {
        const total = (await consumer.info(true)).num_pending;
        if (total === 0) return;
        const messages = await consumer.consume({ max_messages: 1024 });
        let read = 0;
        let loaded = 0;
        // Up to the last entry there was when it started: entries written later, or not
        // delivered within PRELOAD_IDLE_MS, are read per item when a replay meets them.
        await readUntil(messages, PRELOAD_IDLE_MS, (m) => {
          const k = m.subject.slice(prefix.length);
          const operation = (m.headers?.get('KV-Operation') || 'PUT') as KvEntry['operation'];
          if (k.startsWith(PACK_PREFIX)) {
            const id = k.slice(PACK_PREFIX.length);
            if (operation !== 'PUT') packs.forget(id);
            else if (packs.hasRoom())
              packs.remember(id, { revision: m.seq, keys: packs.open(k, m.string()) });
          } else if (!k.startsWith('_') && loaded++ < cacheSize) {
            fromEntry(k, { operation, revision: m.seq, json: <T>() => m.json<T>() });
          }
          return ++read >= total || m.info.pending === 0;
        });
        await messages.close();
      } finally {
        await consumer.delete().catch(() => {});
      }
    },
    async forAppend(entityType, entityId) {
      const k = itemKey(entityType, entityId);
      let keys = cache.get(k);
      if (keys?.state !== 'active' && keys?.state !== 'erased') {
        const first = adopted.get(k);
        if (first) return first;
      }
      // Not cached: try to create it (one request for a new item); a failure means it exists or was erased.
      if (keys?.state !== 'active')
        keys = await writeOrReread(entityType, entityId, new Map([[1, newKey()]]), 1);
      const active = activeOrThrow(entityType, entityId, keys);
      return { gen: active.gen, key: active.keys.get(active.gen)! };
    },
    async createFirstKeys(items) {
      const created = new Map<string, DataKey>();
      const writes: Promise<void>[] = [];
      const open = items
        .map(({ entityType, entityId }) => itemKey(entityType, entityId))
        .filter((k) => cache.get(k)?.state !== 'erased');
      for (let i = 0; i < open.length; i += PACK_ITEMS) {
        const id = randomBytes(12).toString('base64url');
        const chunk = open.slice(i, i + PACK_ITEMS);
        const fresh = newKeys(chunk.length);
        const keys = new Map<string, Uint8Array>(chunk.map((k, j) => [k, fresh[j]!]));
        const name = `${PACK_PREFIX}${id}`;
        writes.push(
          publish(`$KV.${bucket}.${name}`, packs.wrap(name, keys)).then((ack) => {
            packs.remember(id, { revision: ack.seq, keys });
            for (const [k, key] of keys) created.set(k, { gen: 1, key, pack: id });
          }),
        );
      }
      try {
        await Promise.all(writes);
      } catch (err) {
        throw isTransportError(err)
          ? new TransientError(`writing a key pack: ${(err as Error).message}`, { cause: err })
          : err;
      }
      return created;
    },
    adopt(entityType, entityId, key) {
      adopt(itemKey(entityType, entityId), key);
    },
    async rotateItem(entityType, entityId) {
      const k = itemKey(entityType, entityId);
      adopted.delete(k);
      const keys = await read(entityType, entityId);
      if (keys.state === 'erased') throw new ErasedItemError(entityType, entityId);
      // Only a key pack holds its (first-generation) key: its entry starts at the second.
      const gen = keys.state === 'active' ? keys.gen + 1 : 2;
      const next = new Map(keys.state === 'active' ? keys.keys : []).set(gen, newKey());
      await write(entityType, entityId, next, gen, keys.state === 'active' ? keys.revision : undefined);
      return { gen, key: next.get(gen)! };
    },
    async dropBefore(entityType, entityId, gen, packIds = []) {
      const k = itemKey(entityType, entityId);
      adopted.delete(k);
      // Pack keys are first generations: every one of them is older than the new one.
      if (gen > 1) await packs.removeItem(k, packIds);
      const keys = activeOrThrow(entityType, entityId, await read(entityType, entityId));
      const kept = new Map([...keys.keys].filter(([g]) => g >= gen));
      if (kept.size === keys.keys.size) return;
      await write(entityType, entityId, kept, keys.gen, keys.revision);
    },
    async erase(entityType, entityId, packIds = []) {
      const k = itemKey(entityType, entityId);
      adopted.delete(k);
      await packs.removeItem(k, packIds);
      const before = await read(entityType, entityId);
      if (before.state === 'erased') return 'erased';
      await kv.purge(k);
      remember(k, { state: 'erased' });
      return before.state === 'none' && packIds.length > 0 ? 'active' : before.state;
    },
    async rewrap(newMasterKey) {
      let count = 0;
      const names = await kv.keys();
      const all: string[] = [];
      for await (const name of names) all.push(name);
      for (const k of all) {
        if (k === MASTER_CHECK) continue;
        const entry = await kv.get(k);
        if (entry?.operation !== 'PUT') continue;
        if (k === ID_KEY || k.startsWith(PACK_PREFIX)) {
          const value = unwrapKey(master, k, entry.string());
          await kv.update(k, wrapKey(newMasterKey, k, value), entry.revision);
        } else {
          const stored = entry.json<StoredEntry>();
          for (const [gen, wrapped] of Object.entries(stored.keys))
            stored.keys[gen] = wrapKey(
              newMasterKey,
              `${k}.${gen}`,
              unwrapKey(master, `${k}.${gen}`, wrapped),
            );
          await kv.update(k, JSON.stringify(stored), entry.revision);
        }
        count++;
      }
      await kv.put(MASTER_CHECK, masterKeyCheck(newMasterKey));
      master = newMasterKey;
      cache.clear();
      packs.clear();
      adopted.clear();
      return count;
    },
  };
}

/** The bucket records which master key made it; a process given another one stops here. */
async function checkMasterKey(kv: KV, masterKey: Uint8Array, bucket: string): Promise<void> {
  const check = masterKeyCheck(masterKey);
  let entry = await kv.get(MASTER_CHECK);
  if (entry?.operation !== 'PUT') {
    try {
      await kv.create(MASTER_CHECK, check);
    } catch {
      // Another process created it first: compare with its value below.
    }
    entry = await kv.get(MASTER_CHECK);
  }
  if (entry?.string() !== check) {
    throw new ConfigError(
      'PRESSLOG_MASTER_KEY_FILE',
      `this master key is not the one the keys bucket ${bucket} was made with: restore the right key file from its backup (without it the content cannot be read)`,
    );
  }
}

/** A deployment-wide key kept wrapped in the bucket, created by the first process that asks. */
async function sharedKey(kv: KV, masterKey: Uint8Array, name: string): Promise<Uint8Array> {
  let entry = await kv.get(name);
  if (entry?.operation !== 'PUT') {
    try {
      await kv.create(name, wrapKey(masterKey, name, newKey()));
    } catch {
      // Created by another process first.
    }
    entry = await kv.get(name);
  }
  if (entry?.operation !== 'PUT') throw new PresslogError(`the key ${name} could not be created or read`);
  return unwrapKey(masterKey, name, entry.string());
}
