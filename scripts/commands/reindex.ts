import { spawn } from 'node:child_process';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { runPartitionWorker } from '../../projectors/rebuild/partitions.ts';
import {
  type ReindexPhase,
  type ReindexProgress,
  type ReindexReport,
  reindex,
} from '../../projectors/rebuild/reindex.ts';
import { rollback } from '../../projectors/rebuild/rollback.ts';
import { ConfigError } from '../../schemas/errors.ts';
import { PROJECTION_NAMES, type ProjectionName } from '../../schemas/names.ts';
import { metricsPort, openReindexEndpoint } from '../metrics/endpoints.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import {
  positiveInt,
  projectionsArg,
  projectorStores,
  replicasArg,
  resolveReplicas,
  withProjectorClients,
} from './project.ts';

interface ReindexOptions {
  asOf?: string;
  keep: number;
  rollback?: string;
  batch: number;
  wait?: boolean;
  progress: boolean;
  replicas: number | 'auto';
  shards: number;
  leaseTtl: number;
  metricsPort?: number;
  partitions?: number;
  join?: string | true;
  maxPartitions?: number;
}

const PHASE_LABEL: Record<ReindexPhase, string> = {
  prepare: 'prepare ',
  scan: 'scan    ',
  write: 'write   ',
  'catch-up': 'catch-up',
  verify: 'verify  ',
  swap: 'swap    ',
  snapshot: 'snapshot',
  done: 'done    ',
};

/**
 * Progress output: a bar on a terminal (stderr), periodic log lines otherwise. Errors are
 * printed above the bar as they happen, never only counted inside it.
 */
