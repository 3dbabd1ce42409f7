import type { BlobRef } from '../../schemas/imageEvents.ts';
import type { DispatcherContext } from './dispatcherContext.ts';

/**
 * Hand an image's original to the queue (its job is keyed by the content hash, so the
 * same bytes join one job) and track the image until its outcome is in the log. With
 * `retryFailed`, a job that failed for good is retried with fresh attempts.
 */
export async function dispatchImage(
  ctx: DispatcherContext,
  imageId: string,
  original: BlobRef,
  sinceSeq: number,
): Promise<void> {
  let result = await ctx.queue.enqueue(imageId, original);
  if (ctx.settings.retryFailed && result.state === 'failed') {
    await result.job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    result = await ctx.queue.enqueue(imageId, original);
  }
  const delay = ctx.settings.reconcileDelayMs;
  ctx.tracked.set(imageId, {
    imageId,
    original,
    jobId: result.jobId,
    sinceSeq,
    checkAt: Date.now() + delay,
    checkDelayMs: delay,
  });
  ctx.enqueued++;
  ctx.logger.debug(
    { imageId, jobId: result.jobId, status: result.status, state: result.state },
    'image enqueued',
  );
}
