import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { jetstream } from '@nats-io/jetstream';
import { type ObjectStore, Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { bucketRead } from '../../log/contentLog/request.ts';
import { openObjectStore } from '../../log/stores.ts';
import type { LogHead } from '../../log/types.ts';
import type { Names, ProjectionName } from '../../schemas/names.ts';
import { type ProjectionState, restoreProjectionState, type StateRecord } from './projectionState.ts';

/** Bump when {@link StateRecord} or the meaning of the state changes: older snapshots are ignored. */
export const STATE_FORMAT = 1;

/** What a saved snapshot is: the state after applying the log up to `position`. */
export interface SnapshotInfo {
  name: string;
  position: number;
  /** The stream's creation time when the snapshot was taken (ISO). */
  streamCreated: string;
  format: number;
  records: number;
  bytes: number;
  savedAt: string;
}

/** A snapshot that was loaded, or why none was. */
export type LoadedSnapshot =
  | { state: ProjectionState; info: SnapshotInfo; ms: number }
  | { state?: undefined; reason: string };

export interface StateSnapshotStore {
  /**
   * Save the state under `name` (one per set of projections), replacing the one there.
   * The caller guarantees every document the state implies up to `state.position` is
   * written (its indexes' checkpoints are at or past it).
   */
  save(name: string, state: ProjectionState, head: Pick<LogHead, 'created'>): Promise<SnapshotInfo>;
  /**
   * Load the snapshot `name` if it can stand in for a replay: same stream, same format,
   * and at or before `maxPosition` (the lowest checkpoint of the indexes to be written:
   * events after it are applied again, so nothing the snapshot skips can be missing).
   * The state loaded is the caller's to close.
   */
  load(name: string, options: { maxPosition: number; head: LogHead }): Promise<LoadedSnapshot>;
  info(name: string): Promise<SnapshotInfo | undefined>;
  /**
   * The records of the snapshot `name` as saved, unchecked against the stream (a
   * partitioned rebuild's partition states, merged by its coordinator), with its
   * position; the object store's digest check fails the iteration when the data is bad.
   */
  readRecords(name: string): Promise<{ info: SnapshotInfo; records: AsyncIterable<StateRecord> }>;
  /** Delete the snapshot `name` (nothing when there is none). */
  remove(name: string): Promise<void>;
  /** Every snapshot saved (none when the bucket does not exist yet: listing creates nothing). */
  list(): Promise<SnapshotInfo[]>;
}

/** The snapshot name of a set of projections, e.g. `articles+bylines+images`. */
export function snapshotName(projections: readonly ProjectionName[]): string {
  return [...new Set(projections)].sort().join('+');
}

const CHUNK_BYTES = 1 << 20;

/**
 * A stream that makes a chunk only when the reader asks for one. `Readable.toWeb(
 * Readable.from(...))` read ahead into two queues of 16 chunks each: 30-60 MiB more
 * resident while a million-event state was saved (`presslog reindex`, the snapshot phase).
 */
function pulled(chunks: AsyncGenerator<Buffer>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Projection-state snapshots in the JetStream object store `<NS>_STATE`: what lets a live
 * projector start from where it stopped instead of replaying the whole log. A snapshot is
 * a cache of the log, never a source of truth: one that is missing, from another stream,
 * of an older format, or ahead of the indexes' checkpoints is ignored and the state is
 * rebuilt by replay, as before. The object store checks each object's digest on read.
 */
export function createStateSnapshotStore(options: {
  nc: NatsConnection;
  names: Names;
  logger?: Logger;
  /** Replicas of the object store when this process creates it (default 1). */
  replicas?: number;
}): StateSnapshotStore {
  const { nc, names } = options;
  const logger = options.logger?.child({ component: 'state-snapshots' });
  let bucket: Promise<ObjectStore> | undefined;
  const store = () => {
    bucket ??= openObjectStore(nc, names, 'state', options.replicas);
    bucket.catch(() => {
      bucket = undefined;
    });
    return bucket;
  };

  function infoOf(
    meta: Record<string, string> | undefined,
    name: string,
    size: number,
  ): SnapshotInfo | undefined {
    if (!meta?.position) return undefined;
    return {
      name,
      position: Number(meta.position),
      streamCreated: meta.streamCreated ?? '',
      format: Number(meta.format),
      records: Number(meta.records),
      bytes: size,
      savedAt: meta.savedAt ?? '',
    };
  }

  return {
    async info(name) {
      const found = await bucketRead(nc, async () => (await store()).info(name));
      return found && !found.deleted ? infoOf(found.metadata, name, found.size) : undefined;
    },

    async list() {
      let os: ObjectStore;
      try {
        os = await new Objm(jetstream(nc)).open(names.bucket('state'));
      } catch {
        return [];
      }
      const out: SnapshotInfo[] = [];
      for (const found of await bucketRead(nc, () => os.list())) {
        const info = found.deleted ? undefined : infoOf(found.metadata, found.name, found.size);
        if (info) out.push(info);
      }
      return out;
    },

    async save(name, state, head) {
      const started = Date.now();
      const counts = state.stats();
      const meta = {
        position: state.position,
        streamCreated: head.created?.toISOString() ?? '',
        format: STATE_FORMAT,
        records: counts.articles + counts.bylines + counts.images,
        savedAt: new Date().toISOString(),
      };
      async function* chunks(): AsyncGenerator<Buffer> {
        let lines: string[] = [];
        let size = 0;
        for (const record of state.records()) {
          const line = JSON.stringify(record);
          lines.push(line);
          size += line.length + 1;
          if (size >= CHUNK_BYTES) {
            yield Buffer.from(`${lines.join('\n')}\n`);
            lines = [];
            size = 0;
          }
        }
        if (lines.length > 0) yield Buffer.from(`${lines.join('\n')}\n`);
      }
      const os = await store();
      const stored = await os.put(
        { name, metadata: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)])) },
        pulled(chunks()),
      );
      const info: SnapshotInfo = { name, ...meta, bytes: stored.size };
      logger?.info({ ...info, ms: Date.now() - started }, 'saved the projection state');
      return info;
    },

    async readRecords(name) {
      const os = await store();
      const found = await bucketRead(nc, () => os.info(name));
      const info = found && !found.deleted ? infoOf(found.metadata, name, found.size) : undefined;
      const result = info && (await bucketRead(nc, () => os.get(name)));
      if (!info || !result) throw new Error(`state ${name} not found in ${names.bucket('state')}`);
      const lines = createInterface({
        input: Readable.fromWeb(result.data as WebReadableStream<Uint8Array>),
        crlfDelay: Number.POSITIVE_INFINITY,
      });
      async function* records(): AsyncGenerator<StateRecord> {
        for await (const line of lines) if (line) yield JSON.parse(line) as StateRecord;
        const error = await result!.error;
        if (error) throw error;
      }
      return { info, records: records() };
    },

    async remove(name) {
      const os = await store();
      await os.delete(name).catch(() => {});
    },

    async load(name, { maxPosition, head }) {
      const started = Date.now();
      const os = await store();
      const found = await bucketRead(nc, () => os.info(name));
      const info = found && !found.deleted ? infoOf(found.metadata, name, found.size) : undefined;
      if (!info) return { reason: 'no snapshot' };
      if (info.format !== STATE_FORMAT)
        return { reason: `snapshot format ${info.format}, not ${STATE_FORMAT}` };
      if (!head.created || info.streamCreated !== head.created.toISOString()) {
        return { reason: `snapshot of another stream (created ${info.streamCreated || 'unknown'})` };
      }
      if (info.position > head.lastSeq)
        return { reason: `snapshot at ${info.position} is past the head ${head.lastSeq}` };
      if (info.position > maxPosition) {
        return { reason: `snapshot at ${info.position} is ahead of the checkpoint ${maxPosition}` };
      }
      const result = await bucketRead(nc, () => os.get(name));
      if (!result) return { reason: 'snapshot vanished' };
      const lines = createInterface({
        input: Readable.fromWeb(result.data as WebReadableStream<Uint8Array>),
        crlfDelay: Number.POSITIVE_INFINITY,
      });
      async function* records(): AsyncGenerator<StateRecord> {
        for await (const line of lines) if (line) yield JSON.parse(line) as StateRecord;
      }
      const state = await restoreProjectionState(info.position, records());
      // A digest mismatch or a read cut short surfaces here, after the data.
      const error = await result.error;
      if (error) {
        state.close();
        throw error;
      }
      return { state, info, ms: Date.now() - started };
    },
  };
}