function createProgressView(ctx: CliContext, enabled: boolean) {
  const tty = enabled && process.stderr.isTTY === true && !ctx.json();
  const log = ctx.log();
  let multibar: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let phase: ReindexPhase | undefined;
  let phaseStart = Date.now();
  let phaseStartEvents = 0;
  let lastError: string | undefined;
  let lastLine = 0;
  if (tty) {
    multibar = new cliProgress.MultiBar(
      {
        stream: process.stderr,
        format:
          '{phase} |{bar}| {percentage}% | seq {value}/{total} | {rate} ev/s | ETA {eta_formatted} | docs {docs} | live lag {lag} | dead {dead} | retries {retries}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
  }
  return {
    update(progress: ReindexProgress) {
      if (progress.phase !== phase) {
        phase = progress.phase;
        phaseStart = Date.now();
        phaseStartEvents = progress.events;
      }
      const seconds = Math.max(0.001, (Date.now() - phaseStart) / 1000);
      const rate = Math.round((progress.events - phaseStartEvents) / seconds);
      const payload = {
        phase: PHASE_LABEL[progress.phase],
        docs: progress.docs,
        rate,
        lag: progress.liveLag ?? '-',
        dead: progress.deadLettered,
        retries: progress.retries,
      };
      if (progress.lastError && progress.lastError !== lastError) {
        lastError = progress.lastError;
        if (multibar) multibar.log(`presslog reindex: ${progress.lastError}\n`);
        else log.warn({ phase: progress.phase, seq: progress.seq }, progress.lastError);
      }
      if (multibar) {
        bar ??= multibar.create(Math.max(1, progress.targetSeq), 0, payload);
        bar.setTotal(Math.max(1, progress.targetSeq));
        bar.update(Math.min(progress.seq, Math.max(1, progress.targetSeq)), payload);
      } else if (Date.now() - lastLine >= 5000 || progress.phase === 'done') {
        lastLine = Date.now();
        log.info(
          { ...payload, seq: progress.seq, targetSeq: progress.targetSeq },
          `reindex ${progress.phase}`,
        );
      }
    },
    stop() {
      multibar?.stop();
    },
  };
}

function summary(report: ReindexReport): string {
  const rows = report.indexes.map((r) => [
    r.projection,
    r.index,
    r.alias ? `${r.alias} (was ${r.previous.join(', ') || 'none'})` : 'not aliased (as-of)',
    String(r.verification.actualDocs),
    r.verification.actualChecksum,
    r.deleted.join(', ') || '-',
  ]);
  const seconds = report.durationMs / 1000;
  return [
    formatTable([['PROJECTION', 'INDEX', 'ALIAS', 'DOCS', 'CHECKSUM', 'DELETED'], ...rows]),
    '',
    `current as of log sequence ${report.seq}${report.asOf ? ` (as of ${report.asOf})` : ''}; ` +
      `${report.events} events in ${seconds.toFixed(1)} s (${Math.round(report.events / Math.max(seconds, 0.001))} events/s), ` +
      `${report.docsWritten} documents written, ${report.stats.deadLettered} dead-lettered, ${report.unreadable} unreadable events`,
    `phases: ${Object.entries(report.phasesMs)
      .map(([phase, ms]) => `${phase} ${(ms / 1000).toFixed(1)} s`)
      .join(', ')}; peak RSS ${Math.round(report.peakRssBytes / 1024 / 1024)} MiB`,
    ...(report.partitioned
      ? [
          `partitioned write (rebuild ${report.partitioned.rebuildId}):`,
          formatTable([
            ['PARTITION', 'ARTICLES', 'WORKER', 'CLAIMS', 'SECONDS', 'CPU S'],
            ...report.partitioned.partitions.map((d) => [
              String(d.partition),
              String(d.articles),
              d.worker,
              String(d.attempt),
              (d.ms / 1000).toFixed(1),
              (d.cpuMs / 1000).toFixed(1),
            ]),
          ]),
        ]
      : []),
    ...(report.snapshot
      ? [
          `state saved for the live projector: ${report.snapshot.records} records, ${(report.snapshot.bytes / 1024 / 1024).toFixed(1)} MiB, at sequence ${report.snapshot.position}`,
        ]
      : []),
  ].join('\n');
}

function rollbackTarget(
  value: string,
  prefix: (p: ProjectionName) => string,
): { projection: ProjectionName; to?: string } {
  if ((PROJECTION_NAMES as readonly string[]).includes(value)) return { projection: value as ProjectionName };
  const projection = PROJECTION_NAMES.find((p) => value.startsWith(prefix(p)));
  if (!projection) {
    throw new ConfigError(
      '--rollback',
      `${JSON.stringify(value)} is neither a projection (${PROJECTION_NAMES.join(', ')}) nor one of its indexes`,
    );
  }
  return { projection, to: value };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('reindex')
    .description(
      'rebuild projections from the whole log into new indexes, verify, and swap the aliases (zero downtime)',
    )
    .argument('[projection]', 'articles, images, bylines, or all', 'all')
    .option(
      '--as-of <time>',
      'build the archive as it stood at this ISO time into separate, unaliased indexes',
    )
    .option('--keep <n>', 'previous indexes to keep for rollback', (v) => Number(v), 1)
    .option(
      '--rollback <name>',
      'point the alias of a projection (or at a given index) back at the previous index',
    )
    .option('--batch <n>', 'documents per bulk batch', positiveInt, 1000)
    .option(
      '--replicas <n>',
      'replicas set once built, before the swap: auto (1 with ≥ 2 data nodes, else 0) or a number',
      replicasArg,
      'auto',
    )
    .option('--shards <n>', 'primary shards of a new index (about one per data node)', positiveInt, 1)
    .option('--wait', 'wait for a running reindex of the same projection instead of refusing')
    .option(
      '--lease-ttl <ms>',
      'lifetime of the reindex lock (and of a partition claim) without renewal',
      positiveInt,
      15_000,
    )
    .option('--no-progress', 'no progress bar')
    .option(
      '--partitions <k>',
      "split the articles' write over K worker processes (by a hash of the article id); others may --join",
      positiveInt,
    )
    .option(
      '--join [rebuildId]',
      'take unclaimed partitions of a running partitioned rebuild (default: the current one)',
    )
    .option('--max-partitions <n>', 'with --join: partitions to take at most', positiveInt)
    .option(
      '--metrics-port <port>',
      'serve /metrics, /healthz and /readyz while it runs (0: any free port)',
      metricsPort,
    )
    .action(async (selector: string, options: ReindexOptions) => {
      const config = ctx.config();
      if (options.rollback !== undefined) {
        const target = rollbackTarget(options.rollback, (p) => config.names.indexPrefix(p));
        await withProjectorClients(ctx, async (clients) => {
          const result = await rollback({
            client: clients.client,
            names: config.names,
            checkpoints: clients.checkpoints,
            leaseBucket: clients.leaseBucket,
            ...target,
            signal: ctx.signal,
            logger: ctx.log(),
          });
          ctx.output(result, () => `${result.alias}: ${result.from.join(', ') || 'none'} → ${result.to}`);
        });
        return;
      }
      if (options.join !== undefined) {
        await joinRebuild(ctx, options);
        return;
      }
      const projections = projectionsArg(selector, '<projection>');
      if (options.partitions !== undefined && options.asOf !== undefined)
        throw new ConfigError('--partitions', 'an as-of build is not partitioned');
      if (options.partitions !== undefined && !projections.includes('articles'))
        throw new ConfigError('--partitions', 'only the articles projection is partitioned');
      let asOf: Date | undefined;
      if (options.asOf !== undefined) {
        asOf = new Date(options.asOf);
        if (Number.isNaN(asOf.getTime()))
          throw new ConfigError('--as-of', `not an ISO time: ${JSON.stringify(options.asOf)}`);
      }
      if (!Number.isInteger(options.keep) || options.keep < 0)
        throw new ConfigError('--keep', 'must be 0 or more');
      await withProjectorClients(ctx, async (clients) => {
        const view = createProgressView(ctx, options.progress);
        const endpoint = await openReindexEndpoint(ctx, clients, projections, options.metricsPort);
        try {
          const report = await reindex({
            ...projectorStores(clients),
            projections,
            asOf,
            keep: options.keep,
            batchDocs: options.batch,
            live: {
              replicas: await resolveReplicas(options.replicas, clients.client),
              refreshInterval: '1s',
              shards: options.shards,
            },
            logger: ctx.log(),
            signal: ctx.signal,
            wait: options.wait,
            leaseTtlMs: options.leaseTtl,
            ...(options.partitions !== undefined
              ? { partitions: options.partitions, spawnWorker: spawnJoiner(options) }
              : {}),
            onWait: (holder) => ctx.log().warn({ holder }, 'another reindex holds the lock; waiting'),
            onProgress: (progress) => {
              view.update(progress);
              endpoint?.observer.onProgress(progress);
            },
          });
          endpoint?.observer.onDone(report.durationMs);
          view.stop();
          ctx.output(report, () => summary(report));
        } finally {
          view.stop();
          await endpoint?.close();
        }
      });
    });
}

/** Start `presslog reindex --join <id>` as a child of this process (its output to our stderr). */
function spawnJoiner(options: ReindexOptions) {
  return (rebuildId: string) =>
    spawn(
      process.execPath,
      [
        ...process.execArgv,
        process.argv[1]!,
        'reindex',
        '--join',
        rebuildId,
        '--no-progress',
        '--batch',
        String(options.batch),
      ],
      { stdio: ['ignore', 2, 2], env: process.env },
    );
}

/** `reindex --join`: work on a running partitioned rebuild until its partitions are done. */
async function joinRebuild(ctx: CliContext, options: ReindexOptions): Promise<void> {
  const log = ctx.log();
  await withProjectorClients(ctx, async (clients) => {
    const report = await runPartitionWorker({
      ...projectorStores(clients),
      projections: ['articles'],
      logger: log,
      signal: ctx.signal,
      ...(typeof options.join === 'string' ? { rebuildId: options.join } : {}),
      ...(options.maxPartitions !== undefined ? { maxPartitions: options.maxPartitions } : {}),
      onClaim: (partition, attempt) =>
        log.info({ partition, attempt }, attempt > 1 ? 'took over a partition' : 'claimed a partition'),
    });
    ctx.output(report, () =>
      report.partitions.length === 0
        ? `rebuild ${report.rebuildId}: no partition left to take`
        : `rebuild ${report.rebuildId}: wrote partition(s) ${report.partitions
            .map((d) => `${d.partition} (${d.articles} articles, ${(d.ms / 1000).toFixed(1)} s)`)
            .join(', ')}`,
    );
  });
}
