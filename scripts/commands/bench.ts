import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { createIngester } from '../../ingest/ingest.ts';
import { createBlobStore } from '../../log/blobStore.ts';
import { type Config, loadConfig } from '../../schemas/config.ts';
import { PresslogError } from '../../schemas/errors.ts';
import { type CpuSplit, dedicateCpus } from '../bench/cpus.ts';
import { type BenchFormat, runFormatBench } from '../bench/formats.ts';
import { runHighlightBench } from '../bench/highlightStorage.ts';
import { runImagesBench } from '../bench/images.ts';
import { runIngestBench } from '../bench/ingest.ts';
import { runLogBench } from '../bench/log.ts';
import { formatMeasurements, jsonLines, type Measurement, measurement } from '../bench/measurement.ts';
import { runKnownItems } from '../bench/relevance.ts';
import { startServeChild } from '../bench/replay/childCli.ts';
import { describeReplayRun, replayScaling } from '../bench/replay/report.ts';
import type { ReplayBenchResult } from '../bench/replay/types.ts';
import { runReplayBench } from '../bench/replay.ts';
import { runSearchBench } from '../bench/search.ts';
import { writeDerivedArticles } from '../bench/searchCorpus.ts';
import { connectNats, createEsClient, createRedis } from '../runtime.ts';
import { clusterLayout, clusterUrl, waitClusterReady } from '../services/cluster.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import { prepareSampleArchive } from './start.ts';
import { withContentLog } from './withContentLog.ts';

