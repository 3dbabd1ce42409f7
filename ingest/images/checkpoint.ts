/** Where the dispatcher keeps the sequence up to which every image event is handled. */
export interface CheckpointStore {
  get(): Promise<number>;
  set(seq: number): Promise<void>;
}

/** The subset of ioredis the checkpoint needs. */
export interface KeyValueClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
}

/** A checkpoint in one Redis key, e.g. `<ns>:images:checkpoint` (next to the queue it feeds). */
export function createRedisCheckpoint(redis: KeyValueClient, key: string): CheckpointStore {
  return {
    async get() {
      const raw = await redis.get(key);
      const seq = raw === null ? 0 : Number(raw);
      return Number.isSafeInteger(seq) && seq >= 0 ? seq : 0;
    },
    async set(seq) {
      await redis.set(key, String(seq));
    },
  };
}

/** The Redis key of a namespace's dispatcher checkpoint. */
export function checkpointKey(redisPrefix: string): string {
  return `${redisPrefix}:images:checkpoint`;
}
