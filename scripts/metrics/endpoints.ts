import type { Client } from '@elastic/elasticsearch';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { InvalidArgumentError } from 'commander';
import type { Redis } from 'ioredis';
import type { ImageQueue } from '../../ingest/images/queue.ts';
import type { ImageWorker } from '../../ingest/images/worker.ts';
import type { CheckpointStore } from '../../log/checkpoints.ts';
import type { ContentLog } from '../../log/types.ts';
import type { ProjectorOptions } from '../../projectors/live/projector.ts';
import type { StateSnapshotStore } from '../../projectors/state/stateSnapshots.ts';
import type { Config } from '../../schemas/config.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import type { CliContext } from '../commands/cliContext.ts';
import { instrumentContentLog } from './appendMetrics.ts';
import { observeDependencies } from './dependencyMetrics.ts';
import { observeImageQueue, observeImageWorker } from './imageMetrics.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { type MetricsServer, startMetricsServer } from './metricsServer.ts';
import { observeProjector } from './projectorMetrics.ts';
import {
  aliasesCheck,
  createReadiness,
  elasticsearchCheck,
  lagCheck,
  natsCheck,
  type ReadinessCheck,
  redisCheck,
} from './readiness.ts';
import { observeReindex, type ReindexObserver } from './reindexMetrics.ts';

/** `--metrics-port <port>`: 0 to 65535. */
export function metricsPort(value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port > 65535) throw new InvalidArgumentError('must be a port (0-65535)');
  return port;
}

/** What a live projector's metrics and readiness read. */
export interface ProjectorSide {
  log: ContentLog;
  nc: NatsConnection;
  client: Client;
  checkpoints: CheckpointStore;
  leaseBucket: KV;
  snapshots?: StateSnapshotStore;
}

/**
 * Register a live projector's metrics (and NATS and Elasticsearch as dependencies) and
 * return the hooks to give it, chained after `hooks` the caller already had.
 */
export function projectorHooks(
  metrics: Metrics,
  side: ProjectorSide,
  projections: readonly ProjectionName[],
  hooks: Pick<ProjectorOptions, 'onProgress' | 'onCaughtUp'> = {},
): Pick<ProjectorOptions, 'onProgress' | 'onCaughtUp'> {
  observeDependencies(metrics, { nats: () => side.nc.rtt(), elasticsearch: side.client });
  const observer = observeProjector(metrics, { ...side, projections });
  return {
    onProgress: (progress) => {
      observer.onProgress(progress);
      hooks.onProgress?.(progress);
    },
    onCaughtUp: (position) => {
      observer.onCaughtUp();
      hooks.onCaughtUp?.(position);
    },
  };
}

/** `/readyz` of a process that serves or writes the projections: NATS, Elasticsearch, the aliases, the lag. */
export function projectionReadiness(
  config: Pick<Config, 'names' | 'readyMaxLag'>,
  side: Pick<ProjectorSide, 'log' | 'client' | 'checkpoints'>,
  projections: readonly ProjectionName[],
): Record<string, ReadinessCheck> {
  return {
    nats: natsCheck(side.log),
    elasticsearch: elasticsearchCheck(side.client),
    aliases: aliasesCheck(side.client, config.names, projections),
    lag: lagCheck({ log: side.log, checkpoints: side.checkpoints, projections }, config.readyMaxLag),
  };
}

/** A projector's hooks, and the metrics endpoint to close after it (nothing without a port). */
export interface ProjectorEndpoint {
  hooks: Pick<ProjectorOptions, 'onProgress' | 'onCaughtUp'>;
  close(): Promise<void>;
}

/**
 * With a port: the projector's metrics, and `/metrics`, `/healthz`, `/readyz` served on
 * it (the URL logged). Without: `hooks` passed through, nothing opened.
 */
export async function openProjectorEndpoint(
  ctx: Pick<CliContext, 'config' | 'log'>,
  side: ProjectorSide,
  projections: readonly ProjectionName[],
  port: number | undefined,
  hooks: Pick<ProjectorOptions, 'onProgress' | 'onCaughtUp'> = {},
): Promise<ProjectorEndpoint> {
  if (port === undefined) return { hooks, close: async () => {} };
  const metrics = createMetrics();
  const server = await startMetricsServer({
    metrics,
    port,
    readiness: createReadiness(projectionReadiness(ctx.config(), side, projections)),
  });
  ctx.log().info({ url: `${server.url}/metrics` }, 'serving metrics');
  return { hooks: projectorHooks(metrics, side, projections, hooks), close: () => server.close() };
}

/** Register an image worker's metrics (queue, jobs, NATS and Redis) and serve them on `port`. */
export async function serveWorkerMetrics(
  metrics: Metrics,
  parts: { log: ContentLog; redis: Redis; queue: ImageQueue; worker: ImageWorker },
  port: number,
): Promise<MetricsServer> {
  observeDependencies(metrics, { nats: () => parts.log.head(), redis: parts.redis });
  observeImageQueue(metrics, parts.queue);
  observeImageWorker(metrics, parts.worker);
  return startMetricsServer({
    metrics,
    port,
    readiness: createReadiness({ nats: natsCheck(parts.log), redis: redisCheck(parts.redis) }),
  });
}

/**
 * With a port: a reindex's metrics (and NATS and Elasticsearch as dependencies), served
 * with `/healthz` and `/readyz` (NATS, Elasticsearch) while it runs. Without: nothing.
 */
export async function openReindexEndpoint(
  ctx: Pick<CliContext, 'log'>,
  side: Pick<ProjectorSide, 'log' | 'nc' | 'client'>,
  projections: readonly ProjectionName[],
  port: number | undefined,
): Promise<{ observer: ReindexObserver; close(): Promise<void> } | undefined> {
  if (port === undefined) return undefined;
  const metrics = createMetrics();
  observeDependencies(metrics, { nats: () => side.nc.rtt(), elasticsearch: side.client });
  const observer = observeReindex(metrics, projections);
  const server = await startMetricsServer({
    metrics,
    port,
    readiness: createReadiness({ nats: natsCheck(side.log), elasticsearch: elasticsearchCheck(side.client) }),
  });
  ctx.log().info({ url: `${server.url}/metrics` }, 'serving metrics');
  return { observer, close: () => server.close() };
}

/** With a port: the log, its appends counted, and `/metrics` served (readiness: NATS). Without: nothing. */
export async function openIngestEndpoint(
  ctx: Pick<CliContext, 'log'>,
  log: ContentLog,
  port: number | undefined,
): Promise<{ log: ContentLog; close(): Promise<void> } | undefined> {
  if (port === undefined) return undefined;
  const metrics = createMetrics();
  observeDependencies(metrics, { nats: () => log.head() });
  const server = await startMetricsServer({
    metrics,
    port,
    readiness: createReadiness({ nats: natsCheck(log) }),
  });
  ctx.log().info({ url: `${server.url}/metrics` }, 'serving metrics');
  return { log: instrumentContentLog(metrics, log), close: () => server.close() };
}
