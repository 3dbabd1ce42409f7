import type { NatsConnection } from '@nats-io/transport-node';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { createCheckpointStore } from '../../log/checkpoints.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { deploymentSecret } from '../../log/secrets.ts';
import type { Config } from '../../schemas/config.ts';
import { ConfigError } from '../../schemas/errors.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import { createSavedSearches } from '../../search/savedSearches.ts';
import { createSearcher } from '../../search/searcher.ts';
import { buildServer } from '../../search/server.ts';
import { openConfiguredKeyRing } from '../keys.ts';
import { observeDependencies } from '../metrics/dependencyMetrics.ts';
import { projectionReadiness } from '../metrics/endpoints.ts';
import { observeHttp } from '../metrics/httpMetrics.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { createReadiness } from '../metrics/readiness.ts';
import { connectNatsOrExplain, createEsClient, type Logger, openBlobStore } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';

/** A listening API server and what it opened. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  app: FastifyInstance;
  /** Stop accepting, finish in-flight requests, then close what was opened. Idempotent. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  port: number;
  host: string;
  logger: Logger;
  /** The process's metrics, served at `/metrics` (default: a registry of the server's own). */
  metrics?: Metrics;
}

/**
 * The composition root of the API: connect to NATS and Elasticsearch, build the searcher,
 * the content log, the checkpoint store and the blob store, and listen. If start-up fails
 * halfway, whatever was opened is closed again.
 */
export async function startServer(config: Config, options: StartServerOptions): Promise<RunningServer> {
  const releasers: (() => Promise<unknown>)[] = [];
  const release = async () => {
    for (const r of releasers.reverse()) await r().catch(() => {});
    releasers.length = 0;
  };
  try {
    const es = createEsClient(config);
    releasers.push(() => es.close());
    const nc = await connectNatsOrExplain(config, 'presslog-serve');
    releasers.push(() => nc.drain());
    const keys = await openConfiguredKeyRing(config, nc, options.logger);
    const log = createContentLog({
      nc,
      names: config.names,
      replicas: config.replicas,
      logger: options.logger,
      keys,
    });
    releasers.push(() => log.close());
    const checkpoints = createCheckpointStore({ nc, names: config.names, replicas: config.replicas });
    releasers.push(() => checkpoints.close());
    const cursorKey = await cursorKeyOf(config, nc);
    const searcher = createSearcher({ es, names: config.names, logger: options.logger, cursorKey });
    releasers.push(() => searcher.close());
    const metrics = options.metrics ?? createMetrics();
    observeDependencies(metrics, { nats: () => nc.rtt(), elasticsearch: es });
    const side = { log, client: es, checkpoints };
    const app = buildServer({
      readiness: createReadiness(projectionReadiness(config, side, PROJECTION_NAMES)),
      searcher,
      log,
      blobs: openBlobStore(config, nc),
      checkpoints,
      alerts: createSavedSearches({ nc, names: config.names, replicas: config.replicas }),
      logger: options.logger,
      timeoutMs: config.api.timeoutMs,
      rateLimitPerMinute: config.api.rateLimitPerMinute,
    });
    releasers.push(() => app.close());
    observeHttp(metrics, app);
    await app.listen({ port: options.port, host: options.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
      app,
      close: () => {
        closing ??= release();
        return closing;
      },
    };
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * The key that signs search cursors: `PRESSLOG_CURSOR_SECRET` when set, else the
 * namespace's secret in NATS KV, so every server and CLI of a deployment agree on it
 * without a setting.
 */
export async function cursorKeyOf(config: Config, nc: NatsConnection): Promise<Uint8Array> {
  if (config.api.cursorSecret !== undefined) return Buffer.from(config.api.cursorSecret);
  return deploymentSecret('cursor', { nc, names: config.names, replicas: config.replicas });
}

/** Parse `--port`: 0 (any free port) to 65535; anything else is a usage error. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port > 65535)
    throw new ConfigError('--port', `${JSON.stringify(value)} is not a port (0-65535)`);
  return port;
}

/** `presslog serve [--port 8080] [--host 127.0.0.1]`: the HTTP API and the search page, until SIGINT/SIGTERM. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description(
      'serve the HTTP API (/api/search, /api/articles/:id, ...), the search page at /, /metrics, /healthz and /readyz',
    )
    .option('--port <port>', 'TCP port (0: any free port)', '8080')
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .action(async (options: { port: string; host: string }) => {
      const port = parsePort(options.port);
      const server = await startServer(ctx.config(), { port, host: options.host, logger: ctx.log() });
      ctx.output({ url: server.url, openapi: `${server.url}/openapi.json` }, () =>
        [
          `presslog is serving ${server.url}/`,
          `  API: ${server.url}/api/search?q=...  (OpenAPI: ${server.url}/openapi.json)`,
        ].join('\n'),
      );
      await waitForAbort(ctx.signal);
      ctx.log().info('shutting down the server');
      await server.close();
    });
}

export function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
