import { Counter, Histogram } from 'prom-client';
import type { ContentLog } from '../../log/types.ts';
import type { Metrics } from './metrics.ts';

/**
 * The content log, its appends counted: `presslog_log_events_appended_total{type}`,
 * `presslog_log_append_duplicates_total`, `presslog_log_append_conflicts_total{type}`,
 * `presslog_log_append_rejects_total{reason}` (invalid: never retried; failed: the
 * server did not acknowledge) and `presslog_log_append_duration_seconds` per batch.
 * The log itself knows nothing of metrics: this wraps it at the composition root.
 */
export function instrumentContentLog<L extends Pick<ContentLog, 'append'>>(metrics: Metrics, log: L): L {
  const registers = [metrics.registry];
  const appended = new Counter({
    name: 'presslog_log_events_appended_total',
    help: 'Events appended to the content log by event type',
    labelNames: ['type'],
    registers,
  });
  const duplicates = new Counter({
    name: 'presslog_log_append_duplicates_total',
    help: 'Appends the log already had (same event id): nothing new stored',
    registers,
  });
  const conflicts = new Counter({
    name: 'presslog_log_append_conflicts_total',
    help: 'Appends refused by optimistic concurrency (another writer appended first), by event type',
    labelNames: ['type'],
    registers,
  });
  const rejects = new Counter({
    name: 'presslog_log_append_rejects_total',
    help: 'Appends rejected by reason class: invalid (schema; never retried), failed (not acknowledged)',
    labelNames: ['reason'],
    registers,
  });
  const duration = new Histogram({
    name: 'presslog_log_append_duration_seconds',
    help: 'Duration of one append call (a batch of events) until every event is acknowledged',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  for (const reason of ['invalid', 'failed']) rejects.inc({ reason }, 0);
  duplicates.inc(0);
  const append: ContentLog['append'] = async (items, options) => {
    const start = process.hrtime.bigint();
    const stats = await log.append(items, options);
    duration.observe(Number(process.hrtime.bigint() - start) / 1e9);
    stats.outcomes.forEach((outcome, i) => {
      const type = items[i]?.event.type ?? 'unknown';
      if (outcome.status === 'appended') appended.inc({ type });
      else if (outcome.status === 'duplicate') duplicates.inc();
      else if (outcome.status === 'conflict') conflicts.inc({ type });
      else rejects.inc({ reason: outcome.status });
    });
    return stats;
  };
  return new Proxy(log, {
    get(target, property, receiver) {
      if (property === 'append') return append;
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
