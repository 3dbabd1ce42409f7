import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ContentLog } from '../../log/types.ts';
import type { BlobRef } from '../../schemas/imageEvents.ts';
import type { ImageJob, ImageQueue } from './queue.ts';
import { needsProcessing, type Outcome, readImageProgress, recordOutcome } from './record.ts';

/** The `source` of outcome events the dispatcher records for late entities. */
export const DISPATCHER_SOURCE = 'presslog/images-dispatcher';

/** Where the dispatcher keeps the sequence up to which every image event is handled. */
export interface CheckpointStore {
  get(): Promise<number>;
  set(seq: number): Promise<void>;
}

/** The subset of ioredis the checkpoint needs. */
export interface KeyValueClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
}

/** A checkpoint in one Redis key, e.g. `<ns>:images:checkpoint` (next to the queue it feeds). */
export function createRedisCheckpoint(redis: KeyValueClient, key: string): CheckpointStore {
  return {
    async get() {
      const raw = await redis.get(key);
      const seq = raw === null ? 0 : Number(raw);
      return Number.isSafeInteger(seq) && seq >= 0 ? seq : 0;
    },
    async set(seq) {
      await redis.set(key, String(seq));
    },
  };
}

/** The Redis key of a namespace's dispatcher checkpoint. */
export function checkpointKey(redisPrefix: string): string {
  return `${redisPrefix}:images:checkpoint`;
}

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
  /** Poll until the signal aborts. */
  run(signal: AbortSignal): Promise<void>;
  pending(): PendingImage[];
  /** Idempotent; closes nothing it was given. */
  close(): Promise<void>;
}

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
 */
