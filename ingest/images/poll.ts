import type { DispatcherContext } from './dispatcherContext.ts';
import type { DispatchStats } from './dispatcherTypes.ts';
import { finishedJobs, recordFinished } from './reconcile.ts';
import { scanLog } from './scanLog.ts';

/** One round: read the log to its head, enqueue what needs it, reconcile finished jobs. */
export async function pollOnce(
  ctx: DispatcherContext,
  signal: AbortSignal | undefined,
): Promise<DispatchStats> {
  const enqueuedAtStart = ctx.enqueued;
  // Which jobs had finished is read before the log: a worker appends before completing
  // its job, so any outcome it recorded is in the log read next, and only outcomes
  // nobody recorded are left for us.
  const finished = await finishedJobs(ctx);
  const events = await scanLog(ctx, signal);
  const recorded = await recordFinished(ctx, finished, signal);
  await saveCheckpoint(ctx);
  return {
    cursor: ctx.cursor ?? 0,
    events,
    enqueued: ctx.enqueued - enqueuedAtStart,
    recorded,
    pending: ctx.tracked.size,
  };
}

/**
 * Store the low-water mark: the cursor, but never past an image still waiting for its
 * outcome, so a restart picks up everything still open.
 */
async function saveCheckpoint(ctx: DispatcherContext): Promise<void> {
  if (!ctx.checkpoint || ctx.cursor === undefined) return;
  let low = ctx.cursor;
  for (const p of ctx.tracked.values()) low = Math.min(low, p.sinceSeq - 1);
  if (low === ctx.savedCheckpoint) return;
  await ctx.checkpoint.set(low);
  ctx.savedCheckpoint = low;
}
