import { Counter, Gauge, Histogram } from 'prom-client';
import type { ImageQueueCounts } from '../../ingest/images/queue.ts';
import type { ImageWorker } from '../../ingest/images/worker.ts';
import type { Metrics } from './metrics.ts';

const JOB_STATES: (keyof ImageQueueCounts)[] = [
  'waiting',
  'active',
  'delayed',
  'completed',
  'failed',
  'prioritized',
];

/** Queue gauges, `presslog_image_jobs{state}`, read from Redis at every scrape. */
export function observeImageQueue(metrics: Metrics, queue: { counts(): Promise<ImageQueueCounts> }): void {
  const jobs = new Gauge({
    name: 'presslog_image_jobs',
    help: 'Image jobs in the queue by state (waiting, active, delayed, completed, failed, prioritized)',
    labelNames: ['state'],
    registers: [metrics.registry],
  });
  metrics.onScrape(async () => {
    const counts = await queue.counts();
    for (const state of JOB_STATES) jobs.set({ state }, counts[state] ?? 0);
  });
}

/**
 * An image worker's metrics: jobs by outcome (`presslog_image_jobs_processed_total`,
 * from the worker's running stats), the processing latency of completed jobs and the
 * rendition bytes written (from BullMQ's `completed` event and the job's result).
 */
export function observeImageWorker(metrics: Metrics, imageWorker: ImageWorker): void {
  const registers = [metrics.registry];
  const outcomes = new Counter({
    name: 'presslog_image_jobs_processed_total',
    help: 'Image jobs by outcome: processed, skipped (already recorded), failed_attempt (will retry), failed (for good)',
    labelNames: ['outcome'],
    registers,
  });
  const latency = new Histogram({
    name: 'presslog_image_processing_duration_seconds',
    help: 'From a worker taking an image job to its completion',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const bytes = new Counter({
    name: 'presslog_image_rendition_bytes_written_total',
    help: 'Bytes of renditions written by completed image jobs',
    registers,
  });
  const seen: Record<string, number> = {};
  const keys = {
    processed: 'processed',
    skipped: 'skipped',
    failedAttempts: 'failed_attempt',
    failed: 'failed',
  };
  for (const outcome of Object.values(keys)) outcomes.inc({ outcome }, 0);
  metrics.onScrape(async () => {
    for (const [key, outcome] of Object.entries(keys)) {
      const value = imageWorker.stats[key as keyof typeof keys];
      const before = seen[outcome] ?? 0;
      if (value > before) outcomes.inc({ outcome }, value - before);
      seen[outcome] = Math.max(before, value);
    }
  });
  imageWorker.worker.on('completed', (job, result) => {
    if (job.processedOn && job.finishedOn)
      latency.observe(Math.max(0, job.finishedOn - job.processedOn) / 1000);
    const written = result?.renditions?.reduce((sum, r) => sum + r.bytes, 0) ?? 0;
    if (written > 0) bytes.inc(written);
  });
}
