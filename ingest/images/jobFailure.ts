import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { ImageJob } from './queue.ts';
import { recordForJob } from './recordForJob.ts';
import { ImageRejectedError } from './renditions.ts';
import type { WorkerContext } from './workerContext.ts';

/** A failure's message as an event's `reason`, bounded. */
export function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message || 'unknown error').slice(0, 2_000);
}

/**
 * A failed attempt of the processor. A rejected file (ImageRejectedError) can never
 * succeed: it becomes an UnrecoverableError, so BullMQ does not retry it. Anything else
 * is rethrown for BullMQ to retry with backoff. On the last attempt, either way,
 * ImageProcessingFailed is appended for the job's images first.
 */
export async function failAttempt(
  ctx: WorkerContext,
  job: ImageJob,
  err: unknown,
  jobLog: Logger,
): Promise<never> {
  ctx.stats.failedAttempts++;
  ctx.handledFailures.add(job);
  const permanent = err instanceof ImageRejectedError;
  const attempt = job.attemptsMade + 1;
  const final = permanent || attempt >= (job.opts.attempts ?? 1);
  if (final) {
    ctx.stats.failed++;
    const payload = { original: job.data.original.digest, reason: reasonOf(err), attempts: attempt };
    try {
      await recordForJob(ctx, job, { kind: 'failed', payload });
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

/**
 * The Worker's 'failed' event. A job can fail without the processor seeing it: one that
 * stalled more often than allowed is failed by BullMQ when a worker next picks it up,
 * before the processor runs. Its ImageProcessingFailed is recorded here, in the
 * background (`close()` waits for it), so that it does not end in silence.
 */
export function onJobFailed(ctx: WorkerContext, job: ImageJob | undefined, err: Error): void {
  if (!job || ctx.handledFailures.has(job)) return;
  const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
  if (!final) return;
  ctx.stats.failed++;
  const payload = {
    original: job.data.original.digest,
    reason: reasonOf(err),
    attempts: Math.max(1, job.attemptsStarted, job.attemptsMade),
  };
  const recording = recordForJob(ctx, job, { kind: 'failed', payload })
    .catch((recordErr) =>
      ctx.logger.error({ err: recordErr, jobId: job.id }, 'could not record ImageProcessingFailed'),
    )
    .finally(() => ctx.background.delete(recording));
  ctx.background.add(recording);
}
