import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { generateArchive } from '../../ingest/generate.ts';
import { createIngester, type IngestStats } from '../../ingest/ingest.ts';
import { createBlobStore } from '../../log/blobStore.ts';
import { encodeEvent, positionOf } from '../../log/codec.ts';
import { createContentLog } from '../../log/contentLog.ts';
import type { ContentLog } from '../../log/types.ts';
import { createNames, type Names } from '../../schemas/names.ts';
import { type Measurement, measurement, secondsSince } from './measurement.ts';
import { rawPublish, type WireMessage } from './rawPublish.ts';
import { SERVER_WINDOW, type ServerPublishResult, serverPublish } from './serverCeiling.ts';

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
  /** Acks outstanding for the server ceiling (core publishes, default 1,000). */
  serverWindow?: number;
  seed?: number;
  /** Where the generated archives go (default the OS temp dir); removed at the end. */
  tempDir?: string;
  log?: Logger;
  signal?: AbortSignal;
}

/** One run of the ingest benchmark: settings, clients, its work folder and the scratch streams still to delete. */
interface IngestBenchRun {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  tag: string;
  batch: number;
  window: number;
  serverWindow: number;
  work: string;
  streams: Set<string>;
  signal?: AbortSignal;
}

interface RoundResult {
  stats: IngestStats;
  oursSeconds: number;
  rawSeconds: number;
  published: number;
  eventBytes: number;
  serverSeconds: number;
  serverAcks: ServerPublishResult;
}

/** What the two ceilings took for the events of one round. */
interface RepublishResult {
  rawSeconds: number;
  published: number;
  eventBytes: number;
  serverSeconds: number;
  serverAcks: ServerPublishResult;
}

/** A fresh scratch log `bench-<tag>-<suffix>`, remembered for deletion. */
async function scratch(run: IngestBenchRun, suffix: string): Promise<{ names: Names; log: ContentLog }> {
  const names = createNames(`bench-${run.tag}-${suffix}`);
  const log = createContentLog({ nc: run.nc, names, publishWindow: run.window });
  await log.init();
  run.streams.add(names.stream);
  return { names, log };
}

async function drop(run: IngestBenchRun, stream: string): Promise<void> {
  await run.jsm.streams.delete(stream).catch(() => {});
  run.streams.delete(stream);
}

/**
 * The same event bytes `from` holds, read back (untimed) and published in chunks (timed)
 * both ways: raw `js.publish` to `to`, and core publishes to `server` (the server's ceiling),
 * alternating which goes first.
 */
async function republishRaw(
  run: IngestBenchRun,
  from: ContentLog,
  to: Names,
  server: Names,
): Promise<RepublishResult> {
  const result: RepublishResult = {
    rawSeconds: 0,
    published: 0,
    eventBytes: 0,
    serverSeconds: 0,
    serverAcks: { acked: 0, failed: 0 },
  };
  let chunk: WireMessage[] = [];
  let serverChunk: WireMessage[] = [];
  let chunks = 0;
  const raw = async () => {
    const t = performance.now();
    await rawPublish(run.js, chunk, run.window);
    result.rawSeconds += secondsSince(t);
  };
  const core = async () => {
    const t = performance.now();
    const acks = await serverPublish(run.nc, serverChunk, run.serverWindow);
    result.serverSeconds += secondsSince(t);
    result.serverAcks.acked += acks.acked;
    result.serverAcks.failed += acks.failed;
    result.serverAcks.firstError ??= acks.firstError;
  };
  const flush = async () => {
    if (chunks++ % 2 === 0) {
      await raw();
      await core();
    } else {
      await core();
      await raw();
    }
    result.published += chunk.length;
    chunk = [];
    serverChunk = [];
  };
  for await (const item of from.replay({ signal: run.signal })) {
    if (item.kind !== 'event')
      throw new Error(`bench ingest: unreadable event at seq ${positionOf(item).seq}`);
    const { event } = item.stored;
    const bytes = encodeEvent(event);
    result.eventBytes += bytes.byteLength;
    chunk.push({ subject: to.subject(event.entityType, event.entityId), bytes, id: event.id });
    serverChunk.push({ subject: server.subject(event.entityType, event.entityId), bytes, id: event.id });
    if (chunk.length >= 5_000) await flush();
  }
  if (chunk.length > 0) await flush();
  return result;
}

