import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names, ProjectionName } from '../schemas/names.ts';
import { sleep } from './async.ts';
import { openKv } from './stores.ts';

/**
 * Where a projection's index stands in the log. Kept per index (not per projection), so a
 * new index being built by a reindex has its own checkpoint and never fights the live one.
 */
export interface Checkpoint {
  /** The index this checkpoint belongs to. */
  index: string;
  projection: ProjectionName;
  /** Last stream sequence whose effects Elasticsearch acknowledged: resume after it. */
  seq: number;
  /** Highest sequence whose effects are also visible to searches (refreshed); ≤ `seq`. */
  visibleSeq: number;
  /** Stored time of the event at `seq` (for lag in seconds), when known. */
  time?: string;
  /** When the checkpoint was written. */
  updatedAt: string;
}

/** Which index a projection's alias points at, as recorded by whoever last moved it. */
export interface AliasPointer {
  projection: ProjectionName;
  index: string;
  /** When the alias was moved there. */
  since: string;
}

/** Result of {@link CheckpointStore.waitForSeq}. */
export interface WaitResult {
  /** True when the projection's searchable index reflects the sequence. */
  reached: boolean;
  /** The visible sequence last seen (0 when the projection has no checkpoint yet). */
  visibleSeq: number;
  /** The index the alias pointed at when last checked. */
  index?: string;
}

export interface WaitOptions {
  /** Give up after this long (default 5 s). */
  timeoutMs?: number;
  /** How often to look (default 20 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

/** Checkpoints and alias pointers of the projections, in the JetStream KV bucket `<NS>_CHECKPOINTS`. */
export interface CheckpointStore {
  get(index: string): Promise<Checkpoint | undefined>;
  put(checkpoint: Checkpoint): Promise<void>;
  delete(index: string): Promise<void>;
  /** Which index the projection's alias points at (undefined before the first projection). */
  pointer(projection: ProjectionName): Promise<AliasPointer | undefined>;
  setPointer(pointer: AliasPointer): Promise<void>;
  /** The checkpoint of the index the projection's alias currently points at. */
  current(projection: ProjectionName): Promise<Checkpoint | undefined>;
  /**
   * Read-your-writes: wait until the projection's searchable index reflects stream
   * sequence `seq` (its checkpoint's `visibleSeq` reached it), at most `timeoutMs`.
   * Follows an alias swap that happens during the wait.
   */
  waitForSeq(projection: ProjectionName, seq: number, options?: WaitOptions): Promise<WaitResult>;
  /** The KV bucket itself, for watchers. */
  bucket(): Promise<KV>;
  /** Idempotent. Does not close the connection (it is the caller's). */
  close(): Promise<void>;
}

export interface CheckpointStoreOptions {
  /** An open connection; the store never closes it. */
  nc: NatsConnection;
  names: Names;
  /** Replicas of the bucket when this call creates it (default 1). */
  replicas?: number;
}

/**
 * Keys of the checkpoint bucket: a checkpoint under its index's name, and per projection
 * its alias pointer and its live projector's health under these prefixes. Index names
 * never contain a dot, so the three never collide. Built only here.
 */
const POINTER_PREFIX = 'alias.';
const HEALTH_PREFIX = 'health.';

/** The KV key of the alias pointer of a projection. */
export function pointerKey(projection: ProjectionName): string {
  return `${POINTER_PREFIX}${projection}`;
}

/** The KV key filter matching the alias pointers of every projection (for a watcher). */
export function pointerKeyFilter(): string {
  return `${POINTER_PREFIX}*`;
}

/** The KV key of a live projector's health (a `ProjectorHealth`, written by the projector for `status`). */
export function healthKey(projection: ProjectionName): string {
  return `${HEALTH_PREFIX}${projection}`;
}

/**
 * Create the checkpoint store over the KV bucket `names.bucket('checkpoints')` (created
 * on first use). Readers such as the search API use {@link CheckpointStore.waitForSeq};
 * the projectors write.
 */
export function createCheckpointStore(options: CheckpointStoreOptions): CheckpointStore {
  let opening: Promise<KV> | undefined;
  let closed = false;

  function bucket(): Promise<KV> {
    if (closed) return Promise.reject(new Error('the checkpoint store is closed'));
    if (!opening) {
      opening = openKv(options.nc, options.names, 'checkpoints', options.replicas);
      opening.catch(() => {
        opening = undefined;
      });
    }
    return opening;
  }

  async function read<T>(key: string): Promise<T | undefined> {
    const kv = await bucket();
    const entry = await kv.get(key);
    if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<T>();
  }

  async function get(index: string): Promise<Checkpoint | undefined> {
    return read<Checkpoint>(index);
  }

  async function pointer(projection: ProjectionName): Promise<AliasPointer | undefined> {
    return read<AliasPointer>(pointerKey(projection));
  }

  async function current(projection: ProjectionName): Promise<Checkpoint | undefined> {
    const target = await pointer(projection);
    return target ? get(target.index) : undefined;
  }

  return {
    get,
    async put(checkpoint) {
      const kv = await bucket();
      await kv.put(checkpoint.index, JSON.stringify(checkpoint));
    },
    async delete(index) {
      const kv = await bucket();
      await kv.delete(index);
    },
    pointer,
    async setPointer(value) {
      const kv = await bucket();
      await kv.put(pointerKey(value.projection), JSON.stringify(value));
    },
    current,
    async waitForSeq(projection, seq, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 5_000;
      const pollMs = waitOptions.pollMs ?? 20;
      const deadline = Date.now() + timeoutMs;
      let last: WaitResult = { reached: false, visibleSeq: 0 };
      for (;;) {
        const target = await pointer(projection);
        const checkpoint = target ? await get(target.index) : undefined;
        last = {
          reached: (checkpoint?.visibleSeq ?? 0) >= seq,
          visibleSeq: checkpoint?.visibleSeq ?? 0,
          index: target?.index,
        };
        if (last.reached || Date.now() >= deadline) return last;
        await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())), waitOptions.signal);
      }
    },
    bucket,
    async close() {
      closed = true;
    },
  };
}
