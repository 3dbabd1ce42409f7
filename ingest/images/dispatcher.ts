import { PresslogError } from '../../schemas/errors.ts';
import { createDispatcherContext } from './dispatcherContext.ts';
import type { DispatchStats, ImageDispatcher, ImageDispatcherOptions } from './dispatcherTypes.ts';
import { followLog } from './follow.ts';
import { pollOnce } from './poll.ts';

export {
  type CheckpointStore,
  checkpointKey,
  createRedisCheckpoint,
  type KeyValueClient,
} from './checkpoint.ts';
export type {
  DispatchStats,
  ImageDispatcher,
  ImageDispatcherOptions,
  PendingImage,
} from './dispatcherTypes.ts';
export { type DrainOptions, type DrainStats, dispatchUntilDone } from './drain.ts';
export { DISPATCHER_SOURCE } from './reconcile.ts';

/**
 * Create the image dispatcher: tails the log's image events from a checkpoint, finds
 * images whose current original has no outcome (ImageProcessed or ImageProcessingFailed)
 * and enqueues them. Jobs are keyed by content, so an image whose bytes another image
 * already submitted joins that job: when the job finishes, the dispatcher records its
 * result (the job's return value, or its failure) for the late image too. It also records
 * the outcome of a job whose worker could not (a job that stalled too often, a log that
 * was down at the time), so that no image ends in silence.
 *
 * The checkpoint is a low-water mark: every image event at or below it is handled, i.e.
 * its image has an outcome or a job whose worker will record one. It never passes a
 * pending image, so a restart picks up everything still open.
 *
 * The parts live beside this file, as functions over one `DispatcherContext`:
 * `scanLog.ts` (the log → candidates → queue), `dispatchImage.ts` (enqueue and track),
 * `reconcile.ts` (finished jobs nobody recorded), `poll.ts` (one round and the
 * checkpoint), `follow.ts` (the live loop), `drain.ts` (until nothing is pending).
 */
export function createImageDispatcher(options: ImageDispatcherOptions): ImageDispatcher {
  const ctx = createDispatcherContext(options);
  /** Aborted by `close()`: ends a running `run()` (its pause too) and an in-flight poll. */
  const closed = new AbortController();
  /** Polls and runs in flight, awaited by `close()`. */
  const active = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;

  function track<T>(promise: Promise<T>): Promise<T> {
    const settled: Promise<unknown> = promise.then(
      () => active.delete(settled),
      () => active.delete(settled),
    );
    active.add(settled);
    return promise;
  }

  const stopOn = (signal: AbortSignal | undefined) =>
    signal ? AbortSignal.any([signal, closed.signal]) : closed.signal;

  return {
    poll(signal?: AbortSignal): Promise<DispatchStats> {
      if (closed.signal.aborted) return Promise.reject(new PresslogError('image dispatcher is closed'));
      return track(pollOnce(ctx, stopOn(signal)));
    },
    run(signal) {
      if (closed.signal.aborted) return Promise.resolve();
      return track(followLog(ctx, stopOn(signal)));
    },
    pending: () => [...ctx.tracked.values()],
    close() {
      closing ??= (async () => {
        closed.abort(new PresslogError('the image dispatcher was closed'));
        // Their failures belong to their callers; close() only waits for them to end.
        await Promise.all(active);
      })();
      return closing;
    },
  };
}