/** One round: ingest an archive into a fresh log (timed), then publish its events raw (timed). */
async function ingestRound(run: IngestBenchRun, label: string, dir: string): Promise<RoundResult> {
  const ours = await scratch(run, `${label}-ours`);
  const raw = await scratch(run, `${label}-raw`);
  const server = await scratch(run, `${label}-srv`);
  const ingester = createIngester({
    log: ours.log,
    blobs: createBlobStore(join(run.work, 'blobs')),
    source: 'bench',
    batchSize: run.batch,
    tempDir: run.work,
  });
  const t = performance.now();
  const stats = await ingester.ingest([dir], { signal: run.signal });
  const oursSeconds = secondsSince(t);
  if (stats.rejected > 0 || stats.appended === 0) {
    throw new Error(`bench ingest: ${stats.appended} appended, ${stats.rejected} rejected`);
  }
  const rawRun = await republishRaw(run, ours.log, raw.names, server.names);
  if (rawRun.published !== stats.appended)
    throw new Error(`bench ingest: read back ${rawRun.published} of ${stats.appended} events`);
  await ours.log.close();
  await raw.log.close();
  await server.log.close();
  await drop(run, ours.names.stream);
  await drop(run, raw.names.stream);
  await drop(run, server.names.stream);
  return { stats, oursSeconds, ...rawRun };
}

/** The timed rounds, each on its own generated archive; their sums. */
async function ingestRounds(run: IngestBenchRun, options: IngestBenchOptions, rounds: number) {
  const total = options.records;
  const sum = {
    oursSeconds: 0,
    rawSeconds: 0,
    serverSeconds: 0,
    serverAcks: { acked: 0, failed: 0 } as ServerPublishResult,
    appended: 0,
    read: 0,
    inputBytes: 0,
    eventBytes: 0,
  };
  const perRound = Math.ceil(total / rounds);
  for (let r = 0; r < rounds; r++) {
    run.signal?.throwIfAborted();
    const records = Math.min(perRound, total - r * perRound);
    if (records <= 0) break;
    const dir = join(run.work, `round-${r}`);
    options.log?.info({ round: r + 1, rounds, records }, 'generating archive');
    const archive = await generateArchive({ dir, records, seed: (options.seed ?? 1) + r });
    options.log?.info({ round: r + 1, bytes: archive.bytes }, 'ingesting');
    const result = await ingestRound(run, `r${r}`, dir);
    await rm(dir, { recursive: true, force: true });
    sum.oursSeconds += result.oursSeconds;
    sum.rawSeconds += result.rawSeconds;
    sum.serverSeconds += result.serverSeconds;
    sum.serverAcks.acked += result.serverAcks.acked;
    sum.serverAcks.failed += result.serverAcks.failed;
    sum.serverAcks.firstError ??= result.serverAcks.firstError;
    sum.appended += result.stats.appended;
    sum.read += result.stats.read;
    sum.inputBytes += archive.bytes;
    sum.eventBytes += result.eventBytes;
    options.log?.info(
      {
        round: r + 1,
        oursPerSecond: Math.round(result.stats.appended / result.oursSeconds),
        rawPerSecond: Math.round(result.published / result.rawSeconds),
        serverPerSecond: Math.round(result.serverAcks.acked / result.serverSeconds),
      },
      'round done',
    );
  }
  return sum;
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
  const run: IngestBenchRun = {
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    tag: randomBytes(4).toString('hex'),
    batch,
    window,
    serverWindow: options.serverWindow ?? SERVER_WINDOW,
    work: await mkdtemp(join(options.tempDir ?? tmpdir(), 'presslog-bench-ingest-')),
    streams: new Set<string>(),
    signal,
  };
  try {
    // Warm-up (JIT, connection buffers, file store) outside the measurement.
    const warmDir = join(run.work, 'warm');
    await generateArchive({ dir: warmDir, records: Math.min(2_000, total), seed: 999 });
    await ingestRound(run, 'warm', warmDir);
    await rm(warmDir, { recursive: true, force: true });

    const { oursSeconds, rawSeconds, serverSeconds, serverAcks, appended, read, inputBytes, eventBytes } =
      await ingestRounds(run, options, rounds);
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
    // Ours needs CPU per record (parse, validate, hash, encode) where the ceiling needs almost none,
    // so a busy machine lowers the ratio: the load average belongs with the numbers.
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
    if (serverAcks.failed > 0) {
      options.log?.warn({ ...serverAcks }, 'server ceiling: some publishes were not acknowledged');
    }
    const serverNote = `ceiling (server): core publish of the same bytes with Nats-Msg-Id, ${run.serverWindow.toLocaleString('en-US')} acks in flight on one wildcard inbox, counting PubAcks only: ${serverAcks.acked.toLocaleString('en-US')} acked, ${serverAcks.failed} FAILED${serverAcks.firstError ? ` (first: ${serverAcks.firstError})` : ''}`;
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
      measurement(
        'ingest.server',
        'events/s',
        appended / oursSeconds,
        serverAcks.acked / serverSeconds,
        serverNote,
      ),
      measurement(
        'ingest.bytes.server',
        'MB/s',
        eventBytes / 1e6 / oursSeconds,
        ((eventBytes / 1e6) * (serverAcks.acked / appended)) / serverSeconds,
        'event bytes acknowledged per second by the server ceiling, same runs',
      ),
    ];
  } finally {
    for (const stream of [...run.streams]) await drop(run, stream);
    await rm(run.work, { recursive: true, force: true });
  }
}
