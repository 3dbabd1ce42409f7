import { availableParallelism } from 'node:os';
import { type ConnectionOptions, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { type BlobStore, digestOf } from '../../log/blobStore.ts';
import type { ContentLog } from '../../log/types.ts';
import { TransientError } from '../../schemas/errors.ts';
import type { ImageProcessed } from '../../schemas/imageEvents.ts';
import type { Names } from '../../schemas/names.ts';
import type { ImageJob, ImageJobData, ImageJobResult } from './queue.ts';
import {
  type ImageProgress,
  type Outcome,
  type RecordResult,
  readImageProgress,
  recordOutcome,
} from './record.ts';
import {
  DEFAULT_PROCESS_OPTIONS,
  ImageRejectedError,
  type ProcessedImage,
  type ProcessImageOptions,
  processImage,
} from './renditions.ts';

/** The `source` of events the image worker appends. */
export const WORKER_SOURCE = 'presslog/images-worker';

export interface ImageWorkerOptions {
  /** BullMQ connection; an ioredis instance must have `maxRetriesPerRequest: null`. */
  connection: ConnectionOptions;
  names: Names;
  log: ContentLog;
  blobs: BlobStore;
  logger: Logger;
  /**
   * Images sharp works on at once (default: the number of CPUs; each keeps about one core
   * busy). The worker takes `concurrency + ioSlack` jobs at once, so the reading, storing
   * and recording of some jobs overlaps the sharp work of others instead of idling a core.
   */
  concurrency?: number;
  /** Jobs in flight beyond `concurrency`, doing I/O while the others use sharp (default 1). */
  ioSlack?: number;
  /** Limits and sizes for sharp; see ProcessImageOptions. */
  processing?: ProcessImageOptions;
  /**
   * How long a job's lock lasts without renewal (default 30 s). A worker that dies
   * (SIGKILL, OOM) stops renewing; once the lock expires the stalled-job check hands the
   * job to another worker.
   */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs (default 30 s). */
  stalledInterval?: number;
  /**
   * How often a job may stall before it fails for good (default 1): a file that kills
   * its worker every time must not take the fleet down with it forever.
   */
  maxStalledCount?: number;
  /**
   * The bytes-to-renditions function (default `processImage`). Replaceable so that a
   * deployment can move it elsewhere, and a test can make it slow enough to kill mid-job.
   */
  processor?: (bytes: Uint8Array, options: ProcessImageOptions) => Promise<ProcessedImage>;
  /** Start taking jobs at once (default true). */
  autorun?: boolean;
}

export interface ImageWorkerStats {
  /** Jobs that ran sharp and recorded their result. */
  processed: number;
  /** Jobs whose result was already in the log (a retried job whose first run had recorded it). */
  skipped: number;
  /** Failed attempts (retried or final). */
  failedAttempts: number;
  /** Jobs that failed for good. */
  failed: number;
  /** Events appended (or found already appended) by this worker. */
  recorded: number;
}

export interface ImageWorker {
  readonly worker: Worker<ImageJobData, ImageJobResult>;
  readonly stats: Readonly<ImageWorkerStats>;
  /** Stop taking jobs and wait for the running ones to finish. Idempotent. */
  close(): Promise<void>;
}

/** The ImageProcessed payload for processed bytes whose renditions are stored (pure). */
export function processedPayload(
  originalDigest: string,
  result: ProcessedImage,
  stored: readonly { digest: string; bytes: number }[],
): ImageProcessed['payload'] {
  const { metadata } = result;
  return {
    original: originalDigest,
    width: metadata.width,
    height: metadata.height,
    format: metadata.format,
    ...(metadata.orientation !== undefined ? { orientation: metadata.orientation } : {}),
    ...(metadata.space !== undefined ? { space: metadata.space } : {}),
    hasAlpha: metadata.hasAlpha,
    dominantColor: result.dominantColor,
    placeholder: result.placeholder,
    renditions: result.renditions.map((r, i) => ({
      name: r.name,
      digest: stored[i]!.digest,
      bytes: stored[i]!.bytes,
      mediaType: r.mediaType,
      width: r.width,
      height: r.height,
    })),
  };
}

/** At most `size` tasks at once; the rest wait in arrival order. */
function createSemaphore(size: number): { run<T>(task: () => Promise<T>): Promise<T> } {
  let free = size;
  const waiting: (() => void)[] = [];
  return {
    async run(task) {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else free++;
      }
    },
  };
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message || 'unknown error').slice(0, 2_000);
}

