import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import {
  checkpointKey,
  createImageDispatcher,
  createRedisCheckpoint,
} from '../../ingest/images/dispatcher.ts';
import { createImageWorker } from '../../ingest/images/worker.ts';
import { instrumentContentLog } from '../metrics/appendMetrics.ts';
import { metricsPort, serveWorkerMetrics } from '../metrics/endpoints.ts';
import { createMetrics } from '../metrics/metrics.ts';
import type { CliContext } from './cliContext.ts';
import { openImagePipeline, positiveInt, setUpSharp } from './images.ts';

interface WorkersOptions {
  concurrency: number;
  dispatcher: boolean;
  pollInterval: number;
  metricsPort?: number;
}

/**
 * `presslog workers`: an image worker plus the dispatcher that feeds it from the log,
 * until SIGINT/SIGTERM. Shutdown stops intake first (dispatcher), then lets running jobs
 * finish (worker.close), then closes the queue, the log and the connections.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('workers')
    .description(
      'process images from the log: dispatcher (log → queue) and sharp workers, until SIGINT/SIGTERM',
    )
    .option('-c, --concurrency <n>', 'images processed at once', positiveInt, availableParallelism())
    .option('--no-dispatcher', 'only take jobs (for extra worker processes; one dispatcher is enough)')
    .option('--poll-interval <ms>', 'how often the dispatcher looks for new image events', positiveInt, 1_000)
    .option(
      '--metrics-port <port>',
      'serve /metrics, /healthz and /readyz on this port (0: any free port)',
      metricsPort,
    )
    .action(async (options: WorkersOptions) => {
      const logger = ctx.log();
      setUpSharp(options.concurrency, logger);
      const pipeline = await openImagePipeline(ctx);
      const { config, blobs, redis, queue } = pipeline;
      const metrics = options.metricsPort === undefined ? undefined : createMetrics();
      const log = metrics ? instrumentContentLog(metrics, pipeline.log) : pipeline.log;
      const worker = createImageWorker({
        connection: redis,
        names: config.names,
        log,
        blobs,
        logger,
        concurrency: options.concurrency,
      });
      const dispatcher = options.dispatcher
        ? createImageDispatcher({
            log,
            queue,
            logger,
            checkpoint: createRedisCheckpoint(redis, checkpointKey(config.names.redisPrefix)),
            pollIntervalMs: options.pollInterval,
          })
        : undefined;
      const endpoint =
        metrics && (await serveWorkerMetrics(metrics, { ...pipeline, log, worker }, options.metricsPort!));
      if (endpoint) logger.info({ url: `${endpoint.url}/metrics` }, 'serving metrics');
      logger.info(
        {
          queue: queue.name,
          concurrency: options.concurrency,
          dispatcher: options.dispatcher,
          blobs: blobs.root,
        },
        'image workers running; SIGINT or SIGTERM to stop',
      );
      try {
        const dispatching = dispatcher?.run(ctx.signal);
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        logger.info('stopping: no new jobs; waiting for running ones to finish');
        await dispatching;
      } finally {
        await dispatcher?.close();
        await worker.close();
        await endpoint?.close();
        await pipeline.close();
      }
      ctx.output({ stats: worker.stats }, () => {
        const s = worker.stats;
        return `stopped: ${s.processed} processed, ${s.failed} failed, ${s.skipped} already done`;
      });
    });
}
