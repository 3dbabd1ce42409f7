import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { generateArchive } from '../../ingest/generate.ts';
import { createIngester } from '../../ingest/ingest.ts';
import { createBlobStore } from '../../log/blobStore.ts';
import { encodeEvent } from '../../log/codec.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { createNames } from '../../schemas/names.ts';
import { type Measurement, measurement } from './measurement.ts';

export interface IngestBenchOptions {
  nc: NatsConnection;
  /** Records in all (default 100,000), split evenly over the rounds. */
  records: number;
  /** Each round ingests its own generated archive into a fresh log, then publishes the same events raw (default 4). */
  rounds?: number;
  /** The ingester's batch size (default 1000). */
  batch?: number;
  /** Raw publishes in flight for the ceiling (default 512, the content log's own window). */
  window?: number;
  seed?: number;
  /** Where the generated archives go (default the OS temp dir); removed at the end. */
  tempDir?: string;
  log?: Logger;
  signal?: AbortSignal;
}

interface Wire {
  subject: string;
  bytes: Uint8Array;
  id: string;
}

async function rawPublish(js: JetStreamClient, messages: readonly Wire[], window: number): Promise<void> {
  const inflight: Promise<unknown>[] = [];
  let head = 0;
  for (const m of messages) {
    if (inflight.length - head >= window) await inflight[head++];
    inflight.push(js.publish(m.subject, m.bytes, { msgID: m.id }));
  }
  for (let i = head; i < inflight.length; i++) await inflight[i];
}

/**
 * `presslog bench ingest`: generate archives of realistic records (articles with 2-20 KB
 * bodies, 5% bylines, 5% revisions, a few retractions), ingest each into a fresh scratch
 * log through the whole pipeline (read files, validate, map, append), and next to it,
 * in the same run on the same connection, publish the very event bytes that ingest
 * appended raw (pipelined `js.publish` with the same `Nats-Msg-Id`) into a scratch
 * stream of the same configuration: the ceiling. Rounds interleave ours and raw so
 * background load hits both. Scratch streams and files are deleted at the end.
 */
export async function runIngestBench(options: IngestBenchOptions): Promise<Measurement[]> {
  const { nc, signal } = options;
  const total = options.records;
  const rounds = Math.max(1, Math.min(options.rounds ?? 4, total));
  const batch = options.batch ?? 1000;
  const window = options.window ?? 512;
  const tag = randomBytes(4).toString('hex');
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const work = await mkdtemp(join(options.tempDir ?? tmpdir(), 'presslog-bench-ingest-'));
  const streams = new Set<string>();
  const scratch = async (suffix: string) => {
    const names = createNames(`bench-${tag}-${suffix}`);
    const log = createContentLog({ nc, names, publishWindow: window });
    await log.init();
    streams.add(names.stream);
    return { names, log };
  };
  const drop = async (stream: string) => {
    await jsm.streams.delete(stream).catch(() => {});
    streams.delete(stream);
  };

  try {
    /** One round: ingest an archive into a fresh log (timed), then publish its events raw (timed). */
    const round = async (label: string, dir: string) => {
      const ours = await scratch(`${label}-ours`);
      const raw = await scratch(`${label}-raw`);
      const ingester = createIngester({
        log: ours.log,
        blobs: createBlobStore(join(work, 'blobs')),
        source: 'bench',
        batchSize: batch,
        tempDir: work,
      });
      let t = performance.now();
      const stats = await ingester.ingest([dir], { signal });
      const oursSeconds = (performance.now() - t) / 1000;
      if (stats.rejected > 0 || stats.appended === 0) {
        throw new Error(`bench ingest: ${stats.appended} appended, ${stats.rejected} rejected`);
      }
      // The same event bytes, read back (untimed) and published raw (timed) in chunks.
      let rawSeconds = 0;
      let published = 0;
      let eventBytes = 0;
      let chunk: Wire[] = [];
      const flush = async () => {
        t = performance.now();
        await rawPublish(js, chunk, window);
        rawSeconds += (performance.now() - t) / 1000;
        published += chunk.length;
        chunk = [];
      };
      for await (const item of ours.log.replay({ signal })) {
        if (item.kind !== 'event')
          throw new Error(`bench ingest: unreadable event at seq ${item.unreadable.seq}`);
        const { event } = item.stored;
        const bytes = encodeEvent(event);
        eventBytes += bytes.byteLength;
        chunk.push({ subject: raw.names.subject(event.entityType, event.entityId), bytes, id: event.id });
        if (chunk.length >= 5_000) await flush();
      }
      if (chunk.length > 0) await flush();
      if (published !== stats.appended)
        throw new Error(`bench ingest: read back ${published} of ${stats.appended} events`);
      await ours.log.close();
      await raw.log.close();
      await drop(ours.names.stream);
      await drop(raw.names.stream);
      return { stats, oursSeconds, rawSeconds, published, eventBytes };
    };

    // Warm-up (JIT, connection buffers, file store) outside the measurement.
    const warmDir = join(work, 'warm');
    await generateArchive({ dir: warmDir, records: Math.min(2_000, total), seed: 999 });
    await round('warm', warmDir);
    await rm(warmDir, { recursive: true, force: true });

    let oursSeconds = 0;
    let rawSeconds = 0;
    let appended = 0;
    let read = 0;
    let inputBytes = 0;
    let eventBytes = 0;
    const perRound = Math.ceil(total / rounds);
    for (let r = 0; r < rounds; r++) {
      signal?.throwIfAborted();
      const records = Math.min(perRound, total - r * perRound);
      if (records <= 0) break;
      const dir = join(work, `round-${r}`);
      options.log?.info({ round: r + 1, rounds, records }, 'generating archive');
      const archive = await generateArchive({ dir, records, seed: (options.seed ?? 1) + r });
      options.log?.info({ round: r + 1, bytes: archive.bytes }, 'ingesting');
      const result = await round(`r${r}`, dir);
      await rm(dir, { recursive: true, force: true });
      oursSeconds += result.oursSeconds;
      rawSeconds += result.rawSeconds;
      appended += result.stats.appended;
      read += result.stats.read;
      inputBytes += archive.bytes;
      eventBytes += result.eventBytes;
      options.log?.info(
        {
          round: r + 1,
          oursPerSecond: Math.round(result.stats.appended / result.oursSeconds),
          rawPerSecond: Math.round(result.published / result.rawSeconds),
        },
        'round done',
      );
    }
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
    // Ours needs CPU per record (parse, validate, hash, encode) where the ceiling needs almost none,
    // so a busy machine lowers the ratio: the load average belongs with the numbers.
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
    const setup = `load average ${load}; ${read.toLocaleString('en-US')} records (${mb(inputBytes)} NDJSON, ${mb(eventBytes)} of events, ${Math.round(eventBytes / appended)} B avg) in ${rounds} round(s); batch ${batch}, ${window} in flight`;
    return [
      measurement(
        'ingest',
        'events/s',
        appended / oursSeconds,
        appended / rawSeconds,
        `${setup}; ours: files → validate → map → append; ceiling: raw js.publish of the same event bytes with Nats-Msg-Id`,
      ),
      measurement(
        'ingest.bytes',
        'MB/s',
        eventBytes / 1e6 / oursSeconds,
        eventBytes / 1e6 / rawSeconds,
        'event bytes appended per second, same runs',
      ),
    ];
  } finally {
    for (const stream of [...streams]) await drop(stream);
    await rm(work, { recursive: true, force: true });
  }
}
