import { failAttempt } from './jobFailure.ts';
import { readPhotoMetadata } from './photoMetadata.ts';
import { processedPayload } from './processedPayload.ts';
import type { ImageJob, ImageJobResult } from './queue.ts';
import { readOriginal } from './readOriginal.ts';
import { type ImageProgress, readImageProgress } from './record.ts';
import { recordForJob } from './recordForJob.ts';
import type { WorkerContext } from './workerContext.ts';

/**
 * The BullMQ processor: read the original, make the renditions (at most `concurrency`
 * at once), store them, append ImageProcessed for the job's images. On a retry whose
 * previous run already recorded the result, it returns that result without processing.
 * A failed attempt goes to {@link failAttempt}.
 */
export async function processJob(ctx: WorkerContext, job: ImageJob): Promise<ImageJobResult> {
  const jobLog = ctx.logger.child({ jobId: job.id, imageIds: job.data.imageIds });
  const { digest } = job.data.original;
  const isRetry = job.attemptsMade > 0 || job.attemptsStarted > 1 || job.stalledCounter > 0;
  // Read the job's images while sharp works, so recording costs one append, not a read too.
  const reading = readImages(ctx, job);
  reading.catch(() => {});
  try {
    if (isRetry) {
      const previous = alreadyRecorded(job, await reading);
      if (previous) {
        ctx.stats.skipped++;
        jobLog.info('result already in the log (a previous run recorded it); not processing again');
        return previous;
      }
    }
    const bytes = await readOriginal(ctx, digest);
    const started = performance.now();
    const [result, embedded] = await Promise.all([
      ctx.sharpSlots.run(() => ctx.processor(bytes, ctx.processing)),
      readPhotoMetadata(bytes),
    ]);
    const stored = await Promise.all(result.renditions.map((r) => ctx.blobs.put(r.bytes)));
    const payload = processedPayload(digest, result, stored, embedded);
    const images = await reading.catch(() => undefined);
    const records = await recordForJob(ctx, job, { kind: 'processed', payload }, images);
    ctx.stats.processed++;
    jobLog.info(
      {
        ms: Math.round(performance.now() - started),
        records: records.map((r) => `${r.imageId}:${r.decision}`),
      },
      'image processed',
    );
    return payload;
  } catch (err) {
    return failAttempt(ctx, job, err, jobLog);
  }
}

/** The job's images as the log has them now. */
async function readImages(
  ctx: WorkerContext,
  job: ImageJob,
): Promise<Map<string, ImageProgress | undefined>> {
  const entries = await Promise.all(
    job.data.imageIds.map(async (id) => [id, await readImageProgress(ctx.log, id)] as const),
  );
  return new Map(entries);
}

/** On a retry: the result a previous run of this job already recorded, if any (pure). */
export function alreadyRecorded(
  job: Pick<ImageJob, 'data'>,
  images: Map<string, ImageProgress | undefined>,
): ImageJobResult | undefined {
  const { digest } = job.data.original;
  let found: ImageJobResult | undefined;
  for (const progress of images.values()) {
    if (!progress || progress.state.original.digest !== digest || progress.state.removed) continue;
    const processed = progress.state.processed;
    if (!processed) return undefined;
    const { seq: _seq, ...payload } = processed;
    found = payload;
  }
  return found;
}
