import type { ImageJob } from './queue.ts';
import { type ImageProgress, type Outcome, type RecordResult, recordOutcome } from './record.ts';
import type { WorkerContext } from './workerContext.ts';

/** The `source` of events the image worker appends. */
export const WORKER_SOURCE = 'presslog/images-worker';

/** Record an outcome for each of the job's images, one after the other. */
export async function recordForJob(
  ctx: WorkerContext,
  job: ImageJob,
  outcome: Outcome,
  prefetched?: Map<string, ImageProgress | undefined>,
): Promise<RecordResult[]> {
  const results: RecordResult[] = [];
  for (const imageId of job.data.imageIds) {
    const result = await recordOutcome(ctx.log, imageId, outcome, {
      source: WORKER_SOURCE,
      correlationId: job.id,
      signal: ctx.signal,
      prefetched: prefetched?.get(imageId),
    });
    if (result.seq !== undefined) ctx.stats.recorded++;
    results.push(result);
  }
  return results;
}