/**
 * Create an image worker: takes jobs from the namespace's image queue, reads the
 * original from the blob store, makes renditions with sharp, stores them next to the
 * original (content-addressed) and appends ImageProcessed for the job's images. A file
 * that can never succeed fails at once (UnrecoverableError); anything else is retried
 * with backoff; either way the final failure is appended as ImageProcessingFailed.
 * Close it with `close()`, which lets running jobs finish.
 */
export function createImageWorker(options: ImageWorkerOptions): ImageWorker {
  const { log, blobs, names } = options;
  const logger = options.logger.child({ component: 'image-worker' });
  const processing = options.processing ?? {};
  const maxInputBytes = processing.maxInputBytes ?? DEFAULT_PROCESS_OPTIONS.maxInputBytes;
  const processor = options.processor ?? processImage;
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  const sharpSlots = createSemaphore(concurrency);
  const stats: ImageWorkerStats = { processed: 0, skipped: 0, failedAttempts: 0, failed: 0, recorded: 0 };
  const abort = new AbortController();
  // Jobs whose failure processJob has dealt with (the 'failed' listener handles the rest).
  const handledFailures = new WeakSet<ImageJob>();
  // Recordings started by event listeners, awaited by close().
  const background = new Set<Promise<unknown>>();

  async function recordAll(
    job: ImageJob,
    outcome: Outcome,
    prefetched?: Map<string, ImageProgress | undefined>,
  ): Promise<RecordResult[]> {
    const results: RecordResult[] = [];
    for (const imageId of job.data.imageIds) {
      const result = await recordOutcome(log, imageId, outcome, {
        source: WORKER_SOURCE,
        correlationId: job.id,
        signal: abort.signal,
        prefetched: prefetched?.get(imageId),
      });
      if (result.seq !== undefined) stats.recorded++;
      results.push(result);
    }
    return results;
  }

  /** The job's images as the log has them now. */
  async function readImages(job: ImageJob): Promise<Map<string, ImageProgress | undefined>> {
    const entries = await Promise.all(
      job.data.imageIds.map(async (id) => [id, await readImageProgress(log, id)] as const),
    );
    return new Map(entries);
  }

  /** On a retry: the result a previous run of this job already recorded, if any. */
  function alreadyRecorded(
    job: ImageJob,
    images: Map<string, ImageProgress | undefined>,
  ): ImageJobResult | undefined {
    const { digest } = job.data.original;
    let found: ImageJobResult | undefined;
    for (const progress of images.values()) {
      if (!progress || progress.state.original.digest !== digest || progress.state.removed) continue;
      const processed = progress.state.processed;
      if (!processed) return undefined;
      const { seq: _seq, ...payload } = processed;
      found = payload;
    }
    return found;
  }

  async function readOriginal(digest: string): Promise<Buffer> {
    const size = await blobs.size(digest);
    if (size === undefined) {
      // Ingest stores the original before appending its event, so this is a blob store
      // on another machine or a copy still under way: worth retrying, then a failure.
      throw new TransientError(`original ${digest} is not in the blob store (${blobs.root})`);
    }
    if (size > maxInputBytes) {
      throw new ImageRejectedError(
        'too-large',
        `file too large: ${size} bytes, the limit is ${maxInputBytes} bytes`,
      );
    }
    const bytes = await blobs.read(digest);
    if (digestOf(bytes) !== digest) {
      throw new ImageRejectedError('corrupt', `stored original does not match its digest ${digest}`);
    }
    return bytes;
  }

  async function processJob(job: ImageJob): Promise<ImageJobResult> {
    const jobLog = logger.child({ jobId: job.id, imageIds: job.data.imageIds });
    const { digest } = job.data.original;
    const isRetry = job.attemptsMade > 0 || job.attemptsStarted > 1 || job.stalledCounter > 0;
    // Read the job's images while sharp works, so recording costs one append, not a read too.
    const reading = readImages(job);
    reading.catch(() => {});
    try {
      if (isRetry) {
        const previous = alreadyRecorded(job, await reading);
        if (previous) {
          stats.skipped++;
          jobLog.info('result already in the log (a previous run recorded it); not processing again');
          return previous;
        }
      }
      const bytes = await readOriginal(digest);
      const started = performance.now();
      const result = await sharpSlots.run(() => processor(bytes, processing));
      const stored = await Promise.all(result.renditions.map((r) => blobs.put(r.bytes)));
      const payload = processedPayload(digest, result, stored);
      const images = await reading.catch(() => undefined);
      const records = await recordAll(job, { kind: 'processed', payload }, images);
      stats.processed++;
      jobLog.info(
        {
          ms: Math.round(performance.now() - started),
          records: records.map((r) => `${r.imageId}:${r.decision}`),
        },
        'image processed',
      );
      return payload;
    } catch (err) {
      stats.failedAttempts++;
      handledFailures.add(job);
      const permanent = err instanceof ImageRejectedError;
      const attempt = job.attemptsMade + 1;
      const final = permanent || attempt >= (job.opts.attempts ?? 1);
      if (final) {
        stats.failed++;
        const reason = reasonOf(err);
        try {
          await recordAll(job, { kind: 'failed', payload: { original: digest, reason, attempts: attempt } });
        } catch (recordErr) {
          // The job still fails visibly in the queue; the dispatcher records it later.
          jobLog.error({ err: recordErr }, 'could not record ImageProcessingFailed');
        }
      }
      if (err instanceof ImageRejectedError)
        jobLog.warn({ reason: err.message, code: err.code }, 'image rejected');
      else
        jobLog.warn(
          { err, attempt, final },
          final ? 'image processing failed for good' : 'image processing failed; will retry',
        );
      if (permanent) throw new UnrecoverableError(reasonOf(err));
      throw err;
    }
  }

  const worker = new Worker<ImageJobData, ImageJobResult>(names.queue('images'), processJob, {
    connection: options.connection,
    prefix: names.redisPrefix,
    concurrency: concurrency + Math.max(0, options.ioSlack ?? 1),
    autorun: options.autorun ?? true,
    ...(options.lockDuration !== undefined ? { lockDuration: options.lockDuration } : {}),
    ...(options.stalledInterval !== undefined ? { stalledInterval: options.stalledInterval } : {}),
    ...(options.maxStalledCount !== undefined ? { maxStalledCount: options.maxStalledCount } : {}),
  });
  worker.on('error', (err) => logger.error({ err }, 'image worker error'));
  worker.on('stalled', (jobId) => {
    logger.warn({ jobId }, 'job stalled (its worker died or blocked); it goes back to the queue');
  });
  // A job can fail without processJob seeing it: one that stalled more often than
  // allowed is failed by BullMQ when a worker next picks it up, before the processor
  // runs. Record those here so they do not end in silence.
  worker.on('failed', (job, err) => {
    if (!job || handledFailures.has(job)) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!final) return;
    stats.failed++;
    const payload = {
      original: job.data.original.digest,
      reason: reasonOf(err),
      attempts: Math.max(1, job.attemptsStarted, job.attemptsMade),
    };
    const recording = recordAll(job, { kind: 'failed', payload })
      .catch((recordErr) =>
        logger.error({ err: recordErr, jobId: job.id }, 'could not record ImageProcessingFailed'),
      )
      .finally(() => background.delete(recording));
    background.add(recording);
  });

  let closing: Promise<void> | undefined;
  return {
    worker,
    stats,
    close() {
      closing ??= (async () => {
        await worker.close();
        await Promise.all(background);
        abort.abort();
      })();
      return closing;
    },
  };
}
