import type { ContentLog, StoredEvent } from '../../log/types.ts';
import { TransientError } from '../../schemas/errors.ts';
import { deriveEventId } from '../../schemas/eventId.ts';
import type { ImageProcessed, ImageProcessingFailed } from '../../schemas/imageEvents.ts';
import { applyEvent, type EntityState, type ImageState } from '../../schemas/state.ts';

/**
 * Recording a processing outcome in the log, exactly once in effect. The worker and the
 * dispatcher both call {@link recordOutcome}; a crash between appending and completing
 * the job, a retried job, or two processes recording the same outcome all end with one
 * event, because:
 *  - the event id is deterministic on (image, original digest, sequence at which that
 *    original was set), so a repeat inside JetStream's duplicate window is a duplicate;
 *  - before appending, the entity's history is read and an outcome already there for
 *    this original is not written again (beyond the duplicate window);
 *  - the append carries the entity's last sequence, so a writer racing us is detected
 *    (ConcurrencyError), and we read again and decide again.
 */

/** An image's state plus the sequence of the event that set its current original. */
export interface ImageProgress {
  state: ImageState;
  /** Sequence of the ImageSubmitted/ImageUpdated that set `state.original` (the basis of outcome ids). */
  originalSeq: number;
}

/** Fold an image's history, remembering where its current original came from (pure). */
export function imageProgress(
  events: readonly Pick<StoredEvent, 'seq' | 'event'>[],
): ImageProgress | undefined {
  let state: EntityState | undefined;
  let originalSeq = 0;
  for (const { seq, event } of events) {
    const before = state?.entityType === 'image' ? state.original.digest : undefined;
    state = applyEvent(state, event, seq);
    if (state.entityType === 'image' && state.original.digest !== before) originalSeq = seq;
  }
  return state?.entityType === 'image' ? { state, originalSeq } : undefined;
}

const NO_ORIGINAL = `sha256:${'0'.repeat(64)}`;

/**
 * Read an image's history and fold it. An unreadable message in it is skipped rather
 * than thrown: it cannot be an outcome we would recognise, and throwing would make every
 * retry of the job fail the same way.
 */
export async function readImageProgress(
  log: ContentLog,
  imageId: string,
): Promise<ImageProgress | undefined> {
  return imageProgress(await log.readEntity('image', imageId, { onUnreadable: () => {} }));
}

/** Whether an image still waits for an outcome for its current original (pure). */
export function needsProcessing(
  progress: ImageProgress | undefined,
  options: { retryFailed?: boolean } = {},
): boolean {
  if (!progress) return false;
  const { state } = progress;
  // An update or removal for an image never submitted leaves a placeholder original.
  if (state.removed || state.original.digest === NO_ORIGINAL) return false;
  if (state.processed) return false;
  if (state.failed && !options.retryFailed) return false;
  return true;
}

export type Outcome =
  | { kind: 'processed'; payload: ImageProcessed['payload'] }
  | { kind: 'failed'; payload: ImageProcessingFailed['payload'] };

export type RecordDecision =
  /** Append the outcome. */
  | 'record'
  /** The log already has an outcome for this original that this one must not follow. */
  | 'already-recorded'
  /** The image's original has been replaced since; the outcome is for old bytes. */
  | 'stale'
  | 'removed'
  /** No such image in the log. */
  | 'unknown-image';

/** Decide whether an outcome should be appended for an image (pure). */
export function decideRecord(progress: ImageProgress | undefined, outcome: Outcome): RecordDecision {
  if (!progress) return 'unknown-image';
  const { state } = progress;
  if (state.original.digest !== outcome.payload.original) return 'stale';
  if (state.removed) return 'removed';
  if (state.processed) return 'already-recorded';
  // A success after a recorded failure is news (a retry worked); a second failure is not.
  if (state.failed && outcome.kind === 'failed') return 'already-recorded';
  return 'record';
}

const EVENT_TYPE = { processed: 'ImageProcessed', failed: 'ImageProcessingFailed' } as const;

/** The outcome as an event with its deterministic id (pure but for the clock). */
export function outcomeEvent(
  imageId: string,
  basisSeq: number,
  outcome: Outcome,
  meta: { source: string; correlationId?: string; now?: Date },
): ImageProcessed | ImageProcessingFailed {
  const type = EVENT_TYPE[outcome.kind];
  // The id covers the decision (which image, which bytes, which submission of them), not
  // the result's bytes: a retry on a worker with another libvips build is still the same event.
  const id = deriveEventId({
    type,
    entityType: 'image',
    entityId: imageId,
    payload: { original: outcome.payload.original },
    basisSeq,
  });
  const at = (meta.now ?? new Date()).toISOString();
  const envelope = {
    id,
    version: 1 as const,
    entityType: 'image' as const,
    entityId: imageId,
    occurredAt: at,
    recordedAt: at,
    source: meta.source,
    ...(meta.correlationId ? { correlationId: meta.correlationId } : {}),
  };
  return outcome.kind === 'processed'
    ? { ...envelope, type: 'ImageProcessed', payload: outcome.payload }
    : { ...envelope, type: 'ImageProcessingFailed', payload: outcome.payload };
}

export interface RecordResult {
  imageId: string;
  decision: RecordDecision;
  /** Set when an event was appended (or found a duplicate of itself). */
  seq?: number;
  eventId?: string;
  duplicate?: boolean;
}

export interface RecordOptions {
  source: string;
  correlationId?: string;
  signal?: AbortSignal;
  /** Conflicts tolerated before giving up (default 5). */
  maxConflicts?: number;
  /**
   * The image's progress read earlier (e.g. while sharp was running), used for the first
   * attempt instead of a fresh read. Safe: if anything was appended since, the append's
   * expected last sequence no longer matches, and the image is read again.
   */
  prefetched?: ImageProgress;
}

/**
 * Append an outcome for one image unless the log already has it (see the module comment).
 * Throws TransientError when the log did not take the event; the caller retries.
 */
export async function recordOutcome(
  log: ContentLog,
  imageId: string,
  outcome: Outcome,
  options: RecordOptions,
): Promise<RecordResult> {
  const maxConflicts = options.maxConflicts ?? 5;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    const progress =
      attempt === 0 && options.prefetched ? options.prefetched : await readImageProgress(log, imageId);
    const decision = decideRecord(progress, outcome);
    if (decision !== 'record' || !progress) return { imageId, decision };
    const event = outcomeEvent(imageId, progress.originalSeq, outcome, options);
    const stats = await log.append([{ event, expectedLastSeq: progress.state.lastSeq }], {
      signal: options.signal,
    });
    const result = stats.outcomes[0];
    if (!result) throw new TransientError(`append of ${event.type} for image ${imageId} returned no outcome`);
    switch (result.status) {
      case 'appended':
      case 'duplicate':
        return {
          imageId,
          decision,
          seq: result.seq,
          eventId: event.id,
          duplicate: result.status === 'duplicate',
        };
      case 'conflict':
        // Someone appended to this image meanwhile (a caption edit, another worker): decide again.
        if (attempt + 1 >= maxConflicts) {
          throw new TransientError(`image ${imageId}: ${maxConflicts} concurrent appends in a row`, {
            cause: result.error,
          });
        }
        continue;
      case 'invalid':
        // Our own event broke its schema: a bug, not something a retry fixes.
        throw result.error;
      case 'failed':
        throw new TransientError(
          `append of ${event.type} for image ${imageId} failed: ${result.error.message}`,
          {
            cause: result.error,
          },
        );
    }
  }
}