export function createImageDispatcher(options: ImageDispatcherOptions): ImageDispatcher {
  const { log, queue } = options;
  const logger = options.logger.child({ component: 'image-dispatcher' });
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const reconcileBatch = options.reconcileBatch ?? 200;
  const reconcileDelayMs = options.reconcileDelayMs ?? 1_000;
  const tracked = new Map<string, PendingImage>();
  let cursor: number | undefined;
  let savedCheckpoint: number | undefined;
  let closed = false;
  let enqueuedCount = 0;

  async function start(): Promise<number> {
    if (cursor !== undefined) return cursor;
    const stored = options.checkpoint ? await options.checkpoint.get() : 0;
    savedCheckpoint = stored;
    cursor = options.fullScan ? 0 : stored;
    logger.info({ fromSeq: cursor + 1 }, 'dispatcher starting');
    return cursor;
  }

  async function enqueue(imageId: string, original: BlobRef, sinceSeq: number): Promise<void> {
    let result = await queue.enqueue(imageId, original);
    if (options.retryFailed && result.state === 'failed') {
      await result.job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      result = await queue.enqueue(imageId, original);
    }
    tracked.set(imageId, {
      imageId,
      original,
      jobId: result.jobId,
      sinceSeq,
      checkAt: Date.now() + reconcileDelayMs,
      checkDelayMs: reconcileDelayMs,
    });
    enqueuedCount++;
    logger.debug(
      { imageId, jobId: result.jobId, status: result.status, state: result.state },
      'image enqueued',
    );
  }

  /** Tracked images whose job is finished (or gone), checked before reading the log. */
  async function finishedJobs(): Promise<
    { pending: PendingImage; job: ImageJob | undefined; state: string }[]
  > {
    const out: { pending: PendingImage; job: ImageJob | undefined; state: string }[] = [];
    let checked = 0;
    const now = Date.now();
    for (const pending of tracked.values()) {
      if (pending.checkAt > now) continue;
      if (checked++ >= reconcileBatch) break;
      const job = await queue.getJob(pending.original.digest);
      const state = job ? await job.getState() : 'missing';
      if (state === 'completed' || state === 'failed' || state === 'missing' || state === 'unknown') {
        out.push({ pending, job, state });
      } else {
        pending.checkDelayMs = Math.min(pending.checkDelayMs * 2, 30_000);
        pending.checkAt = now + pending.checkDelayMs;
      }
    }
    return out;
  }

  function outcomeOf(job: ImageJob, state: string, digest: string): Outcome | undefined {
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

  async function readLog(signal: AbortSignal | undefined): Promise<number> {
    const from = await start();
    const head = await log.head();
    if (head.lastSeq <= from) return 0;
    // Latest original per image seen in this stretch of the log, and where it was set.
    const candidates = new Map<string, { seq: number; digest: string }>();
    let events = 0;
    for await (const item of log.replay({
      fromSeq: from + 1,
      untilSeq: head.lastSeq,
      entityType: 'image',
      signal,
    })) {
      if (item.kind !== 'event') {
        logger.warn(
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
          const retryable = event.type === 'ImageProcessingFailed' && options.retryFailed;
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
    // The stretch ends at the head even when its last events were not images.
    cursor = head.lastSeq;
    for (const [imageId, candidate] of candidates) {
      signal?.throwIfAborted();
      // The stretch alone cannot tell (an earlier event may have processed the same
      // bytes), so the image's whole history decides.
      const progress = await readImageProgress(log, imageId);
      if (!needsProcessing(progress, { retryFailed: options.retryFailed }) || !progress) {
        tracked.delete(imageId);
        continue;
      }
      await enqueue(imageId, progress.state.original, Math.min(candidate.seq, progress.originalSeq));
    }
    return events;
  }

  async function poll(signal?: AbortSignal): Promise<DispatchStats> {
    if (closed) throw new Error('image dispatcher is closed');
    let recorded = 0;
    const enqueuedAtStart = enqueuedCount;
    // Which jobs had finished is read before the log: a worker appends before completing
    // its job, so any outcome it recorded is in the log read next, and only outcomes
    // nobody recorded are left for us.
    const finished = await finishedJobs();
    const events = await readLog(signal);
    for (const { pending, job, state } of finished) {
      signal?.throwIfAborted();
      const current = tracked.get(pending.imageId);
      if (!current || current.original.digest !== pending.original.digest) continue;
      const outcome = job ? outcomeOf(job, state, pending.original.digest) : undefined;
      if (!outcome) {
        // The job was removed (retention, obliterate) or holds no usable result: do it again.
        if (job) await job.remove().catch(() => {});
        logger.info(
          { imageId: pending.imageId, jobId: pending.jobId, state },
          'job gone before its outcome was recorded; enqueueing again',
        );
        await enqueue(pending.imageId, pending.original, pending.sinceSeq);
        continue;
      }
      const result = await recordOutcome(log, pending.imageId, outcome, {
        source: DISPATCHER_SOURCE,
        correlationId: pending.jobId,
        signal,
      });
      if (result.seq !== undefined) recorded++;
      logger.info(
        { imageId: pending.imageId, jobId: pending.jobId, decision: result.decision, kind: outcome.kind },
        'outcome of a finished job recorded',
      );
      tracked.delete(pending.imageId);
    }
    await saveCheckpoint();
    return {
      cursor: cursor ?? 0,
      events,
      enqueued: enqueuedCount - enqueuedAtStart,
      recorded,
      pending: tracked.size,
    };
  }

  async function saveCheckpoint(): Promise<void> {
    if (!options.checkpoint || cursor === undefined) return;
    let low = cursor;
    for (const p of tracked.values()) low = Math.min(low, p.sinceSeq - 1);
    if (low === savedCheckpoint) return;
    await options.checkpoint.set(low);
    savedCheckpoint = low;
  }

  return {
    poll,
    async run(signal) {
      while (!signal.aborted && !closed) {
        try {
          const stats = await poll(signal);
          if (stats.events > 0 || stats.recorded > 0) logger.debug(stats, 'dispatcher poll');
        } catch (err) {
          if (signal.aborted) break;
          logger.error({ err }, 'dispatcher poll failed; retrying');
        }
        await sleep(pollIntervalMs, undefined, { signal }).catch(() => {});
      }
    },
    pending: () => [...tracked.values()],
    async close() {
      closed = true;
    },
  };
}

export interface DrainOptions {
  signal?: AbortSignal;
  /** Pause between polls while images are pending (default 250 ms). */
  intervalMs?: number;
  onProgress?: (stats: DispatchStats) => void;
}

export interface DrainStats {
  /** Log sequence read up to. */
  cursor: number;
  enqueued: number;
  recorded: number;
  polls: number;
}

/**
 * Poll until the log has been read to its head and no image waits for an outcome: the
 * loop of `presslog images process`. Workers must be running (in this process or
 * elsewhere), or it waits until the signal aborts.
 */
export async function dispatchUntilDone(
  dispatcher: ImageDispatcher,
  options: DrainOptions = {},
): Promise<DrainStats> {
  const total: DrainStats = { cursor: 0, enqueued: 0, recorded: 0, polls: 0 };
  for (;;) {
    options.signal?.throwIfAborted();
    const stats = await dispatcher.poll(options.signal);
    total.polls++;
    total.cursor = stats.cursor;
    total.enqueued += stats.enqueued;
    total.recorded += stats.recorded;
    options.onProgress?.(stats);
    if (stats.pending === 0) return total;
    await sleep(options.intervalMs ?? 250, undefined, { signal: options.signal });
  }
}
