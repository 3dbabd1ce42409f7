import type { Logger } from 'pino';
import type { ContentLog } from '../../log/types.ts';
import type { BlobRef } from '../../schemas/imageEvents.ts';
import type { CheckpointStore } from './checkpoint.ts';
import type { ImageQueue } from './queue.ts';

export interface ImageDispatcherOptions {
  log: ContentLog;
  queue: ImageQueue;
  logger: Logger;
  /** Resume from here; without one every start scans the image events from the beginning. */
  checkpoint?: CheckpointStore;
  /** Ignore the stored checkpoint and scan from sequence 1 (it is still written). */
  fullScan?: boolean;
  /** Treat images whose processing failed as unprocessed (their failed jobs are retried). */
  retryFailed?: boolean;
  /** Pause between polls of the log when it has nothing new (default 1000 ms). */
  pollIntervalMs?: number;
  /** Tracked images whose job state is checked per poll at most (default 200, oldest first). */
  reconcileBatch?: number;
  /**
   * How long an image waits for its outcome before the dispatcher looks at its job
   * (default 1000 ms), doubling up to 30 s while the job runs. Workers record outcomes
   * themselves; this check is for the few they cannot (late entities with the same bytes,
   * stalled-out jobs), so it stays off the hot path.
   */
  reconcileDelayMs?: number;
}

/** An image the dispatcher handed to the queue and whose outcome is not in the log yet. */
export interface PendingImage {
  imageId: string;
  original: BlobRef;
  jobId: string;
  /** Sequence of the event that made it a candidate; the checkpoint stays below it. */
  sinceSeq: number;
  /** When (ms since epoch) to look at its job next. */
  checkAt: number;
  checkDelayMs: number;
}

export interface DispatchStats {
  /** Log sequence read up to. */
  cursor: number;
  /** Image events read in this poll. */
  events: number;
  /** Images handed to the queue (new jobs or jobs already there). */
  enqueued: number;
  /** Outcomes of finished jobs recorded by the dispatcher (late entities, lost records). */
  recorded: number;
  /** Images still waiting for an outcome. */
  pending: number;
}

export interface ImageDispatcher {
  /** Read the log from the cursor to its head, enqueue what needs processing, reconcile finished jobs. */
  poll(signal?: AbortSignal): Promise<DispatchStats>;
  /** Poll until the signal aborts (or the dispatcher is closed). */
  run(signal: AbortSignal): Promise<void>;
  pending(): PendingImage[];
  /**
   * Stop: a running `run()` or `poll()` is aborted and awaited. Idempotent (the same
   * promise every time); closes nothing it was given.
   */
  close(): Promise<void>;
}
