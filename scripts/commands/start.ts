import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createIngester, type IngestStats } from '../../ingest/ingest.ts';
import { buildSampleArchive, type SampleArchive } from '../../ingest/sampleArchive.ts';
import { createCheckpointStore } from '../../log/checkpoints.ts';
import { openLeaseBucket } from '../../projectors/lease.ts';
import { createProjector } from '../../projectors/live/projector.ts';
import { type ReindexReport, reindex } from '../../projectors/rebuild/reindex.ts';
import { createStateSnapshotStore } from '../../projectors/state/stateSnapshots.ts';
import { outdatedIndexes } from '../../projectors/status.ts';
import { createDeadLetterStore } from '../../projectors/write/deadLetters.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import type { SearchResult } from '../../search/results.ts';
import { createSearcher } from '../../search/searcher.ts';
import { configuredIdMapper } from '../keys.ts';
import { projectorHooks } from '../metrics/endpoints.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { createEsClient, openBlobStore } from '../runtime.ts';
import { ensureServices } from '../services/services.ts';
import { createAlertHook } from './alertHook.ts';
import type { CliContext } from './cliContext.ts';
import { type ImagesProcessSummary, processImages } from './images.ts';
import { BOLD, formatResults, STARS } from './search.ts';
import { parsePort, startServer, waitForAbort } from './serve.ts';
import { withContentLog, withContentLogApart } from './withContentLog.ts';

/** What {@link prepareSampleArchive} did, step by step. */
export interface PreparedArchive {
  sample: SampleArchive;
  ingest: Pick<IngestStats, 'read' | 'appended' | 'unchanged' | 'rejected' | 'lastSeq' | 'durationMs'>;
  images: ImagesProcessSummary;
  /** Undefined when the indexes were already current (a second `start`). */
  reindex?: Pick<ReindexReport, 'seq' | 'docsWritten' | 'durationMs'> & { indexes: string[] };
}

export interface PrepareOptions {
  /** Where the sample archive's files are written (default `var/<namespace>/sample`). */
  sampleDir?: string;
  /** Rebuild the indexes even when they are current. */
  forceReindex?: boolean;
  /** Called as each step starts, for progress output. */
  onStep?: (step: string) => void;
}

/**
 * The quick start's pipeline, every step idempotent: create the content log, build the
 * sample archive (State of the Union addresses and period photographs), ingest it,
 * process its images, and rebuild the indexes by replaying the log. A second run appends
 * nothing, processes nothing and skips the reindex when every projection is current.
 */
export async function prepareSampleArchive(
  ctx: CliContext,
  options: PrepareOptions = {},
): Promise<PreparedArchive> {
  const config = ctx.config();
  const logger = ctx.log();
  const step = options.onStep ?? (() => {});
  const { signal } = ctx;

  step('building the sample archive');
  const sample = await buildSampleArchive(options.sampleDir ?? join('var', config.namespace, 'sample'));

  const ingest = await withContentLog(ctx, async (log, nc, keys) => {
    step('creating the content log');
    await log.init();
    step(`ingesting ${sample.articles} articles, ${sample.bylines} bylines and ${sample.images} images`);
    const ingester = createIngester({
      log,
      blobs: openBlobStore(config, nc),
      logger,
      mapId: configuredIdMapper(config, keys),
    });
    return ingester.ingest([sample.dir], { signal });
  });
  if (ingest.aborted) throw signal.reason ?? new Error('aborted');

  step('processing the images (renditions by sharp, through BullMQ)');
  const images = await processImages(ctx, { concurrency: Math.min(4, availableParallelism()) });

  const reindexed = await withContentLogApart(ctx, async (log, nc) => {
    const es = createEsClient(config);
    const checkpoints = createCheckpointStore({ nc, names: config.names, replicas: config.replicas });
    try {
      const head = await log.head();
      const current = await Promise.all(PROJECTION_NAMES.map((p) => checkpoints.current(p)));
      // An index built by older code (another mapping or projection logic) is rebuilt
      // even when it is caught up: its strict mapping would refuse today's documents.
      const outdated = await outdatedIndexes(es, config.names, PROJECTION_NAMES, signal);
      const caughtUp = current.every((c) => c !== undefined && c.seq >= head.lastSeq);
      if (!options.forceReindex && caughtUp && outdated.length === 0) {
        step('indexes are current; no reindex needed');
        return undefined;
      }
      if (outdated.length > 0) step(`built by an older definition: ${outdated.join(', ')}`);
      step(`rebuilding the indexes from the log (${head.lastSeq} events)`);
      const report = await reindex({
        log,
        client: es,
        checkpoints,
        leaseBucket: await openLeaseBucket(nc, config.names, config.replicas),
        deadLetters: createDeadLetterStore({ client: es, names: config.names }),
        snapshots: createStateSnapshotStore({ nc, names: config.names, replicas: config.replicas, logger }),
        names: config.names,
        projections: PROJECTION_NAMES,
        logger,
        signal,
        wait: true,
      });
      return {
        seq: report.seq,
        docsWritten: report.docsWritten,
        durationMs: report.durationMs,
        indexes: report.indexes.map((i) => i.index),
      };
    } finally {
      await checkpoints.close();
      await es.close();
    }
  });

  return {
    sample,
    ingest: {
      read: ingest.read,
      appended: ingest.appended,
      unchanged: ingest.unchanged,
      rejected: ingest.rejected,
      lastSeq: ingest.lastSeq,
      durationMs: ingest.durationMs,
    },
    images,
    reindex: reindexed,
  };
}

