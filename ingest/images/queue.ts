import { type ConnectionOptions, type Job, type JobsOptions, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { BlobRef, ImageProcessed } from '../../schemas/imageEvents.ts';
import type { Names } from '../../schemas/names.ts';

/**
 * The image job queue. One job per original's content: the job id is the digest
 * (`sha256-<hex>`, since BullMQ refuses ':' in custom ids), so the same bytes are
 * processed once however often they are submitted. The job carries the image entities
 * known to want these bytes when it was created; the worker records the result for
 * those, and the dispatcher records a finished job's result for any entity that turned
 * up later with the same bytes (see dispatcher.ts). Renditions are content-addressed,
 * so the result of a job is a fact about the bytes, valid for every entity holding them.
 */

export interface ImageJobData {
  original: BlobRef;
  /** The image entities that asked for these bytes when the job was created. */
  imageIds: string[];
}

/** A job's return value: the ImageProcessed payload, the same for every entity with these bytes. */
export type ImageJobResult = ImageProcessed['payload'];

export type ImageJob = Job<ImageJobData, ImageJobResult>;

export const IMAGE_JOB_NAME = 'process';

/** BullMQ job id of an original: `sha256-<hex>`. */
export function imageJobId(digest: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!match) throw new Error(`not a blob digest: ${JSON.stringify(digest)}`);
  return `sha256-${match[1]}`;
}

export interface ImageQueueOptions {
  /** BullMQ connection: an ioredis instance (shared, not closed by the queue) or its options. */
  connection: ConnectionOptions;
  names: Names;
  /** Attempts per job before it fails for good (default 5). */
  attempts?: number;
  /** First retry delay in ms; doubled each time (default 2000: 2, 4, 8, 16 s). */
  backoffMs?: number;
  /** Keep completed jobs this long (default 7 days, at most 50 000). */
  keepCompletedSeconds?: number;
  /** Keep failed jobs this long, to inspect them with `presslog images status` (default 30 days). */
  keepFailedSeconds?: number;
  /** Where connection errors go (ioredis retries them; an emitter without a listener would crash). */
  logger?: Logger;
}

export type EnqueueStatus =
  /** A new job was created for this image. */
  | 'added'
  /** A job for these bytes already lists this image. */
  | 'queued'
  /** A job for these bytes exists for other images; its result applies to this one too. */
  | 'shared';

export interface EnqueueResult {
  jobId: string;
  status: EnqueueStatus;
  /** The job's state right after enqueueing: waiting, active, delayed, completed, failed... */
  state: string;
  job: ImageJob;
}

export interface ImageQueue {
  readonly queue: Queue<ImageJobData, ImageJobResult>;
  readonly name: string;
  /** Ask for an image's original to be processed; see {@link enqueueImage}. */
  enqueue(imageId: string, original: BlobRef): Promise<EnqueueResult>;
  getJob(digest: string): Promise<ImageJob | undefined>;
  counts(): Promise<ImageQueueCounts>;
  /** The most recent failed jobs, newest first. */
  failed(limit?: number): Promise<FailedImageJob[]>;
  /** Idempotent; does not close an injected ioredis connection. */
  close(): Promise<void>;
}

export interface ImageQueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  prioritized: number;
  paused: number;
}

export interface FailedImageJob {
  jobId: string;
  digest: string;
  imageIds: string[];
  reason: string;
  attempts: number;
  failedAt?: string;
}

export function defaultJobOptions(
  options: Omit<ImageQueueOptions, 'connection' | 'names'> = {},
): JobsOptions {
  const keepCompleted = options.keepCompletedSeconds ?? 7 * 24 * 3600;
  const keepFailed = options.keepFailedSeconds ?? 30 * 24 * 3600;
  return {
    attempts: options.attempts ?? 5,
    backoff: { type: 'exponential', delay: options.backoffMs ?? 2_000 },
    // A completed job's return value is the result for late entities with the same bytes;
    // a failed one is what `images status` shows. Both are bounded by age and count.
    removeOnComplete: { age: keepCompleted, count: 50_000 },
    removeOnFail: { age: keepFailed, count: 50_000 },
  };
}

/**
 * Ask for an image's original to be processed. Idempotent: the job id is the digest,
 * so a second call for the same bytes finds the existing job instead of adding one.
 * BullMQ's `add` with an existing id returns a Job built from the arguments rather than
 * the stored job, so the stored job is read back to tell which case happened.
 */
export async function enqueueImage(
  queue: Queue<ImageJobData, ImageJobResult>,
  imageId: string,
  original: BlobRef,
): Promise<EnqueueResult> {
  const jobId = imageJobId(original.digest);
  let job = (await queue.getJob(jobId)) as ImageJob | undefined;
  let added = false;
  if (!job) {
    await queue.add(IMAGE_JOB_NAME, { original, imageIds: [imageId] }, { jobId });
    job = (await queue.getJob(jobId)) as ImageJob | undefined;
    added = true;
  }
  if (!job) {
    // Added and already gone: only possible when completed jobs are not kept at all.
    throw new Error(`image job ${jobId} vanished right after it was added (is removeOnComplete true?)`);
  }
  const listed = job.data.imageIds.includes(imageId);
  const state = await job.getState();
  return { jobId, status: listed ? (added ? 'added' : 'queued') : 'shared', state, job };
}

/** Create the image queue of a namespace (`names.queue('images')`, keys under `names.redisPrefix`). */
export function createImageQueue(options: ImageQueueOptions): ImageQueue {
  const name = options.names.queue('images');
  const queue = new Queue<ImageJobData, ImageJobResult>(name, {
    connection: options.connection,
    prefix: options.names.redisPrefix,
    defaultJobOptions: defaultJobOptions(options),
  });
  const log = options.logger?.child({ component: 'image-queue', queue: name });
  queue.on('error', (err) => log?.warn({ err }, 'image queue connection error'));
  let closing: Promise<void> | undefined;
  return {
    queue,
    name,
    enqueue: (imageId, original) => enqueueImage(queue, imageId, original),
    getJob: async (digest) => (await queue.getJob(imageJobId(digest))) as ImageJob | undefined,
    async counts() {
      const c = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'completed',
        'failed',
        'prioritized',
        'paused',
      );
      return {
        waiting: c.waiting ?? 0,
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
        prioritized: c.prioritized ?? 0,
        paused: c.paused ?? 0,
      };
    },
    async failed(limit = 20) {
      const jobs = (await queue.getFailed(0, Math.max(0, limit - 1))) as ImageJob[];
      return jobs.filter(Boolean).map((job) => ({
        jobId: job.id ?? '',
        digest: job.data.original.digest,
        imageIds: job.data.imageIds,
        reason: job.failedReason,
        attempts: job.attemptsMade,
        ...(job.finishedOn ? { failedAt: new Date(job.finishedOn).toISOString() } : {}),
      }));
    },
    close() {
      closing ??= queue.close();
      return closing;
    },
  };
}
