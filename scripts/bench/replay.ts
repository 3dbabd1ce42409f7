import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Client } from '@elastic/elasticsearch';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { createRandom } from '../../ingest/generate.ts';
import { createCheckpointStore } from '../../log/checkpoints.ts';
import { createContentLog } from '../../log/contentLog.ts';
import type { ContentLog } from '../../log/types.ts';
import { applyLiveSettings, createProjectionIndex, deleteIndexes } from '../../projectors/indexes.ts';
import { openLeaseBucket } from '../../projectors/lease.ts';
import { createProjector } from '../../projectors/live/projector.ts';
import { PROJECTIONS } from '../../projectors/projections.ts';
import type { ReindexReport } from '../../projectors/rebuild/reindex.ts';
import { createStateSnapshotStore } from '../../projectors/state/stateSnapshots.ts';
import { createBulkBodyPool, encodeBulkBody } from '../../projectors/write/bulkBody.ts';
import { sendBulk } from '../../projectors/write/bulkWriter.ts';
import { createDeadLetterStore } from '../../projectors/write/deadLetters.ts';
import { retryingEs } from '../../projectors/write/esRetry.ts';
import type { ArticleFields } from '../../schemas/articleEvents.ts';
import type { ContentEvent, EventOf, EventType } from '../../schemas/catalog.ts';
import type { Config } from '../../schemas/config.ts';
import { deriveEventId } from '../../schemas/eventId.ts';
import { createNames, type Names, PROJECTION_NAMES } from '../../schemas/names.ts';
import { PACKAGE_ROOT } from '../packageRoot.ts';
import { type Measurement, measurement } from './measurement.ts';

export interface ReplayBenchOptions {
  config: Config;
  nc: NatsConnection;
  es: Client;
  /** Events in the generated log. */
  events: number;
  /** Article body size range in bytes (default 2-20 KiB). */
  bodyBytes?: readonly [number, number];
  /** Single appends timed for append → searchable (default 1000; 0 skips). */
  latencySamples?: number;
  /** Alternating rounds of ours and the ceiling; the best of each counts (default 2). */
  rounds?: number;
  /** Keep the benchmark's stream and indexes (default: delete them). */
  keepData?: boolean;
  log?: Logger;
  signal?: AbortSignal;
}

/** Extra facts of a run, printed with the table and in `--json` as a last line. */
export interface ReplayBenchDetails {
  namespace: string;
  events: number;
  logBytes: number;
  buildSeconds: number;
  reindex: Pick<
    ReindexReport,
    'durationMs' | 'phasesMs' | 'docsWritten' | 'peakRssBytes' | 'peakRssByPhase' | 'state' | 'seq'
  >;
  ceilingSeconds: number;
  /** The ceiling's load while the same process reads the whole log from NATS (best round). */
  ceilingWithReadSeconds: number;
  /** Every round's time: ours, the ceiling, and the ceiling while reading the log. */
  runs: { ours: number[]; ceiling: number[]; ceilingWithRead: number[] };
  /**
   * CPU seconds of every round: the reindex process and Elasticsearch during ours; the
   * loading client and Elasticsearch during the ceiling. On a shared machine this says
   * who the time went to.
   */
  cpu: {
    ours: number[];
    oursEs: number[];
    ceiling: number[];
    ceilingEs: number[];
    ceilingWithRead: number[];
    ceilingWithReadEs: number[];
  };
  finalDocs: number;
}

const WORDS = (
  'the of and to in a is that for it as was with be by on not he this are or his from at which but have ' +
  'council budget election harbour minister railway strike weather market court school hospital bridge river ' +
  'mayor parliament senate treaty harvest factory museum festival storm vote report inquiry tariff shipping ' +
  'committee policy reform union workers farmers merchants citizens officials witnesses evidence statement'
).split(' ');

/**
 * A realistic log, generated lazily: 1% bylines and 4% images up front, then articles
 * (2-20 KB bodies, 1-2 bylines, a third with an image) mixed with revisions (8%),
 * image processing results (4%), caption updates (1%), byline renames (0.5%) and
 * retractions (0.5%). Deterministic for a given count.
 */