function positiveInt(value: string): number {
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** `1,8,32` → `[1, 8, 32]`, each a positive integer. */
function positiveIntList(value: string): number[] {
  return value.split(',').map((v) => positiveInt(v.trim()));
}

/** A table, or with `--json` one `{"name","unit","ours","ceiling","ratio"}` per line. */
function formatFor(ctx: CliContext, measurements: readonly Measurement[]): string {
  return ctx.json() ? jsonLines(measurements) : formatMeasurements(measurements);
}

/** A benchmark over its own NATS connection, closed after; its measurements printed. */
async function benchOverNats(
  ctx: CliContext,
  run: (nc: NatsConnection) => Promise<Measurement[]>,
): Promise<void> {
  const nc = await connectNats(ctx.config(), { name: 'presslog-bench', timeout: 5_000 });
  try {
    process.stdout.write(`${formatFor(ctx, await run(nc))}\n`);
  } finally {
    await nc.close();
  }
}

interface LogOptions {
  events: number;
  batch: number;
  window: number;
}

function registerLog(bench: Command, ctx: CliContext): void {
  bench
    .command('log')
    .description(
      'append N events through the content log and replay them; ceilings: raw js.publish and ordered-consumer read',
    )
    .option('--events <n>', 'number of events', positiveInt, 100_000)
    .option('--batch <n>', 'events per append call', positiveInt, 5_000)
    .option('--window <n>', 'publishes in flight', positiveInt, 512)
    .action((options: LogOptions) =>
      benchOverNats(ctx, (nc) => runLogBench({ nc, ...options, log: ctx.log(), signal: ctx.signal })),
    );
}

function registerIngest(bench: Command, ctx: CliContext): void {
  bench
    .command('ingest')
    .description(
      'ingest generated archives (2-20 KB articles, 5% bylines, revisions) into scratch logs; ceiling: raw js.publish of the same event bytes',
    )
    .option('--records <n>', 'records in all', positiveInt, 100_000)
    .option(
      '--rounds <n>',
      'rounds (each its own archive and scratch streams), ours and raw interleaved',
      positiveInt,
      4,
    )
    .option('--batch <n>', 'ingest batch size', positiveInt, 1_000)
    .option('--window <n>', 'publishes in flight', positiveInt, 512)
    .addOption(
      new Option(
        '--format <format>',
        'ingest this format instead; ceiling: the same records from NDJSON',
      ).choices(['nitf', 'wxr']),
    )
    .option('--articles <n>', 'with --format: articles in the archive', positiveInt, 20_000)
    .action(
      (options: {
        records: number;
        rounds: number;
        batch: number;
        window: number;
        format?: BenchFormat;
        articles: number;
      }) =>
        benchOverNats(ctx, (nc) =>
          options.format
            ? runFormatBench({
                nc,
                format: options.format,
                articles: options.articles,
                rounds: Math.min(options.rounds, 3),
                signal: ctx.signal,
              })
            : runIngestBench({ nc, ...options, log: ctx.log(), signal: ctx.signal }),
        ),
    );
}

function registerImages(bench: Command, ctx: CliContext): void {
  bench
    .command('images')
    .description(
      'real photos through dispatcher, BullMQ and workers; ceiling: the same renditions by sharp directly, same concurrency',
    )
    .option('--images <n>', 'images per round', positiveInt, 27)
    .option('-c, --concurrency <n>', 'jobs at once (workers and ceiling alike)', positiveInt, 2)
    .option('--rounds <n>', 'alternating rounds of ours and the ceiling', positiveInt, 4)
    .action((options: { images: number; concurrency: number; rounds: number }) =>
      benchOverNats(ctx, async (nc) => {
        const redis = createRedis(ctx.config(), { forBullmq: true, log: ctx.log() });
        try {
          return await runImagesBench({ nc, redis, ...options, log: ctx.log(), signal: ctx.signal });
        } finally {
          await redis.quit();
        }
      }),
    );
}

interface ReplayOptions {
  events: number[];
  partitions?: number[];
  latencySamples: number;
  bodyKb: string;
  rounds: number;
  keepData?: boolean;
  esCpus?: string;
  cluster?: boolean;
  sealed?: boolean;
}

/** `2-20` (KiB) → `[2048, 20480]` (bytes). */
function bodyBytes(range: string): [number, number] {
  const [min, max] = range.split('-').map((v) => Number(v) * 1024);
  if (!(min! > 0 && max! >= min!)) throw new InvalidArgumentError('--body-kb must look like 2-20');
  return [min!, max!];
}

/** One size's table (named after the size when there are several) and the facts below it. */
function printReplayRun(ctx: CliContext, sizes: number[], events: number, run: ReplayBenchResult): void {
  // Several sizes: each size's measurements are named after it.
  const measurements =
    sizes.length > 1
      ? run.measurements.map((m) => ({
          ...m,
          name: `${m.name} (${events.toLocaleString('en-US')})`,
        }))
      : run.measurements;
  if (ctx.json()) {
    ctx.log().info({ details: run.details }, 'bench replay details');
    process.stdout.write(`${jsonLines(measurements)}\n`);
  } else {
    process.stdout.write(
      `${sizes.length > 1 ? `== ${events.toLocaleString('en-US')} events ==\n` : ''}${formatMeasurements(measurements)}\n\n${describeReplayRun(run.details)}\n`,
    );
  }
}

/** Every size, smallest first, then how the largest scales against the smallest. */
async function runReplaySizes(
  ctx: CliContext,
  clients: { config: Config; nc: NatsConnection; es: Client },
  options: ReplayOptions,
  body: [number, number],
): Promise<void> {
  // Smallest first: the scaling table compares the smallest with the largest.
  const sizes = [...new Set(options.events)].sort((a, b) => a - b);
  const runs: ReplayBenchResult[] = [];
  for (const events of sizes) {
    const run = await runReplayBench({
      ...clients,
      events,
      bodyBytes: body,
      latencySamples: options.latencySamples,
      rounds: options.rounds,
      ...(options.partitions ? { partitions: options.partitions } : {}),
      ...(options.sealed ? { sealed: true } : {}),
      keepData: options.keepData,
      log: ctx.log(),
      signal: ctx.signal,
    });
    runs.push(run);
    printReplayRun(ctx, sizes, events, run);
  }
  if (runs.length > 1) {
    const scaling = replayScaling(runs[0]!.details, runs.at(-1)!.details);
    process.stdout.write(
      `${ctx.json() ? jsonLines(scaling) : `== scaling ==\n${formatMeasurements(scaling)}`}\n`,
    );
  }
}

/**
 * `--cluster`: the local clusters of `services up --cluster` instead of the configured
 * services, for this process and the CLI processes it starts (they inherit the
 * environment), with everything presslog creates on NATS replicated three times.
 */
async function onLocalClusters(config: Config): Promise<Config> {
  const layout = clusterLayout(join(config.servicesDir, 'cluster'));
  for (const service of ['nats', 'elasticsearch'] as const) {
    await waitClusterReady(layout, service, 5_000).catch((err: Error) => {
      throw new PresslogError(`${err.message} (start them with: presslog services up --cluster)`);
    });
  }
  process.env.NATS_URL = clusterUrl(layout, 'nats');
  process.env.ELASTICSEARCH_URL = clusterUrl(layout, 'elasticsearch');
  process.env.PRESSLOG_REPLICAS = '3';
  return loadConfig(process.env);
}

/** The replay benchmark's clients and, with `--es-cpus`, its CPU split; all released after. */
async function replayAction(ctx: CliContext, options: ReplayOptions): Promise<void> {
  const body = bodyBytes(options.bodyKb);
  const config = options.cluster ? await onLocalClusters(ctx.config()) : ctx.config();
  const nc = await connectNats(config, { name: 'presslog-bench', timeout: 5_000 });
  const es = createEsClient(config);
  let split: CpuSplit | undefined;
  try {
    if (options.esCpus !== undefined) {
      split = await dedicateCpus(es, options.esCpus);
      if (ctx.json()) ctx.log().info({ cpus: split.description }, 'CPUs split');
      else process.stdout.write(`CPUs: ${split.description}\n\n`);
    }
    await runReplaySizes(ctx, { config, nc, es }, options, body);
  } finally {
    // A process left pinned is reported, not allowed to hide the run's own outcome.
    await split?.restore().catch((err: Error) => ctx.log().error({ err }, err.message));
    await es.close();
    await nc.close();
  }
}

function registerReplay(bench: Command, ctx: CliContext): void {
  bench
    .command('replay')
    .description(
      'build a log of N events and time `reindex all`; ceiling: the same final documents bulk-loaded directly; then append → searchable latency',
    )
    .option(
      '--events <n[,n...]>',
      'events in the generated log; several sizes (e.g. 100000,1000000) run one after the other and add how time and memory scale',
      positiveIntList,
      [100_000],
    )
    .option(
      '--latency-samples <n>',
      'single appends timed for append → searchable (0 skips)',
      (v) => Number(v),
      1000,
    )
    .option('--body-kb <range>', 'article body size range in KiB', '2-20')
    .option(
      '--partitions <k[,k...]>',
      'also time `reindex all --partitions K` for each K (and the single process alike): events/s and CPU-s per 1,000 events of the projector processes, Elasticsearch and NATS',
      positiveIntList,
    )
    .option(
      '--rounds <n>',
      'alternating rounds of ours and the ceiling (best of each counts)',
      positiveInt,
      2,
    )
    .option('--keep-data', 'keep the benchmark stream and indexes')
    .option(
      '--sealed',
      'also build the same log sealed (crypto-shredding, its own master key) and time `reindex all` of it against the plaintext log, alternating rounds',
    )
    .option(
      '--cluster',
      'run against the local 3-node NATS and Elasticsearch clusters of `presslog services up --cluster` (replicas 3 on NATS)',
    )
    .option(
      '--es-cpus <list>',
      'pin a local Elasticsearch to these CPUs (e.g. 0) and this process, the reindex and a local nats-server to the others, as on separate machines (Linux, taskset)',
    )
    .action((options: ReplayOptions) => replayAction(ctx, options));
}

function registerSearch(bench: Command, ctx: CliContext): void {
  bench
    .command('search')
    .description(
      'GET /api/search for a query mix at 1, 8 and 32 clients; ceiling: the same Elasticsearch requests sent straight to Elasticsearch',
    )
    .option('--requests <n>', 'requests per level, side and round', positiveInt, 150)
    .option('--rounds <n>', 'alternating rounds of ours and the ceiling per level', positiveInt, 2)
    .option('--levels <list>', 'concurrent clients per level, comma-separated', '1,8,32')
    .option(
      '--breakdown <n>',
      "also time the first page's parts straight to Elasticsearch (point in time, hits with and without highlight and _source, facets), n times each per query",
      positiveInt,
    )
    .option(
      '--articles <n>',
      'grow the archive to at least N articles first (speech excerpts derived from the sample; built once per namespace)',
      positiveInt,
    )
    .action((options: SearchBenchCliOptions) => searchAction(ctx, options));
}

interface SearchBenchCliOptions {
  requests: number;
  rounds: number;
  levels: string;
  articles?: number;
  breakdown?: number;
}

/** Grow the namespace's archive to `articles` articles (derived from the sample's speeches), then reindex. */
async function growArchive(ctx: CliContext, es: Client, articles: number): Promise<void> {
  const config = ctx.config();
  const { count } = await es.count({ index: config.names.alias('articles') });
  if (count >= articles) return;
  const sampleDir = join('var', config.namespace, 'sample');
  const file = join(sampleDir, `derived-${articles}.ndjson`);
  ctx.log().info({ have: count, want: articles }, 'growing the archive for the benchmark');
  await writeDerivedArticles(join(sampleDir, '3-articles.ndjson'), articles - count, file);
  await withContentLog(ctx, (log) =>
    createIngester({ log, blobs: createBlobStore(config.blobDir), logger: ctx.log() }).ingest([file], {
      signal: ctx.signal,
    }),
  );
  await prepareSampleArchive(ctx);
}

async function searchAction(ctx: CliContext, options: SearchBenchCliOptions): Promise<void> {
  const levels = positiveIntList(options.levels);
  const config = ctx.config();
  const es = createEsClient(config);
  try {
    // Benchmark the configured archive; a namespace without one gets the quick start's sample.
    if (!(await es.indices.existsAlias({ name: config.names.alias('articles') }))) {
      ctx.log().info({ namespace: config.namespace }, 'no archive yet: preparing the sample archive');
      await prepareSampleArchive(ctx);
    }
    if (options.articles) await growArchive(ctx, es, options.articles);
    const server = await startServeChild();
    try {
      const measurements = await runSearchBench({
        config,
        es,
        server,
        levels,
        requests: options.requests,
        rounds: options.rounds,
        breakdown: options.breakdown,
        log: ctx.log(),
        signal: ctx.signal,
      });
      process.stdout.write(`${formatFor(ctx, measurements)}\n`);
    } finally {
      await server.close();
    }
  } finally {
    await es.close();
  }
}

/**
 * `presslog bench <name>`: benchmarks that print ours next to a ceiling measured in the
 * same run: a table, or with `--json` one `{"name","unit","ours","ceiling","ratio"}` per line.
 * Add a benchmark as a `registerX` function here and call it below.
 */
export function register(program: Command, ctx: CliContext): void {
  const bench = program
    .command('bench')
    .description('benchmarks: ours next to the raw ceiling, measured in the same run');
  registerLog(bench, ctx);
  registerIngest(bench, ctx);
  registerImages(bench, ctx);
  registerReplay(bench, ctx);
  registerSearch(bench, ctx);
  registerRelevance(bench, ctx);
  registerHighlight(bench, ctx);
}

function registerHighlight(bench: Command, ctx: CliContext): void {
  bench
    .command('highlight')
    .description(
      'copy the articles into three indexes (offsets, term vectors, positions only) and time the highlighted search on each; store sizes',
    )
    .option('--rounds <n>', 'rounds over the queries (the first is a warm-up)', positiveInt, 5)
    .action(async (options: { rounds: number }) => {
      const config = ctx.config();
      const es = createEsClient(config);
      try {
        if (!(await es.indices.existsAlias({ name: config.names.alias('articles') })))
          await prepareSampleArchive(ctx);
        process.stdout.write(`${formatFor(ctx, await runHighlightBench(es, config, options.rounds))}\n`);
      } finally {
        await es.close();
      }
    });
}

function registerRelevance(bench: Command, ctx: CliContext): void {
  bench
    .command('relevance')
    .description(
      'known-item queries over the sample archive: MRR@10 with English stemming (ours) and on the unstemmed .exact fields (before)',
    )
    .action(async () => {
      const config = ctx.config();
      const es = createEsClient(config);
      try {
        if (!(await es.indices.existsAlias({ name: config.names.alias('articles') })))
          await prepareSampleArchive(ctx);
        const { results, mrrBefore, mrrAfter } = await runKnownItems(es, config);
        const measurements = [
          measurement(
            'known-item MRR@10',
            'MRR',
            mrrAfter,
            mrrBefore,
            `${results.length} queries; ceiling column: before stemming`,
          ),
        ];
        if (ctx.json()) {
          process.stdout.write(`${formatFor(ctx, measurements)}\n`);
          for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
          return;
        }
        const rows = results.map((r) => [r.q, r.id, String(r.rankBefore ?? '-'), String(r.rankAfter ?? '-')]);
        process.stdout.write(
          `${formatTable([['QUERY', 'ANSWER', 'RANK BEFORE', 'RANK AFTER'], ...rows])}\n\n${formatFor(ctx, measurements)}\n`,
        );
      } finally {
        await es.close();
      }
    });
}
