import { jetstreamManager } from '@nats-io/jetstream';
import type { Command } from 'commander';
import { type StoreStatus, storesStatus } from '../../log/stores.ts';
import {
  type PartitionedRebuildStatus,
  partitionedRebuildStatus,
} from '../../projectors/rebuild/partitions.ts';
import {
  type LeaseHolder,
  type ProjectionStatus,
  projectionStatus,
  type StatusReport,
} from '../../projectors/status.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import { projectorStores, withProjectorClients } from './project.ts';
import { positiveSeconds, watchStatus } from './statusWatch.ts';

function lag(status: ProjectionStatus): string {
  if (status.lagEvents === undefined) return '-';
  const seconds = status.lagSeconds === undefined ? '' : ` / ${status.lagSeconds.toFixed(1)} s`;
  return `${status.lagEvents} events${seconds}`;
}

/** A lease holder, or its stale lease: a killed holder keeps others out until the lease expires. */
function holder(what: string, lease: LeaseHolder): string {
  if (lease.alive !== false) return `${what}: pid ${lease.pid}@${lease.host}`;
  const seconds = Math.max(0, Math.ceil((Date.parse(lease.expiresAt) - Date.now()) / 1000));
  return `${what}: stale lease (pid ${lease.pid} not running), expires in ${seconds} s`;
}

function runner(status: ProjectionStatus): string {
  const parts: string[] = [];
  if (status.live) parts.push(holder('live', status.live));
  else parts.push('live: not running');
  if (status.reindexing) parts.push(holder('reindex', status.reindexing));
  return parts.join('; ');
}

function peersOf(store: StoreStatus): string {
  if (store.replicas === 1) return '-';
  const peers = store.peers.map(
    (p) => `${p.name}${p.current ? '' : p.offline ? ' (offline)' : ` (behind${p.lag ? ` ${p.lag}` : ''})`}`,
  );
  const missing = store.replicas - 1 - store.peers.length;
  return [...peers, ...(missing > 0 ? [`${missing} missing`] : [])].join(', ');
}

/** The NATS side: every stream and bucket of the namespace, its replicas and whether they are current. */
function storesText(stores: StoreStatus[]): string {
  const rows = stores.map((s) => [
    s.stream,
    String(s.replicas),
    s.leader ?? (s.replicas === 1 ? '-' : 'NO LEADER'),
    peersOf(s),
    s.healthy ? 'yes' : 'NO',
    String(s.messages),
  ]);
  return formatTable([['STREAM', 'REPLICAS', 'LEADER', 'FOLLOWERS', 'ALL CURRENT', 'MESSAGES'], ...rows]);
}

function text(
  report: StatusReport & { stores: StoreStatus[]; partitioned?: PartitionedRebuildStatus },
): string {
  const rows = report.projections.map((s) => [
    s.projection,
    s.index
      ? `${s.alias} → ${s.index}${s.current === false ? ' (outdated: reindex)' : ''}`
      : `${s.alias} → (none)`,
    s.docs === undefined ? '-' : String(s.docs),
    s.checkpoint ? String(s.checkpoint.seq) : '-',
    lag(s),
    s.elasticsearchError && s.docs === undefined ? '?' : String(s.deadLetters.count),
    runner(s),
  ]);
  const lines = [
    `log head: sequence ${report.head.seq}${report.head.time ? ` (${report.head.time})` : ''}`,
    '',
    formatTable([
      ['PROJECTION', 'ALIAS → INDEX', 'DOCS', 'CHECKPOINT', 'LAG', 'DEAD LETTERS', 'RUNNING'],
      ...rows,
    ]),
  ];
  const unavailable = report.projections.find((s) => s.elasticsearchError)?.elasticsearchError;
  if (unavailable) lines.push(`${unavailable}: documents, other indexes and dead letters not shown`);
  for (const s of report.projections) {
    if (s.health?.lastError)
      lines.push(`${s.projection}: last error ${s.health.lastErrorAt}: ${s.health.lastError}`);
    if (s.deadLetters.last) {
      const d = s.deadLetters.last;
      lines.push(
        `${s.projection}: last dead letter (${d.kind}) seq ${d.seq}${d.docId ? ` doc ${d.docId}` : ''}: ${d.reason}`,
      );
    }
    const others = s.otherIndexes.map(
      (o) => `${o.name} (${o.state ?? 'unknown'}${o.asOf ? ` as of ${o.asOf}` : ''})`,
    );
    if (others.length > 0) lines.push(`${s.projection}: other indexes: ${others.join(', ')}`);
  }
  for (const snapshot of report.snapshots) {
    lines.push(
      `state snapshot ${snapshot.name}: at sequence ${snapshot.position} (${report.head.seq - snapshot.position} events behind the head), ` +
        `${snapshot.records} records, ${(snapshot.bytes / 1024 / 1024).toFixed(1)} MiB, saved ${snapshot.savedAt}`,
    );
  }
  if (report.partitioned) lines.push('', partitionedText(report.partitioned));
  lines.push('', storesText(report.stores));
  return lines.join('\n');
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description(
      'projections: alias → index, documents, checkpoint vs log head (lag), dead letters, running projectors, last error',
    )
    .option('-w, --watch', 'refresh until Ctrl-C, with rates (log appends and projection per second)')
    .option('--interval <s>', 'seconds between refreshes with --watch', positiveSeconds, 2)
    .action(async (options: { watch?: boolean; interval: number }) => {
      await withProjectorClients(ctx, async (clients) => {
        const read = async () => {
          const report = await projectionStatus({
            ...projectorStores(clients),
            projections: PROJECTION_NAMES,
            signal: ctx.signal,
          });
          const stores = await storesStatus(await jetstreamManager(clients.nc), ctx.config().names);
          const partitioned = await partitionedRebuildStatus(clients.leaseBucket).catch(() => undefined);
          return { ...report, stores, ...(partitioned ? { partitioned } : {}) };
        };
        if (options.watch) return watchStatus(ctx, read, options.interval * 1000, text);
        const report = await read();
        ctx.output(report, () => text(report));
      });
    });
}

/** A running partitioned rebuild: each partition open, claimed (by whom, how far) or done. */
function partitionedText(status: PartitionedRebuildStatus): string {
  const { plan } = status;
  const rows = status.partitions.map((p) => {
    const claim = p.claimedBy;
    const detail = claim?.detail as { docs?: number; seq?: number } | undefined;
    return [
      String(p.partition),
      p.done ? 'done' : claim ? 'claimed' : p.attempts > 0 ? 'open (claim expired)' : 'open',
      p.done ? p.done.worker : claim ? `pid ${claim.pid}@${claim.host}` : '-',
      String(p.attempts),
      p.done
        ? `${p.done.articles} articles`
        : detail
          ? `seq ${detail.seq ?? 0}/${plan.head.lastSeq}, ${detail.docs ?? 0} docs`
          : '-',
    ];
  });
  return [
    `partitioned rebuild ${plan.id}: ${plan.partitions} partitions of ${plan.index}, up to sequence ${plan.head.lastSeq} ` +
      `(coordinator pid ${plan.coordinator.pid}@${plan.coordinator.host}; join with: presslog reindex --join ${plan.id})` +
      (status.failed ? ` FAILED: ${status.failed}` : ''),
    formatTable([['PARTITION', 'STATE', 'WORKER', 'CLAIMS', 'PROGRESS'], ...rows]),
  ].join('\n');
}