function* benchLog(count: number, bodyBytes: readonly [number, number]): Generator<ContentEvent> {
  const random = createRandom(count);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const text = (bytes: number) => {
    const parts: string[] = [];
    let size = 0;
    while (size < bytes) {
      const word = pick(WORDS);
      parts.push(word);
      size += word.length + 1;
    }
    return parts.join(' ');
  };
  let clock = Date.parse('1851-09-18T00:00:00Z');
  let n = 0;
  const event = <T extends EventType>(
    type: T,
    entityId: string,
    payload: EventOf<T>['payload'],
  ): EventOf<T> => {
    const entityType = type.startsWith('Article')
      ? 'article'
      : type.startsWith('Byline')
        ? 'byline'
        : 'image';
    clock += 3_600_000;
    const time = new Date(clock).toISOString();
    return {
      id: deriveEventId({ type, entityType, entityId, payload, basisSeq: ++n }),
      type,
      version: type === 'ArticlePublished' || type === 'ArticleRevised' ? 2 : 1,
      entityType,
      entityId,
      occurredAt: time,
      recordedAt: time,
      source: 'bench',
      payload,
    } as EventOf<T>;
  };
  const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
  const bylines = Math.max(5, Math.round(count * 0.01));
  const images = Math.max(5, Math.round(count * 0.04));
  const articles: { id: string; bylineIds: string[]; imageIds: string[] }[] = [];
  const articleFields = (a: (typeof articles)[number]): ArticleFields => ({
    headline: text(40 + Math.floor(random() * 60)),
    body: text(bodyBytes[0] + Math.floor(random() * (bodyBytes[1] - bodyBytes[0]))),
    section: pick(['politics', 'business', 'local', 'world', 'culture']),
    publishedAt: new Date(clock).toISOString(),
    bylineIds: a.bylineIds,
    imageIds: a.imageIds,
    tags: [pick(['economy', 'transport', 'courts', 'labour', 'trade'])],
  });
  let emitted = 0;
  for (let b = 0; b < bylines && emitted < count; b++, emitted++) {
    yield event('BylineRegistered', `b-${b}`, {
      name: `${pick(['Ada', 'Ben', 'Clara', 'Edith'])} ${text(8)}`,
    });
  }
  for (let i = 0; i < images && emitted < count; i++, emitted++) {
    yield event('ImageSubmitted', `img-${i}`, {
      caption: text(60),
      credit: `Photo ${pick(['Archer', 'Baker'])}`,
      fileName: `img-${i}.jpg`,
      original: { digest: digest(i + 1), bytes: 200_000, mediaType: 'image/jpeg' },
    });
  }
  for (; emitted < count; emitted++) {
    const r = random();
    if (articles.length > 10 && r < 0.08) {
      const a = pick(articles);
      yield event('ArticleRevised', a.id, articleFields(a));
    } else if (articles.length > 10 && r < 0.085) {
      yield event('ArticleRetracted', pick(articles).id, { reason: 'bench' });
    } else if (r < 0.09) {
      yield event('BylineUpdated', `b-${Math.floor(random() * bylines)}`, { name: `Renamed ${text(10)}` });
    } else if (r < 0.13) {
      const i = Math.floor(random() * images);
      yield event('ImageProcessed', `img-${i}`, {
        original: digest(i + 1),
        width: 4000,
        height: 3000,
        format: 'jpeg',
        hasAlpha: false,
        dominantColor: '#336699',
        placeholder: `data:image/webp;base64,${'A'.repeat(400)}`,
        renditions: ['thumbnail', 'medium', 'webp'].map((name, k) => ({
          name,
          digest: digest(i * 4 + k + 10_000_000),
          bytes: 10_000 * (k + 1),
          mediaType: name === 'webp' ? 'image/webp' : 'image/jpeg',
          width: 320 * (k + 1),
          height: 240 * (k + 1),
        })),
      });
    } else if (r < 0.14) {
      yield event('ImageUpdated', `img-${Math.floor(random() * images)}`, {
        caption: text(60),
        credit: 'Updated credit',
      });
    } else {
      const a = {
        id: `a-${articles.length}`,
        bylineIds: [
          ...new Set([
            `b-${Math.floor(random() * bylines)}`,
            ...(random() < 0.3 ? [`b-${Math.floor(random() * bylines)}`] : []),
          ]),
        ],
        imageIds: random() < 0.33 ? [`img-${Math.floor(random() * images)}`] : [],
      };
      articles.push(a);
      yield event('ArticlePublished', a.id, articleFields(a));
    }
  }
}

