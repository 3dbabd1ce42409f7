import type { Client } from '@elastic/elasticsearch';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Command, InvalidArgumentError } from 'commander';
import { createCheckpointStore } from '../../log/checkpoints.ts';
import type { ProjectionClients } from '../../projectors/clients.ts';
import { autoReplicas } from '../../projectors/indexes.ts';
import { openLeaseBucket } from '../../projectors/lease.ts';
import { createProjector, type ProjectorProgress } from '../../projectors/live/projector.ts';
import { parseProjections } from '../../projectors/projections.ts';
import { createStateSnapshotStore, type StateSnapshotStore } from '../../projectors/state/stateSnapshots.ts';
import { createDeadLetterStore } from '../../projectors/write/deadLetters.ts';
import { ConfigError } from '../../schemas/errors.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import { metricsPort, openProjectorEndpoint } from '../metrics/endpoints.ts';
import { createEsClient } from '../runtime.ts';
import { createAlertHook } from './alertHook.ts';
import type { CliContext } from './cliContext.ts';
import { withContentLogApart } from './withContentLog.ts';

/** Everything the projector commands need, opened together and closed in reverse order. */
export interface ProjectorClients extends ProjectionClients {
  nc: NatsConnection;
  snapshots: StateSnapshotStore;
}

/** What a projector, a rebuild and the status report take of the clients: all but the NATS connection. */
export function projectorStores({ nc: _nc, ...stores }: ProjectorClients): Omit<ProjectorClients, 'nc'> {
  return stores;
}

/**
 * Open NATS, the content log, Elasticsearch, the checkpoint and lease buckets; run `fn`;
 * close all. The buckets use a connection apart from the log's (see `withContentLogApart`).
 */
export async function withProjectorClients<T>(
  ctx: CliContext,
  fn: (clients: ProjectorClients) => Promise<T>,
): Promise<T> {
  const config = ctx.config();
  return withContentLogApart(ctx, async (log, nc) => {
    const es = createEsClient(config);
    const checkpoints = createCheckpointStore({ nc, names: config.names, replicas: config.replicas });
    try {
      const leaseBucket = await openLeaseBucket(nc, config.names, config.replicas);
      const deadLetters = createDeadLetterStore({ client: es, names: config.names });
      const snapshots = createStateSnapshotStore({
        nc,
        names: config.names,
        replicas: config.replicas,
        logger: ctx.log(),
      });
      return await fn({
        log,
        nc,
        client: es,
        checkpoints,
        leaseBucket,
        deadLetters,
        snapshots,
        names: config.names,
      });
    } finally {
      await checkpoints.close();
      await es.close();
    }
  });
}

/** `--replicas`: a count, or `auto` (1 on a cluster with two or more data nodes, else 0). */
export function replicasArg(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be auto or a whole number ≥ 0');
  return n;
}

/** The replica count of `--replicas`, resolved against the cluster when `auto`. */
export async function resolveReplicas(value: number | 'auto', client: Client): Promise<number> {
  return value === 'auto' ? autoReplicas(client) : value;
}

export function positiveInt(value: string): number {
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function projectionsArg(value: string | undefined, variable: string): ProjectionName[] {
  try {
    return parseProjections(value);
  } catch (err) {
    throw new ConfigError(variable, (err as Error).message);
  }
}

interface ProjectOptions {
  projection?: string;
  wait?: boolean;
  once?: boolean;
  batch: number;
  leaseTtl: number;
  replicas: number | 'auto';
  shards: number;
  metricsPort?: number;
}

function describe(progress: ProjectorProgress): string {
  return Object.entries(progress.targets)
    .map(([p, t]) => `${p}@${t.seq}`)
    .join(' ');
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('project')
    .description(
      'live projection: tail the log into the Elasticsearch indexes behind the aliases (creates them when missing)',
    )
    .option('-p, --projection <name>', 'articles, images, bylines, or all (default all)')
    .option('--wait', 'when another projector holds the lease, wait for it instead of exiting')
    .option('--once', 'stop when caught up with the head of the log')
    .option('--batch <n>', 'documents per bulk batch', positiveInt, 1000)
    .option('--lease-ttl <ms>', 'lease lifetime without renewal', positiveInt, 15_000)
    .option(
      '--replicas <n>',
      'replicas of an index created here: auto (1 with ≥ 2 data nodes, else 0) or a number',
      replicasArg,
      'auto',
    )
    .option('--shards <n>', 'primary shards of a new index (about one per data node)', positiveInt, 1)
    .option(
      '--metrics-port <port>',
      'serve /metrics, /healthz and /readyz on this port (0: any free port)',
      metricsPort,
    )
    .action(async (options: ProjectOptions) => {
      const projections = projectionsArg(options.projection, '--projection');
      const log = ctx.log();
      await withProjectorClients(ctx, async (clients) => {
        let lastLog = 0;
        const alerts = createAlertHook({
          es: clients.client,
          nc: clients.nc,
          names: ctx.config().names,
          replicas: ctx.config().replicas,
          logger: log,
        });
        const logProgress = (progress: ProjectorProgress) => {
          if (Date.now() - lastLog < 5000) return;
          lastLog = Date.now();
          log.info(
            {
              position: progress.position,
              indexed: progress.stats.indexed,
              deadLettered: progress.stats.deadLettered,
            },
            `projected up to ${describe(progress)}`,
          );
        };
        const endpoint = await openProjectorEndpoint(ctx, clients, projections, options.metricsPort, {
          onProgress: logProgress,
        });
        const projector = createProjector({
          onArticlesVisible: alerts.onArticlesVisible,
          ...projectorStores(clients),
          projections,
          logger: log,
          batchDocs: options.batch,
          leaseTtlMs: options.leaseTtl,
          live: {
            replicas: await resolveReplicas(options.replicas, clients.client),
            refreshInterval: '1s',
            shards: options.shards,
          },
          ...endpoint.hooks,
        });
        try {
          const stats = await projector.run({
            signal: ctx.signal,
            wait: options.wait,
            untilCaughtUp: options.once,
            onWait: (holder) => log.warn({ holder }, 'another live projector holds the lease; waiting'),
          });
          ctx.output(stats, () =>
            [
              stats.restoredFrom
                ? `state restored from a snapshot at sequence ${stats.restoredFrom.position} in ${(stats.restoredFrom.ms / 1000).toFixed(1)} s`
                : 'state rebuilt from the start of the log',
              `applied events up to sequence ${stats.position} (${stats.events} read, ${stats.unreadable} unreadable)`,
              `documents: ${stats.indexed} indexed, ${stats.deleted} deleted, ${stats.conflicts} already current, ${stats.deadLettered} dead-lettered`,
            ].join('\n'),
          );
        } finally {
          await projector.close();
          await alerts.close();
          await endpoint.close();
        }
      });
    });
}