/** The example search `start` prints: one speech mentions it, and one photograph caption. */
export const EXAMPLE_QUERY = 'nagasaki';

/**
 * Keep the indexes current while the server runs: the live projector tails the log, so
 * a later `presslog ingest` shows up in searches (and `afterSeq` reads can be satisfied).
 */
async function runLiveProjector(ctx: CliContext, metrics: Metrics): Promise<{ stop(): Promise<void> }> {
  const config = ctx.config();
  const controller = new AbortController();
  const onAbort = () => controller.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const done = withContentLogApart(ctx, async (log, nc) => {
    const es = createEsClient(config);
    const alerts = createAlertHook({
      es,
      nc,
      names: config.names,
      replicas: config.replicas,
      logger: ctx.log(),
    });
    const checkpoints = createCheckpointStore({ nc, names: config.names, replicas: config.replicas });
    const leaseBucket = await openLeaseBucket(nc, config.names, config.replicas);
    const snapshots = createStateSnapshotStore({
      nc,
      names: config.names,
      replicas: config.replicas,
      logger: ctx.log(),
    });
    const side = { log, nc, client: es, checkpoints, leaseBucket, snapshots };
    const projector = createProjector({
      onArticlesVisible: alerts.onArticlesVisible,
      log,
      client: es,
      checkpoints,
      leaseBucket,
      deadLetters: createDeadLetterStore({ client: es, names: config.names }),
      snapshots,
      names: config.names,
      projections: PROJECTION_NAMES,
      logger: ctx.log(),
      // Served with the server's metrics at /metrics.
      ...projectorHooks(metrics, side, PROJECTION_NAMES),
    });
    try {
      // Another projector (`presslog project`) may already hold the leases: then it keeps the indexes current.
      await projector.run({ signal: controller.signal, wait: true });
    } finally {
      await projector.close();
      await alerts.close();
      await checkpoints.close();
      await es.close();
    }
  }).catch((err) => {
    if (!controller.signal.aborted) ctx.log().error({ err }, 'live projector stopped');
  });
  return {
    async stop() {
      ctx.signal.removeEventListener('abort', onAbort);
      controller.abort(new Error('server stopped'));
      await done;
    },
  };
}

function prepareText(prepared: PreparedArchive): string {
  const { ingest, images, reindex: r } = prepared;
  return [
    `  ingest: ${ingest.appended} events appended, ${ingest.unchanged} records unchanged, ${ingest.rejected} rejected`,
    `  images: ${images.processed} processed, ${images.alreadyDone + images.recordedByDispatcher} already done, ${images.failed} failed`,
    r
      ? `  reindex: ${r.docsWritten} documents, current as of log sequence ${r.seq}, in ${(r.durationMs / 1000).toFixed(1)} s`
      : '  reindex: not needed, the indexes are current',
  ].join('\n');
}

/**
 * `presslog start` (`npm start`): the whole archive for a newcomer. Services up, the
 * sample archive ingested, its images processed, the indexes built, then the API and the
 * search page served until Ctrl-C, with the URL and one example search printed.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description(
      'quick start: services up, ingest the sample archive, process images, reindex, serve the search page',
    )
    .option('--port <port>', 'TCP port of the server', '8080')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--reindex', 'rebuild the indexes even when they are current')
    .action(async (options: { port: string; host: string; reindex?: boolean }) => {
      const port = parsePort(options.port);
      const config = ctx.config();
      const logger = ctx.log();
      const say = (line: string) => {
        if (!ctx.json()) process.stderr.write(`presslog: ${line}\n`);
      };
      say('starting the services (NATS, Redis, Elasticsearch)');
      await ensureServices(config, { log: logger, quiet: true, signal: ctx.signal });
      const prepared = await prepareSampleArchive(ctx, { forceReindex: options.reindex, onStep: say });
      const metrics = createMetrics();
      const projector = await runLiveProjector(ctx, metrics);
      const server = await startServer(config, { port, host: options.host, logger, metrics });
      try {
        const es = createEsClient(config);
        const searcher = createSearcher({ es, names: config.names });
        let example: SearchResult;
        try {
          example = await searcher.search({ q: EXAMPLE_QUERY, size: '3' });
        } finally {
          await searcher.close();
          await es.close();
        }
        ctx.output(
          {
            url: `${server.url}/`,
            openapi: `${server.url}/openapi.json`,
            prepared,
            example: { query: EXAMPLE_QUERY, result: example },
          },
          () =>
            [
              '',
              prepareText(prepared),
              '',
              `presslog is serving the archive at ${server.url}/`,
              '',
              `example: presslog search ${EXAMPLE_QUERY}   (or ${server.url}/api/search?q=${EXAMPLE_QUERY})`,
              '',
              formatResults(example, {
                style: process.stdout.isTTY ? BOLD : STARS,
                query: EXAMPLE_QUERY,
                showNext: false,
              }),
              '',
              `open ${server.url}/ in a browser; Ctrl-C stops the server (the services keep running: presslog services down)`,
            ].join('\n'),
        );
        await waitForAbort(ctx.signal);
        logger.info('shutting down');
      } finally {
        await server.close();
        await projector.stop();
      }
    });
}
