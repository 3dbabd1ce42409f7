import type { Logger } from 'pino';
import type { CheckpointStore } from '../../log/checkpoints.ts';
import type { ContentLog } from '../../log/types.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import type { ReindexPhase, ReindexProgress } from './types.ts';

const PROGRESS_EVERY_MS = 250;

/** A rebuild's progress: the counters the phases advance, phase timings and peak memory. */
export interface RebuildProgress {
  /** The counters, advanced in place by the phases. */
  readonly current: ReindexProgress;
  /** Report the counters, at most every 250 ms unless `force`d. Cheap: called per event. */
  report(force?: boolean): void;
  /** End the current phase (timing, memory) and start `next`. */
  enter(next: ReindexPhase): Promise<void>;
  readonly phasesMs: Record<string, number>;
  readonly peakRssByPhase: Record<string, number>;
  /** Peak resident memory seen at a report (bytes). */
  readonly peakRss: number;
}

export function createRebuildProgress(options: {
  logger?: Logger;
  onProgress?: (progress: ReindexProgress) => void;
  onPhase?: (phase: ReindexPhase) => Promise<void> | void;
}): RebuildProgress {
  const { logger } = options;
  const phasesMs: Record<string, number> = {};
  const peakRssByPhase: Record<string, number> = {};
  let phaseStarted = Date.now();
  const current: ReindexProgress = {
    phase: 'prepare',
    seq: 0,
    targetSeq: 0,
    events: 0,
    docs: 0,
    deadLettered: 0,
    retries: 0,
  };
  let lastReport = 0;
  let peakRss = process.memoryUsage.rss();
  const report = (force = false) => {
    // Called per event: everything here must be cheap until it is time to report.
    if (!force && Date.now() - lastReport < PROGRESS_EVERY_MS) return;
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
    lastReport = Date.now();
    options.onProgress?.({ ...current });
  };
  return {
    current,
    report,
    phasesMs,
    peakRssByPhase,
    get peakRss() {
      return peakRss;
    },
    async enter(next) {
      const phase = current.phase;
      const memory = process.memoryUsage();
      logger?.debug(
        {
          phase,
          ms: Date.now() - phaseStarted,
          rss: memory.rss,
          heapTotal: memory.heapTotal,
          heapUsed: memory.heapUsed,
          external: memory.external,
          arrayBuffers: memory.arrayBuffers,
        },
        'reindex phase done',
      );
      phasesMs[phase] = (phasesMs[phase] ?? 0) + Date.now() - phaseStarted;
      peakRssByPhase[phase] = process.resourceUsage().maxRSS * 1024;
      phaseStarted = Date.now();
      current.phase = next;
      report(true);
      await options.onPhase?.(next);
    },
  };
}

/**
 * Keep `progress.liveLag` current: how far the live indexes are behind the log, every 2 s.
 * Returns the function that stops it.
 */
export function watchLiveLag(
  progress: ReindexProgress,
  options: { log: ContentLog; checkpoints: CheckpointStore; projections: readonly ProjectionName[] },
): () => void {
  const { log, checkpoints, projections } = options;
  const timer = setInterval(() => {
    void (async () => {
      const head = await log.head();
      let lag = 0;
      for (const projection of projections) {
        const checkpoint = await checkpoints.current(projection);
        if (checkpoint) lag = Math.max(lag, head.lastSeq - checkpoint.seq);
      }
      progress.liveLag = lag;
    })().catch(() => {});
  }, 2000);
  timer.unref();
  return () => clearInterval(timer);
}
