import { hostname } from 'node:os';
import type { KV } from '@nats-io/kv';
import { Counter, Gauge } from 'prom-client';
import type { CheckpointStore } from '../../log/checkpoints.ts';
import type { ContentLog } from '../../log/types.ts';
import { projectLeaseKey, readLease } from '../../projectors/lease.ts';
import type { ProjectorProgress, ProjectorStats } from '../../projectors/live/projector.ts';
import { type StateSnapshotStore, snapshotName } from '../../projectors/state/stateSnapshots.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import type { Metrics } from './metrics.ts';
import { readProjectionLag } from './projectionLag.ts';

export interface ProjectorMetricsOptions {
  log: Pick<ContentLog, 'head' | 'replay'>;
  checkpoints: Pick<CheckpointStore, 'current'>;
  leaseBucket: KV;
  snapshots?: Pick<StateSnapshotStore, 'info'>;
  projections: readonly ProjectionName[];
}

/** What the live projector reports to its metrics: pass these as its hooks. */
export interface ProjectorObserver {
  onProgress(progress: ProjectorProgress): void;
  onCaughtUp(): void;
}

/** Bulk item outcomes, from the projector's running totals. */
const ITEM_OUTCOMES: [keyof ProjectorStats, string][] = [
  ['indexed', 'indexed'],
  ['deleted', 'deleted'],
  ['conflicts', 'stale'],
  ['notFound', 'not_found'],
  ['retries', 'retried'],
  ['deadLettered', 'dead_lettered'],
];

/**
 * The live projector's metrics. Counters follow the projector's running totals (its
 * `onProgress` hook); checkpoints, the log head, lag, leases and the snapshot's age are
 * read from NATS at each scrape, so they are true even for a projector that has nothing
 * to write. Lag in events is the PromQL expression
 * `presslog_projector_log_head_sequence - presslog_projector_checkpoint_sequence`.
 */
export function observeProjector(metrics: Metrics, options: ProjectorMetricsOptions): ProjectorObserver {
  const registers = [metrics.registry];
  const labelNames = ['projection'];
  const applied = new Counter({
    name: 'presslog_projector_events_applied_total',
    help: 'Events of the log applied by the live projector (state restore included)',
    registers,
  });
  const unreadable = new Counter({
    name: 'presslog_projector_events_unreadable_total',
    help: 'Events the live projector could not read (dead-lettered)',
    registers,
  });
  const items = new Counter({
    name: 'presslog_projector_bulk_items_total',
    help: 'Bulk write items by outcome (indexed, deleted, stale: already current, not_found, retried, dead_lettered)',
    labelNames: ['outcome'],
    registers,
  });
  const deadLetters = new Counter({
    name: 'presslog_projector_dead_letters_total',
    help: 'Dead letters written by the live projector',
    registers,
  });
  const checkpoint = new Gauge({
    name: 'presslog_projector_checkpoint_sequence',
    help: 'Committed checkpoint (stream sequence) of the index behind the alias',
    labelNames,
    registers,
  });
  const head = new Gauge({
    name: 'presslog_projector_log_head_sequence',
    help: 'Last sequence of the content log, read with the checkpoint',
    labelNames,
    registers,
  });
  const lagSeconds = new Gauge({
    name: 'presslog_projector_lag_seconds',
    help: 'Age of the oldest event the index lacks (0 when caught up)',
    labelNames,
    registers,
  });
  const leaseHeld = new Gauge({
    name: 'presslog_projector_lease_held',
    help: 'Whether this process holds the live projection lease (1) or not (0)',
    labelNames,
    registers,
  });
  const caughtUp = new Gauge({
    name: 'presslog_projector_caught_up',
    help: 'Whether the projector has read up to the head of the log since it started (1)',
    registers,
  });
  const snapshotAge = new Gauge({
    name: 'presslog_projector_snapshot_age_seconds',
    help: 'Age of the saved projection state snapshot (absent when there is none)',
    registers,
  });
  const up = new Gauge({
    name: 'presslog_projector_position_read_ok',
    help: 'Whether checkpoints and the log head could be read at the last scrape (1) or not (0)',
    registers,
  });
  for (const projection of options.projections) leaseHeld.set({ projection }, 0);
  caughtUp.set(0);

  const seen = { events: 0, unreadable: 0, dead: 0, items: new Map<string, number>() };
  const advance = (counter: Counter, from: number, to: number, labels?: { outcome: string }) => {
    // A stall restarts the run with the totals kept; a smaller value is never counted back.
    if (to > from) labels ? counter.inc(labels, to - from) : counter.inc(to - from);
    return Math.max(from, to);
  };

  metrics.onScrape(async () => {
    try {
      for (const lag of await readProjectionLag(options)) {
        const labels = { projection: lag.projection };
        checkpoint.set(labels, lag.seq);
        head.set(labels, lag.headSeq);
        lagSeconds.set(labels, lag.lagSeconds);
      }
      up.set(1);
    } catch {
      up.set(0);
    }
  });
  metrics.onScrape(async () => {
    for (const projection of options.projections) {
      const lease = await readLease(options.leaseBucket, projectLeaseKey(projection));
      const mine = lease?.pid === process.pid && lease.host === hostname();
      leaseHeld.set({ projection }, mine ? 1 : 0);
    }
  });
  if (options.snapshots) {
    const snapshots = options.snapshots;
    metrics.onScrape(async () => {
      const info = await snapshots.info(snapshotName(options.projections));
      if (info) snapshotAge.set(Math.max(0, (Date.now() - Date.parse(info.savedAt)) / 1000));
    });
  }

  return {
    onProgress(progress) {
      const { stats } = progress;
      seen.events = advance(applied, seen.events, stats.events);
      seen.unreadable = advance(unreadable, seen.unreadable, stats.unreadable);
      seen.dead = advance(deadLetters, seen.dead, stats.deadLettered);
      for (const [key, outcome] of ITEM_OUTCOMES) {
        const value = stats[key] as number;
        seen.items.set(outcome, advance(items, seen.items.get(outcome) ?? 0, value, { outcome }));
      }
      if (progress.caughtUp) caughtUp.set(1);
    },
    onCaughtUp() {
      caughtUp.set(1);
    },
  };
}
