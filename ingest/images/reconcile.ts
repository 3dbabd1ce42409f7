import type { DispatcherContext } from './dispatcherContext.ts';
import type { PendingImage } from './dispatcherTypes.ts';
import { dispatchImage } from './dispatchImage.ts';
import type { ImageJob } from './queue.ts';
import { type Outcome, recordOutcome } from './record.ts';

/** The `source` of outcome events the dispatcher records for late entities. */
export const DISPATCHER_SOURCE = 'presslog/images-dispatcher';

/** A tracked image whose job is finished (or gone). */
export interface FinishedJob {
  pending: PendingImage;
  job: ImageJob | undefined;
  state: string;
}

const FINISHED = new Set(['completed', 'failed', 'missing', 'unknown']);

/**
 * Tracked images due for a look whose job is finished (or gone), at most
 * `reconcileBatch` of them; a job still running is looked at again later, with the delay
 * doubled up to 30 s.
 */
export async function finishedJobs(ctx: DispatcherContext): Promise<FinishedJob[]> {
  const out: FinishedJob[] = [];
  let checked = 0;
  const now = Date.now();
  for (const pending of ctx.tracked.values()) {
    if (pending.checkAt > now) continue;
    if (checked++ >= ctx.settings.reconcileBatch) break;
    const job = await ctx.queue.getJob(pending.original.digest);
    const state = job ? await job.getState() : 'missing';
    if (FINISHED.has(state)) {
      out.push({ pending, job, state });
    } else {
      pending.checkDelayMs = Math.min(pending.checkDelayMs * 2, 30_000);
      pending.checkAt = now + pending.checkDelayMs;
    }
  }
  return out;
}

/** A finished job's outcome for these bytes; undefined when it holds no usable result (pure). */
export function outcomeOf(job: ImageJob, state: string, digest: string): Outcome | undefined {
  if (state === 'completed') {
    const result = job.returnvalue;
    return result && result.original === digest ? { kind: 'processed', payload: result } : undefined;
  }
  return {
    kind: 'failed',
    payload: {
      original: digest,
      reason: (job.failedReason || 'failed without a reason').slice(0, 2_000),
      attempts: Math.max(1, job.attemptsMade),
    },
  };
}

/**
 * Record the outcome of finished jobs that nobody recorded for an image still waiting
 * (a late entity with the same bytes, a job that stalled out), or enqueue the image again
 * when its job is gone. Returns the number of events appended.
 */
export async function recordFinished(
  ctx: DispatcherContext,
  finished: readonly FinishedJob[],
  signal: AbortSignal | undefined,
): Promise<number> {
  let recorded = 0;
  for (const { pending, job, state } of finished) {
    signal?.throwIfAborted();
    const current = ctx.tracked.get(pending.imageId);
    if (!current || current.original.digest !== pending.original.digest) continue;
    const outcome = job ? outcomeOf(job, state, pending.original.digest) : undefined;
    if (!outcome) {
      // The job was removed (retention, obliterate) or holds no usable result: do it again.
      if (job) await job.remove().catch(() => {});
      ctx.logger.info(
        { imageId: pending.imageId, jobId: pending.jobId, state },
        'job gone before its outcome was recorded; enqueueing again',
      );
      await dispatchImage(ctx, pending.imageId, pending.original, pending.sinceSeq);
      continue;
    }
    const result = await recordOutcome(ctx.log, pending.imageId, outcome, {
      source: DISPATCHER_SOURCE,
      correlationId: pending.jobId,
      signal,
    });
    if (result.seq !== undefined) recorded++;
    ctx.logger.info(
      { imageId: pending.imageId, jobId: pending.jobId, decision: result.decision, kind: outcome.kind },
      'outcome of a finished job recorded',
    );
    ctx.tracked.delete(pending.imageId);
  }
  return recorded;
}
