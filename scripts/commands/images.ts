import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, InvalidArgumentError } from 'commander';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  checkpointKey,
  createImageDispatcher,
  createRedisCheckpoint,
  dispatchUntilDone,
} from '../../ingest/images/dispatcher.ts';
import {
  createImageQueue,
  type FailedImageJob,
  type ImageQueue,
  type ImageQueueCounts,
} from '../../ingest/images/queue.ts';
import { configureSharp } from '../../ingest/images/renditions.ts';
import { createImageWorker } from '../../ingest/images/worker.ts';
import type { BlobStore } from '../../log/blobStore.ts';
import { createContentLog } from '../../log/contentLog.ts';
import type { ContentLog } from '../../log/types.ts';
import type { Config } from '../../schemas/config.ts';
import { TransientError } from '../../schemas/errors.ts';
import { openConfiguredKeyRing } from '../keys.ts';
import { connectNatsOrExplain, createRedis, maskCredentials, openBlobStore } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';

export function positiveInt(value: string): number {
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Redis and the image queue: what `images status` needs. */
export interface QueueClients {
  config: Config;
  redis: Redis;
  queue: ImageQueue;
  close(): Promise<void>;
}

/** The clients of the image pipeline, opened in order and closed in reverse. */
export interface ImagePipeline extends QueueClients {
  log: ContentLog;
  blobs: BlobStore;
}

type Releaser = () => Promise<unknown>;

function releaseAll(releasers: Releaser[], logger: Logger): () => Promise<void> {
  return async () => {
    while (releasers.length > 0) {
      await releasers.pop()!().catch((err) => logger.warn({ err }, 'close failed'));
    }
  };
}

async function openQueueWith(ctx: CliContext, releasers: Releaser[]): Promise<Omit<QueueClients, 'close'>> {
  const config = ctx.config();
  // BullMQ workers block on this connection: it must retry forever rather than fail requests.
  const redis = createRedis(config, { forBullmq: true, log: ctx.log() });
  // quit() waits for a server that may never answer; disconnect() does not.
  releasers.push(async () => (redis.status === 'ready' ? redis.quit() : redis.disconnect()));
  try {
    // With maxRetriesPerRequest null a command waits for Redis forever: bound the first one.
    const timer = new AbortController();
    try {
      await Promise.race([
        redis.ping(),
        sleep(5_000, undefined, { signal: AbortSignal.any([timer.signal, ctx.signal]) }).then(() => {
          throw new Error('no answer within 5 s');
        }),
      ]);
    } finally {
      timer.abort();
    }
  } catch (err) {
    throw new TransientError(
      `cannot reach Redis at ${maskCredentials(config.redis.url)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const queue = createImageQueue({ connection: redis, names: config.names, logger: ctx.log() });
  releasers.push(() => queue.close());
  return { config, redis, queue };
}

/** Open Redis and the image queue; released again if opening fails halfway. */
export async function openImageQueue(ctx: CliContext): Promise<QueueClients> {
  const releasers: Releaser[] = [];
  const close = releaseAll(releasers, ctx.log());
  try {
    return { ...(await openQueueWith(ctx, releasers)), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Open what the image pipeline needs: NATS and the content log, Redis and the queue, the
 * blob store. If a later step fails, what was opened is released again.
 */
export async function openImagePipeline(ctx: CliContext): Promise<ImagePipeline> {
  const config = ctx.config();
  const logger = ctx.log();
  const releasers: Releaser[] = [];
  const close = releaseAll(releasers, logger);
  try {
    const nc = await connectNatsOrExplain(config, 'presslog-images');
    releasers.push(() => nc.drain());
    const keys = await openConfiguredKeyRing(config, nc, logger);
    const log = createContentLog({ nc, names: config.names, replicas: config.replicas, logger, keys });
    releasers.push(() => log.close());
    const clients = await openQueueWith(ctx, releasers);
    return { ...clients, log, blobs: openBlobStore(config, nc), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** sharp settings for a process running `concurrency` jobs; warns when libuv's pool is the bottleneck. */
export function setUpSharp(concurrency: number, logger: Logger): void {
  // Jobs run in parallel on libuv's pool; libvips threads per job share out the cores,
  // so N jobs x threads does not oversubscribe the machine.
  const threads = Math.max(1, Math.floor(availableParallelism() / concurrency));
  configureSharp({ concurrency: threads });
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (concurrency > pool) {
    logger.warn(
      { concurrency, UV_THREADPOOL_SIZE: pool },
      'more jobs than libuv threads: set UV_THREADPOOL_SIZE to at least the concurrency (before starting node)',
    );
  }
}

interface StatusReport {
  queue: string;
  counts: ImageQueueCounts;
  checkpoint: number;
  failed: FailedImageJob[];
}

function statusText(report: StatusReport): string {
  const c = report.counts;
  const lines = [
    formatTable([
      ['QUEUE', 'WAITING', 'ACTIVE', 'DELAYED', 'COMPLETED', 'FAILED'],
      [
        report.queue,
        String(c.waiting + c.prioritized + c.paused),
        String(c.active),
        String(c.delayed),
        String(c.completed),
        String(c.failed),
      ],
    ]),
    '',
    `dispatcher checkpoint: seq ${report.checkpoint}`,
  ];
  if (report.failed.length > 0) {
    lines.push('', `failed jobs (newest ${report.failed.length}):`);
    lines.push(
      formatTable([
        ['JOB', 'IMAGES', 'ATTEMPTS', 'FAILED AT', 'REASON'],
        ...report.failed.map((f) => [
          `${f.jobId.slice(0, 19)}…`,
          f.imageIds.join(','),
          String(f.attempts),
          f.failedAt ?? '-',
          f.reason,
        ]),
      ]),
    );
  }
  return lines.join('\n');
}

export interface ProcessOptions {
  concurrency: number;
  retryFailed?: boolean;
}

/** `presslog images status|process`. */
export function register(program: Command, ctx: CliContext): void {
  const images = program
    .command('images')
    .description('image processing: renditions and metadata by sharp, through BullMQ');

  images
    .command('status')
    .description(
      'queue counts (waiting, active, delayed, completed, failed) and the failed jobs with their reasons',
    )
    .option('--limit <n>', 'failed jobs to list', positiveInt, 20)
    .action(async (options: { limit: number }) => {
      const clients = await openImageQueue(ctx);
      try {
        const { queue, redis, config } = clients;
        const report: StatusReport = {
          queue: queue.name,
          counts: await queue.counts(),
          checkpoint: await createRedisCheckpoint(redis, checkpointKey(config.names.redisPrefix)).get(),
          failed: await queue.failed(options.limit),
        };
        ctx.output(report, () => statusText(report));
      } finally {
        await clients.close();
      }
    });

  images
    .command('process')
    .description(
      'process every image of the log that has no outcome yet, in this process, then exit with a summary',
    )
    .option('-c, --concurrency <n>', 'images processed at once', positiveInt, availableParallelism())
    .option('--retry-failed', 'also retry images whose processing failed before')
    .action(async (options: ProcessOptions) => {
      const summary = await processImages(ctx, options);
      ctx.output(summary, () => formatProcessSummary(summary));
    });
}

export interface ImagesProcessSummary {
  seconds: number;
  /** Log sequence read up to. */
  logReadTo: number;
  enqueued: number;
  processed: number;
  failed: number;
  /** Jobs whose result a previous run had already recorded. */
  alreadyDone: number;
  /** Outcomes the dispatcher recorded from finished jobs (same bytes as an earlier image). */
  recordedByDispatcher: number;
  failures: { imageIds: string[]; reason: string }[];
}

/**
 * Process every image of the log that has no outcome yet, with a worker in this process,
 * and return when none is left: `presslog images process`, also usable by a quick start.
 */
export async function processImages(ctx: CliContext, options: ProcessOptions): Promise<ImagesProcessSummary> {
  const logger = ctx.log();
  setUpSharp(options.concurrency, logger);
  const pipeline = await openImagePipeline(ctx);
  const { config, log, blobs, redis, queue } = pipeline;
  const started = performance.now();
  const worker = createImageWorker({
    connection: redis,
    names: config.names,
    log,
    blobs,
    logger,
    concurrency: options.concurrency,
  });
  const dispatcher = createImageDispatcher({
    log,
    queue,
    logger,
    checkpoint: createRedisCheckpoint(redis, checkpointKey(config.names.redisPrefix)),
    fullScan: true,
    retryFailed: options.retryFailed,
  });
  const failures: { imageIds: string[]; reason: string }[] = [];
  worker.worker.on('failed', (job, err) => {
    if (job && (err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1))) {
      failures.push({ imageIds: job.data.imageIds, reason: err.message });
    }
  });
  try {
    let lastPending = -1;
    const drained = await dispatchUntilDone(dispatcher, {
      signal: ctx.signal,
      onProgress: (stats) => {
        if (stats.pending !== lastPending)
          logger.info({ pending: stats.pending }, 'images waiting for an outcome');
        lastPending = stats.pending;
      },
    });
    return {
      seconds: Math.round((performance.now() - started) / 100) / 10,
      logReadTo: drained.cursor,
      enqueued: drained.enqueued,
      processed: worker.stats.processed,
      failed: worker.stats.failed,
      alreadyDone: worker.stats.skipped,
      recordedByDispatcher: drained.recorded,
      failures,
    };
  } finally {
    await dispatcher.close();
    await worker.close();
    await pipeline.close();
  }
}

export function formatProcessSummary(summary: ImagesProcessSummary): string {
  return [
    `images: ${summary.enqueued} enqueued, ${summary.processed} processed, ${summary.failed} failed` +
      `${summary.alreadyDone ? `, ${summary.alreadyDone} already done` : ''}` +
      `${summary.recordedByDispatcher ? `, ${summary.recordedByDispatcher} recorded from earlier jobs` : ''}` +
      ` in ${summary.seconds} s (log read to seq ${summary.logReadTo})`,
    ...summary.failures.map((f) => `  failed ${f.imageIds.join(',')}: ${f.reason}`),
  ].join('\n');
}
