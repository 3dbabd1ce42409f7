import { Counter, Gauge } from 'prom-client';
import type { ReindexPhase, ReindexProgress } from '../../projectors/rebuild/types.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import type { Metrics } from './metrics.ts';

const PHASES: ReindexPhase[] = ['prepare', 'scan', 'write', 'catch-up', 'verify', 'swap', 'snapshot', 'done'];

/** What a reindex reports to its metrics. */
export interface ReindexObserver {
  onProgress(progress: ReindexProgress): void;
  /** The rebuild finished: its duration, per projection rebuilt. */
  onDone(durationMs: number): void;
}

/**
 * A reindex's metrics: `presslog_reindex_phase{phase}` (1 for the current phase),
 * `presslog_reindex_progress_ratio` (sequence reached over the phase's target),
 * `presslog_reindex_events_per_second` (between two reports), events and documents
 * counters, and `presslog_reindex_last_duration_seconds{projection}` once done.
 */
export function observeReindex(metrics: Metrics, projections: readonly ProjectionName[]): ReindexObserver {
  const registers = [metrics.registry];
  const phase = new Gauge({
    name: 'presslog_reindex_phase',
    help: 'The phase the reindex is in (1) among prepare, scan, write, catch-up, verify, swap, snapshot, done',
    labelNames: ['phase'],
    registers,
  });
  const progressRatio = new Gauge({
    name: 'presslog_reindex_progress_ratio',
    help: 'Sequence reached in the current phase over the sequence it runs to (0-1)',
    registers,
  });
  const rate = new Gauge({
    name: 'presslog_reindex_events_per_second',
    help: 'Events read per second between the last two progress reports',
    registers,
  });
  const events = new Counter({
    name: 'presslog_reindex_events_read_total',
    help: 'Events read by the reindex',
    registers,
  });
  const docs = new Counter({
    name: 'presslog_reindex_documents_written_total',
    help: 'Documents written by the reindex',
    registers,
  });
  const lastDuration = new Gauge({
    name: 'presslog_reindex_last_duration_seconds',
    help: 'Duration of the last completed rebuild of a projection by this process',
    labelNames: ['projection'],
    registers,
  });
  for (const p of PHASES) phase.set({ phase: p }, p === 'prepare' ? 1 : 0);
  let last = { events: 0, docs: 0, at: Date.now() };
  return {
    onProgress(progress) {
      for (const p of PHASES) phase.set({ phase: p }, p === progress.phase ? 1 : 0);
      progressRatio.set(progress.targetSeq > 0 ? Math.min(1, progress.seq / progress.targetSeq) : 0);
      const now = Date.now();
      if (progress.events > last.events) events.inc(progress.events - last.events);
      if (progress.docs > last.docs) docs.inc(progress.docs - last.docs);
      if (now > last.at) rate.set((Math.max(0, progress.events - last.events) * 1000) / (now - last.at));
      last = {
        events: Math.max(last.events, progress.events),
        docs: Math.max(last.docs, progress.docs),
        at: now,
      };
    },
    onDone(durationMs) {
      for (const p of PHASES) phase.set({ phase: p }, p === 'done' ? 1 : 0);
      progressRatio.set(1);
      rate.set(0);
      for (const projection of projections) lastDuration.set({ projection }, durationMs / 1000);
    },
  };
}