/**
 * Node options for the reindex process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to
 * profile it (Node refuses `--cpu-prof` in NODE_OPTIONS).
 */
const nodeOptions = process.env.PRESSLOG_BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];

function runCliJson<T>(args: string[], env: Record<string, string>, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions, 'bin/presslog.js', '--json', ...args], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        return reject(new Error(`presslog ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch (err) {
        reject(
          new Error(
            `presslog ${args.join(' ')} printed no JSON: ${(err as Error).message}\n${stdout.slice(-500)}`,
          ),
        );
      }
    });
  });
}

/** Export the final documents of the projections to an NDJSON bulk file (action + source lines). */
async function exportDocs(
  es: Client,
  names: Names,
  file: string,
  target: Record<string, string>,
): Promise<number> {
  const out = createWriteStream(file);
  let count = 0;
  for (const projection of PROJECTION_NAMES) {
    let response = await es.search({
      index: names.alias(projection),
      scroll: '5m',
      size: 1000,
      query: { match_all: {} },
    });
    while (response.hits.hits.length > 0) {
      for (const hit of response.hits.hits) {
        const line = `${JSON.stringify({ index: { _index: target[projection], _id: hit._id } })}\n${JSON.stringify(hit._source)}\n`;
        if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
        count++;
      }
      response = await es.scroll({ scroll_id: response._scroll_id!, scroll: '5m' });
    }
    if (response._scroll_id) await es.clearScroll({ scroll_id: response._scroll_id }).catch(() => {});
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return count;
}

/** CPU seconds Elasticsearch's processes have used so far (all nodes). */
async function esCpuSeconds(es: Client): Promise<number> {
  const stats = await es.nodes.stats({ metric: 'process' });
  let ms = 0;
  for (const node of Object.values(stats.nodes)) ms += node.process?.cpu?.total_in_millis ?? 0;
  return ms / 1000;
}

/**
 * The ceiling: the same final documents bulk-loaded straight into fresh indexes with the
 * same client, the same index settings (bulk mode, then live settings and a refresh), the
 * same request size (1000 documents or 8 MiB) and the same requests in flight (3).
 */
async function ceilingLoad(es: Client, file: string, indexes: string[]): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let lines: string[] = [];
  let bytes = 0;
  let docs = 0;
  const bodies = createBulkBodyPool();
  const send = async (batch: string[]) => {
    // The same request the projectors' bulk writer sends.
    const body = encodeBulkBody(batch, bodies);
    const response = await sendBulk(es, body, { requestTimeout: 120_000 }).finally(() => bodies.give(body));
    if (response.errors)
      throw new Error(
        `ceiling bulk had errors: ${JSON.stringify(response.items.find((i) => Object.values(i)[0]?.error))}`,
      );
  };
  const flush = async () => {
    if (lines.length === 0) return;
    const batch = lines;
    lines = [];
    bytes = 0;
    docs = 0;
    while (inflight.size >= 3) await Promise.race(inflight);
    const p = send(batch).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const reader = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let pending: string | undefined;
  for await (const line of reader) {
    if (pending === undefined) {
      pending = line;
      continue;
    }
    lines.push(pending, line);
    bytes += pending.length + line.length + 2;
    docs++;
    pending = undefined;
    if (docs >= 1000 || bytes >= 8 * 1024 * 1024) await flush();
  }
  await flush();
  await Promise.all(inflight);
  for (const index of indexes) await applyLiveSettings(es, index);
  await es.indices.refresh({ index: indexes.join(',') });
}

/**
 * Read every message of the content stream, in order, through an ordered consumer (the
 * client and pull size a replay uses) and do nothing with it: what moving the log out of
 * NATS costs on this machine, in nats-server and in the reading process.
 */
async function readWholeLog(nc: NatsConnection, stream: string, lastSeq: number): Promise<number> {
  if (lastSeq === 0) return 0;
  const consumer = await jetstream(nc).consumers.get(stream, { opt_start_seq: 1 });
  let bytes = 0;
  try {
    const messages = await consumer.consume({ max_messages: 512, expires: 10_000 });
    for await (const m of messages) {
      bytes += m.data.length;
      if (m.info.streamSequence >= lastSeq || m.info.pending === 0) break;
    }
    await messages.close();
  } finally {
    await consumer.delete().catch(() => {});
  }
  return bytes;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Append → searchable, one append at a time, with a live projector running. */
async function measureLatency(
  options: ReplayBenchOptions,
  names: Names,
  log: ContentLog,
  samples: number,
): Promise<{ ours: number[]; ceiling: number[]; startupSeconds: number; replaySeconds: number }> {
  const { nc, es } = options;
  const checkpoints = createCheckpointStore({ nc, names });
  const leaseBucket = await openLeaseBucket(nc, names);
  const controller = new AbortController();
  const projector = createProjector({
    log,
    client: es,
    checkpoints,
    leaseBucket,
    deadLetters: createDeadLetterStore({ client: es, names }),
    names,
    projections: PROJECTION_NAMES,
    // The reindex before left its state here, as `presslog reindex` does.
    snapshots: createStateSnapshotStore({ nc, names, logger: options.log }),
    idlePollMs: 10,
    batchDelayMs: 50,
    logger: options.log,
    onCaughtUp: () => {
      caughtUpAt ??= performance.now();
    },
  });
  let caughtUpAt: number | undefined;
  // The projector's start: restore its state from the snapshot the reindex saved (or,
  // without one, replay the whole log, writing nothing: its checkpoints are at the head).
  const startup = performance.now();
  const running = projector.run({ signal: controller.signal });
  const ours: number[] = [];
  let startupSeconds = 0;
  const ceiling: number[] = [];
  const alias = names.alias('articles');
  // The ceiling writes into the same live index (behind the alias), under ids no event
  // uses, so it pays the refresh and the search of the index ours is found in (at 1M,
  // ~800,000 documents), not of an empty one. Its documents are deleted after.
  const ceilingIds: string[] = [];
  const searchable = async (index: string, id: string, seq: number, started: number) => {
    for (;;) {
      const response = await retryingEs(() =>
        es.count({
          index,
          query: { bool: { filter: [{ ids: { values: [id] } }, { term: { 'lineage.asOfSeq': seq } }] } },
        }),
      );
      if (response.count > 0) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  try {
    // Let the projector start and catch up before timing anything.
    const head = await log.head();
    options.log?.debug(
      { head: head.lastSeq },
      'waiting for the live projector to restore or rebuild its state',
    );
    while (caughtUpAt === undefined) {
      options.signal?.throwIfAborted();
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 5))]);
    }
    startupSeconds = (caughtUpAt! - startup) / 1000;
    for (let i = 0; i < samples; i++) {
      options.signal?.throwIfAborted();
      const id = `latency-${i}`;
      const time = new Date().toISOString();
      const payload: ArticleFields = {
        headline: `Latency probe ${i}`,
        body: 'A short article appended on its own to time how soon it can be found.',
        publishedAt: time,
        bylineIds: ['b-0'],
        imageIds: [],
        tags: [],
      };
      const event = {
        id: deriveEventId({
          type: 'ArticlePublished',
          entityType: 'article',
          entityId: id,
          payload,
          basisSeq: 0,
        }),
        type: 'ArticlePublished',
        version: 2,
        entityType: 'article',
        entityId: id,
        occurredAt: time,
        recordedAt: time,
        source: 'bench',
        payload,
      } as EventOf<'ArticlePublished'>;
      const started = performance.now();
      const stats = await log.append([{ event }]);
      ours.push(await searchable(alias, id, stats.lastSeq, started));
      // Ceiling: the same document written straight to Elasticsearch, then found the same way
      // (an index request followed by a refresh: the fastest way to make it searchable).
      const direct = performance.now();
      const ceilingId = `latency-ceiling-${i}`;
      ceilingIds.push(ceilingId);
      const doc = {
        id: ceilingId,
        headline: payload.headline,
        body: payload.body,
        publishedAt: time,
        year: 2000,
        tags: [],
        bylines: [],
        images: [],
        revisions: 1,
        updatedAt: time,
        lineage: { asOfSeq: stats.lastSeq, ownSeq: stats.lastSeq, embeddedSeqs: {} },
      };
      await retryingEs(() =>
        es.index({
          index: alias,
          id: ceilingId,
          document: doc,
          version: stats.lastSeq,
          version_type: 'external_gte',
        }),
      );
      await retryingEs(() => es.indices.refresh({ index: alias }));
      ceiling.push(await searchable(alias, ceilingId, stats.lastSeq, direct));
    }
  } finally {
    controller.abort();
    await running.catch(() => {});
    await projector.close();
    // A bulk delete: the integration-test distribution has no `_delete_by_query`.
    if (ceilingIds.length > 0)
      await es.bulk({
        operations: ceilingIds.map((id) => ({ delete: { _index: alias, _id: id } })),
        refresh: true,
      });
  }
  // Ceiling of the start-up: reading the same log with nothing done per event.
  const replayStarted = performance.now();
  let replayed = 0;
  for await (const item of log.replay()) if (item.kind === 'event') replayed++;
  const replaySeconds = (performance.now() - replayStarted) / 1000;
  options.log?.debug({ replayed }, 'raw replay done');
  return {
    ours: ours.sort((a, b) => a - b),
    ceiling: ceiling.sort((a, b) => a - b),
    startupSeconds,
    replaySeconds,
  };
}

/**
 * `presslog bench replay --events N`: build a log of N events, time a full `reindex all`
 * (in a child process, so its peak RSS is the projector's own), then the ceiling: the
 * same final documents bulk-loaded straight into fresh indexes with the same client and
 * settings. Finally append → searchable latency with a live projector running.
 */
export async function runReplayBench(
  options: ReplayBenchOptions,
): Promise<{ measurements: Measurement[]; details: ReplayBenchDetails }> {
  const { nc, es } = options;
  const namespace = `bench-replay-${randomBytes(3).toString('hex')}`;
  const names = createNames(namespace);
  const log = createContentLog({ nc, names, logger: options.log });
  const tmp = await mkdtemp(join(tmpdir(), 'presslog-bench-replay-'));
  const jsm = await jetstreamManager(nc);
  try {
    await log.init();
    options.log?.info({ events: options.events, namespace }, 'building the log');
    const built = performance.now();
    let batch: { event: ContentEvent }[] = [];
    for (const event of benchLog(options.events, options.bodyBytes ?? [2048, 20480])) {
      batch.push({ event });
      if (batch.length >= 2000) {
        const stats = await log.append(batch, { signal: options.signal });
        if (stats.appended + stats.duplicates !== batch.length)
          throw new Error(
            `append failed: ${JSON.stringify(stats.outcomes.find((o) => o.status !== 'appended'))}`,
          );
        batch = [];
      }
    }
    if (batch.length > 0) await log.append(batch, { signal: options.signal });
    const buildSeconds = (performance.now() - built) / 1000;
    const head = await log.head();
    options.log?.info({ seconds: buildSeconds, bytes: head.bytes }, 'log built; reindexing');

    // Ours and the ceiling alternate, best of each counts: the machine is shared, and
    // Elasticsearch's own background work (merges) must not favour either side.
    const rounds = Math.max(1, options.rounds ?? 2);
    const target = Object.fromEntries(PROJECTION_NAMES.map((p) => [p, `${namespace}-ceiling-${p}`]));
    const file = join(tmp, 'docs.ndjson');
    let finalDocs = 0;
    let report: ReindexReport | undefined;
    const oursRuns: number[] = [];
    const ceilingRuns: number[] = [];
    let peakRssBytes = 0;
    const ceilingWithReadRuns: number[] = [];
    const cpu: ReplayBenchDetails['cpu'] = {
      ours: [],
      oursEs: [],
      ceiling: [],
      ceilingEs: [],
      ceilingWithRead: [],
      ceilingWithReadEs: [],
    };
    for (let round = 0; round < rounds; round++) {
      options.log?.info({ round }, 'reindexing');
      const oursEs = await esCpuSeconds(es);
      const run = await runCliJson<ReindexReport>(
        ['reindex', 'all', '--no-progress', '--keep', '0'],
        { PRESSLOG_NAMESPACE: namespace, PRESSLOG_LOG_LEVEL: 'warn' },
        options.signal,
      );
      cpu.oursEs.push((await esCpuSeconds(es)) - oursEs);
      cpu.ours.push(run.cpuMs / 1000);
      oursRuns.push(run.durationMs / 1000);
      peakRssBytes = Math.max(peakRssBytes, run.peakRssBytes);
      if (!report || run.durationMs < report.durationMs) report = run;
      if (round === 0) {
        options.log?.info('exporting the final documents for the ceiling');
        finalDocs = await exportDocs(es, names, file, target);
      }
      /**
       * One ceiling round into fresh bulk-mode indexes, optionally reading the whole log
       * meanwhile: its time to the end of both, this process's CPU and Elasticsearch's.
       */
      const loadCeiling = async (withRead: boolean) => {
        for (const projection of PROJECTION_NAMES) {
          await createProjectionIndex(es, {
            index: target[projection]!,
            definition: PROJECTIONS[projection],
            mode: 'bulk',
            meta: {
              projection,
              fingerprint: PROJECTIONS[projection].fingerprint,
              state: 'building',
              createdAt: new Date().toISOString(),
            },
          });
        }
        options.log?.info({ round, docs: finalDocs, withRead }, 'loading the ceiling');
        const usedBefore = process.cpuUsage();
        const esBefore = await esCpuSeconds(es);
        const started = performance.now();
        const [, readBytes] = await Promise.all([
          ceilingLoad(es, file, Object.values(target)),
          withRead ? readWholeLog(nc, names.stream, head.lastSeq) : 0,
        ]);
        const seconds = (performance.now() - started) / 1000;
        const used = process.cpuUsage(usedBefore);
        const esUsed = (await esCpuSeconds(es)) - esBefore;
        options.log?.debug({ round, withRead, readBytes }, 'ceiling loaded');
        await deleteIndexes(es, Object.values(target));
        return { seconds, cpu: (used.user + used.system) / 1e6, esCpu: esUsed };
      };
      const plain = await loadCeiling(false);
      ceilingRuns.push(plain.seconds);
      cpu.ceiling.push(plain.cpu);
      cpu.ceilingEs.push(plain.esCpu);
      // The same load while reading the whole log: the ceiling with the log's transport.
      const withRead = await loadCeiling(true);
      ceilingWithReadRuns.push(withRead.seconds);
      cpu.ceilingWithRead.push(withRead.cpu);
      cpu.ceilingWithReadEs.push(withRead.esCpu);
    }
    await rm(file, { force: true });
    const oursSeconds = Math.min(...oursRuns);
    const ceilingSeconds = Math.min(...ceilingRuns);
    const ceilingWithReadSeconds = Math.min(...ceilingWithReadRuns);
    report = report!;

    const measurements: Measurement[] = [
      measurement(
        'reindex events/s',
        'events/s',
        options.events / oursSeconds,
        options.events / ceilingSeconds,
        'ceiling: the final documents bulk-loaded directly, as if projecting were free',
      ),
      measurement(
        'reindex docs/s',
        'docs/s',
        finalDocs / oursSeconds,
        finalDocs / ceilingSeconds,
        `${finalDocs} final documents`,
      ),
      measurement('reindex time', 's', oursSeconds, ceilingSeconds, 'lower is better'),
      measurement(
        'reindex time, log read in the ceiling',
        's',
        oursSeconds,
        ceilingWithReadSeconds,
        'ceiling: the same load while the same process reads the whole log from NATS (what a rebuild cannot avoid on this machine); lower is better',
      ),
      measurement(
        'reindex peak RSS',
        'MiB',
        peakRssBytes / 1024 / 1024,
        0,
        'the reindex process, a whole presslog CLI (its peak at the end of "prepare", below, is before any event is read); no ceiling',
      ),
    ];
    const samples = options.latencySamples ?? 1000;
    if (samples > 0) {
      options.log?.info({ samples }, 'measuring append → searchable latency');
      const latency = await measureLatency(options, names, log, samples);
      measurements.push(
        measurement(
          'append→searchable p50',
          'ms',
          percentile(latency.ours, 50),
          percentile(latency.ceiling, 50),
          'ceiling: index + refresh straight into Elasticsearch; lower is better',
        ),
        measurement(
          'append→searchable p99',
          'ms',
          percentile(latency.ours, 99),
          percentile(latency.ceiling, 99),
          'lower is better',
        ),
        measurement(
          'live start-up',
          's',
          latency.startupSeconds,
          latency.replaySeconds,
          'a live projector restarting at the head, its state from the snapshot the reindex saved; ceiling: a bare replay of the log (what the snapshot saves); lower is better',
        ),
      );
    }
    return {
      measurements,
      details: {
        namespace,
        events: options.events,
        logBytes: head.bytes,
        buildSeconds,
        reindex: {
          durationMs: report.durationMs,
          phasesMs: report.phasesMs,
          docsWritten: report.docsWritten,
          peakRssBytes,
          peakRssByPhase: report.peakRssByPhase,
          state: report.state,
          seq: report.seq,
        },
        ceilingSeconds,
        ceilingWithReadSeconds,
        runs: { ours: oursRuns, ceiling: ceilingRuns, ceilingWithRead: ceilingWithReadRuns },
        cpu,
        finalDocs,
      },
    };
  } finally {
    await log.close();
    await rm(tmp, { recursive: true, force: true });
    if (!options.keepData) {
      const indexes = Object.keys(
        await es.indices.get({ index: `${namespace}-*`, expand_wildcards: 'all' }).catch(() => ({})),
      );
      if (indexes.length > 0) await es.indices.delete({ index: indexes }).catch(() => {});
      // The content stream, KV buckets (checkpoints, leases) and object stores (state snapshots).
      for await (const stream of jsm.streams.names()) {
        if (names.streamPrefixes.some((prefix) => stream.startsWith(prefix)))
          await jsm.streams.delete(stream).catch(() => {});
      }
    }
  }
}

/** The facts of one run below its table: log, phases, state, rounds, CPU. */
export function describeReplayRun(details: ReplayBenchDetails): string {
  const r = details.reindex;
  const seconds = (list: number[]) => list.map((t) => t.toFixed(1)).join(', ');
  const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)}`;
  return (
    `log: ${details.events} events, ${mib(details.logBytes)} MiB, built in ${details.buildSeconds.toFixed(1)} s\n` +
    `reindex: ${(r.durationMs / 1000).toFixed(1)} s (${Object.entries(r.phasesMs)
      .map(([phase, ms]) => `${phase} ${(ms / 1000).toFixed(1)} s`)
      .join(', ')}), ${r.docsWritten} documents written, state ${JSON.stringify(r.state)}\n` +
    `peak RSS so far at the end of each phase (MiB): ${Object.entries(r.peakRssByPhase)
      .map(([phase, bytes]) => `${phase} ${mib(bytes)}`)
      .join(', ')}\n` +
    `ceiling: ${details.finalDocs} documents in ${details.ceilingSeconds.toFixed(1)} s; while reading the log ${details.ceilingWithReadSeconds.toFixed(1)} s\n` +
    `rounds (s): ours ${seconds(details.runs.ours)}; ceiling ${seconds(details.runs.ceiling)}; ceiling while reading the log ${seconds(details.runs.ceilingWithRead)}\n` +
    `cpu (s): ours ${seconds(details.cpu.ours)} + Elasticsearch ${seconds(details.cpu.oursEs)}; ceiling ${seconds(details.cpu.ceiling)} + Elasticsearch ${seconds(details.cpu.ceilingEs)}; ceiling while reading the log ${seconds(details.cpu.ceilingWithRead)} + Elasticsearch ${seconds(details.cpu.ceilingWithReadEs)}\n`
  );
}

/**
 * How a larger run compares with a smaller one of the same invocation: the reindex's
 * time growth next to the ceiling's (same machine, same hour), and the peak RSS growth.
 */
export function replayScaling(small: ReplayBenchDetails, large: ReplayBenchDetails): Measurement[] {
  const factor = large.events / small.events;
  const label = `${large.events.toLocaleString('en-US')} / ${small.events.toLocaleString('en-US')} events`;
  return [
    measurement(
      `reindex time, ${label}`,
      '×',
      Math.min(...large.runs.ours) / Math.min(...small.runs.ours),
      large.ceilingSeconds / small.ceilingSeconds,
      `best rounds; ${factor}× the events; lower is better`,
    ),
    measurement(
      `reindex peak RSS, ${label}`,
      '×',
      large.reindex.peakRssBytes / small.reindex.peakRssBytes,
      0,
      '1 is flat; no ceiling',
    ),
  ];
}
