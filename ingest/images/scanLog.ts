import type { DispatcherContext } from './dispatcherContext.ts';
import { dispatchImage } from './dispatchImage.ts';
import { needsProcessing, readImageProgress } from './record.ts';

/** The latest original of an image seen in a stretch of the log, and where it was set. */
interface Candidate {
  seq: number;
  digest: string;
}

/** Where the first poll starts: the stored checkpoint, or sequence 0 with `fullScan`. */
async function resumeCursor(ctx: DispatcherContext): Promise<number> {
  if (ctx.cursor !== undefined) return ctx.cursor;
  const stored = ctx.checkpoint ? await ctx.checkpoint.get() : 0;
  ctx.savedCheckpoint = stored;
  ctx.cursor = ctx.settings.fullScan ? 0 : stored;
  ctx.logger.info({ fromSeq: ctx.cursor + 1 }, 'dispatcher starting');
  return ctx.cursor;
}

/**
 * Read the image events from the cursor to the log's head and enqueue every image whose
 * current original has no outcome yet. Returns the number of image events read.
 */
export async function scanLog(ctx: DispatcherContext, signal: AbortSignal | undefined): Promise<number> {
  const from = await resumeCursor(ctx);
  const head = await ctx.log.head();
  if (head.lastSeq <= from) return 0;
  const { candidates, events } = await readCandidates(ctx, from + 1, head.lastSeq, signal);
  await enqueueCandidates(ctx, candidates, signal);
  // Only now is the stretch handled: had an enqueue failed (Redis away), the next poll
  // reads it again rather than leave its images behind the checkpoint without a job.
  // It ends at the head even when its last events were not images.
  ctx.cursor = head.lastSeq;
  return events;
}

/**
 * Fold a stretch of image events into the images that may need processing; an outcome or
 * a removal in the stretch also ends the tracking of an image waiting for it.
 */
async function readCandidates(
  ctx: DispatcherContext,
  fromSeq: number,
  untilSeq: number,
  signal: AbortSignal | undefined,
): Promise<{ candidates: Map<string, Candidate>; events: number }> {
  const { tracked } = ctx;
  const candidates = new Map<string, Candidate>();
  let events = 0;
  for await (const item of ctx.log.replay({ fromSeq, untilSeq, entityType: 'image', signal })) {
    if (item.kind === 'erased') continue;
    if (item.kind !== 'event') {
      ctx.logger.warn(
        { seq: item.unreadable.seq, reason: item.unreadable.reason },
        'unreadable image event skipped',
      );
      continue;
    }
    events++;
    const { event, seq } = item.stored;
    const id = event.entityId;
    switch (event.type) {
      case 'ImageSubmitted':
        candidates.set(id, { seq, digest: event.payload.original.digest });
        break;
      case 'ImageUpdated':
        if (event.payload.original) candidates.set(id, { seq, digest: event.payload.original.digest });
        break;
      case 'ImageProcessed':
      case 'ImageProcessingFailed': {
        const retryable = event.type === 'ImageProcessingFailed' && ctx.settings.retryFailed;
        if (!retryable && candidates.get(id)?.digest === event.payload.original) candidates.delete(id);
        if (tracked.get(id)?.original.digest === event.payload.original) tracked.delete(id);
        break;
      }
      case 'ImageRemoved':
        candidates.delete(id);
        tracked.delete(id);
        break;
    }
  }
  return { candidates, events };
}

async function enqueueCandidates(
  ctx: DispatcherContext,
  candidates: Map<string, Candidate>,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const [imageId, candidate] of candidates) {
    signal?.throwIfAborted();
    // The stretch alone cannot tell (an earlier event may have processed the same
    // bytes), so the image's whole history decides.
    const progress = await readImageProgress(ctx.log, imageId);
    if (!needsProcessing(progress, { retryFailed: ctx.settings.retryFailed }) || !progress) {
      ctx.tracked.delete(imageId);
      continue;
    }
    await dispatchImage(ctx, imageId, progress.state.original, Math.min(candidate.seq, progress.originalSeq));
  }
}
