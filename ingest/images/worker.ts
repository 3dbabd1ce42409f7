import { Worker } from 'bullmq';
import { onJobFailed } from './jobFailure.ts';
import { processJob } from './processJob.ts';
import type { ImageJobData, ImageJobResult } from './queue.ts';
import { createWorkerContext, type WorkerContext } from './workerContext.ts';
import type { ImageWorker, ImageWorkerOptions } from './workerTypes.ts';

export { processedPayload } from './processedPayload.ts';
export { WORKER_SOURCE } from './recordForJob.ts';
export type { ImageWorker, ImageWorkerOptions, ImageWorkerStats } from './workerTypes.ts';

/**
 * Create an image worker: takes jobs from the namespace's image queue, reads the
 * original from the blob store, makes renditions with sharp, stores them next to the
 * original (content-addressed) and appends ImageProcessed for the job's images. A file
 * that can never succeed fails at once (UnrecoverableError); anything else is retried
 * with backoff; either way the final failure is appended as ImageProcessingFailed.
 * Close it with `close()`, which lets running jobs finish.
 *
 * The parts live beside this file, as functions over one `WorkerContext`:
 * `processJob.ts` (the processor), `readOriginal.ts`, `processedPayload.ts`,
 * `recordForJob.ts`, `jobFailure.ts` (a failed attempt, a job failed behind our back).
 */
export function createImageWorker(options: ImageWorkerOptions): ImageWorker {
  const abort = new AbortController();
  const ctx = createWorkerContext(options, abort.signal);
  const { names } = options;
  const worker = new Worker<ImageJobData, ImageJobResult>(
    names.queue('images'),
    (job) => processJob(ctx, job),
    {
      connection: options.connection,
      prefix: names.redisPrefix,
      concurrency: ctx.concurrency + Math.max(0, options.ioSlack ?? 1),
      autorun: options.autorun ?? true,
      ...(options.lockDuration !== undefined ? { lockDuration: options.lockDuration } : {}),
      ...(options.stalledInterval !== undefined ? { stalledInterval: options.stalledInterval } : {}),
      ...(options.maxStalledCount !== undefined ? { maxStalledCount: options.maxStalledCount } : {}),
    },
  );
  worker.on('error', (err) => ctx.logger.error({ err }, 'image worker error'));
  worker.on('stalled', (jobId) => {
    ctx.logger.warn({ jobId }, 'job stalled (its worker died or blocked); it goes back to the queue');
  });
  worker.on('failed', (job, err) => onJobFailed(ctx, job, err));

  let closing: Promise<void> | undefined;
  return {
    worker,
    stats: ctx.stats,
    close() {
      closing ??= closeWorker(ctx, worker, abort);
      return closing;
    },
  };
}

/**
 * Stop taking jobs and let the running ones finish, then wait for the failures being
 * recorded in the background, then abort whatever is left. The later steps run even
 * when closing the BullMQ worker fails; that failure is then what `close()` rejects with.
 */
async function closeWorker(ctx: WorkerContext, worker: Worker, abort: AbortController): Promise<void> {
  try {
    await worker.close();
  } finally {
    // Each recording catches its own failure, so this waits without throwing.
    await Promise.all(ctx.background);
    abort.abort();
  }
}
