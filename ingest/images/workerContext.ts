import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { BlobStore } from '../../log/blobStore.ts';
import type { ContentLog } from '../../log/types.ts';
import type { ImageJob } from './queue.ts';
import {
  DEFAULT_PROCESS_OPTIONS,
  type ProcessedImage,
  type ProcessImageOptions,
  processImage,
} from './renditions.ts';
import { createSemaphore, type Semaphore } from './semaphore.ts';
import type { ImageWorkerOptions, ImageWorkerStats } from './workerTypes.ts';

/**
 * What the worker's parts share: clients, sharp settings, the stats, and the bookkeeping
 * of failures. The functions beside this file take it as their first argument.
 */
export interface WorkerContext {
  readonly log: ContentLog;
  readonly blobs: BlobStore;
  readonly logger: Logger;
  readonly processing: ProcessImageOptions;
  readonly maxInputBytes: number;
  readonly processor: (bytes: Uint8Array, options: ProcessImageOptions) => Promise<ProcessedImage>;
  /** Images sharp works on at once (`concurrency`; the worker takes a few more jobs for I/O). */
  readonly concurrency: number;
  readonly sharpSlots: Semaphore;
  readonly stats: ImageWorkerStats;
  /** Aborted by `close()` once running jobs and recordings are done: nothing may outlive it. */
  readonly signal: AbortSignal;
  /** Jobs whose failure the processor has dealt with (the 'failed' listener handles the rest). */
  readonly handledFailures: WeakSet<ImageJob>;
  /** Recordings started by event listeners, awaited by `close()`. */
  readonly background: Set<Promise<unknown>>;
}

export function createWorkerContext(options: ImageWorkerOptions, signal: AbortSignal): WorkerContext {
  const processing = options.processing ?? {};
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  return {
    log: options.log,
    blobs: options.blobs,
    logger: options.logger.child({ component: 'image-worker' }),
    processing,
    maxInputBytes: processing.maxInputBytes ?? DEFAULT_PROCESS_OPTIONS.maxInputBytes,
    processor: options.processor ?? processImage,
    concurrency,
    sharpSlots: createSemaphore(concurrency),
    stats: { processed: 0, skipped: 0, failedAttempts: 0, failed: 0, recorded: 0 },
    signal,
    handledFailures: new WeakSet(),
    background: new Set(),
  };
}
