import type { ConnectionOptions, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { BlobStore } from '../../log/blobStore.ts';
import type { ContentLog } from '../../log/types.ts';
import type { Names } from '../../schemas/names.ts';
import type { ImageJobData, ImageJobResult } from './queue.ts';
import type { ProcessedImage, ProcessImageOptions } from './renditions.ts';

export interface ImageWorkerOptions {
  /** BullMQ connection; an ioredis instance must have `maxRetriesPerRequest: null`. */
  connection: ConnectionOptions;
  names: Names;
  log: ContentLog;
  blobs: BlobStore;
  logger: Logger;
  /**
   * Images sharp works on at once (default: the number of CPUs; each keeps about one core
   * busy). The worker takes `concurrency + ioSlack` jobs at once, so the reading, storing
   * and recording of some jobs overlaps the sharp work of others instead of idling a core.
   */
  concurrency?: number;
  /** Jobs in flight beyond `concurrency`, doing I/O while the others use sharp (default 1). */
  ioSlack?: number;
  /** Limits and sizes for sharp; see ProcessImageOptions. */
  processing?: ProcessImageOptions;
  /**
   * How long a job's lock lasts without renewal (default 30 s). A worker that dies
   * (SIGKILL, OOM) stops renewing; once the lock expires the stalled-job check hands the
   * job to another worker.
   */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs (default 30 s). */
  stalledInterval?: number;
  /**
   * How often a job may stall before it fails for good (default 1): a file that kills
   * its worker every time must not take the fleet down with it forever.
   */
  maxStalledCount?: number;
  /**
   * The bytes-to-renditions function (default `processImage`). Replaceable so that a
   * deployment can move it elsewhere, and a test can make it slow enough to kill mid-job.
   */
  processor?: (bytes: Uint8Array, options: ProcessImageOptions) => Promise<ProcessedImage>;
  /** Start taking jobs at once (default true). */
  autorun?: boolean;
}

export interface ImageWorkerStats {
  /** Jobs that ran sharp and recorded their result. */
  processed: number;
  /** Jobs whose result was already in the log (a retried job whose first run had recorded it). */
  skipped: number;
  /** Failed attempts (retried or final). */
  failedAttempts: number;
  /** Jobs that failed for good. */
  failed: number;
  /** Events appended (or found already appended) by this worker. */
  recorded: number;
}

export interface ImageWorker {
  readonly worker: Worker<ImageJobData, ImageJobResult>;
  readonly stats: Readonly<ImageWorkerStats>;
  /**
   * Stop taking jobs and wait for the running ones to finish, and for the failures being
   * recorded. Idempotent (the same promise every time); closes nothing it was given.
   */
  close(): Promise<void>;
}
