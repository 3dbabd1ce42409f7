import { readFile } from 'node:fs/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { ConfigError, PresslogError, TransientError } from '../../schemas/errors.ts';
import type { Clients, LogContext } from './context.ts';
import { isTransportError } from './natsErrors.ts';
import { createPublisher, type Publisher } from './publisher.ts';
import { throughFailover } from './request.ts';

/**
 * A direct get is answered in milliseconds by any replica; when none answers in this
 * long, the stream's leader is asked instead (see `getMessage`).
 */
export const DIRECT_GET_TIMEOUT_MS = 2_000;

/** A read consumer not created in this long on a cluster is asked for again (see `Clients.reads`). */
export const CLUSTER_CONSUMER_TIMEOUT_MS = 3_000;

/** How often the client pings its server (see `open`). */
export const PING_INTERVAL_MS = 3_000;

async function open(ctx: LogContext): Promise<Clients> {
  const { options, requestTimeoutMs } = ctx;
  let nc: NatsConnection;
  if (options.nc) {
    nc = options.nc;
  } else {
    const servers = Array.isArray(options.servers)
      ? options.servers
      : options.servers.split(',').map((s) => s.trim());
    const connectOptions: NodeConnectionOptions = {
      servers,
      user: options.user,
      pass: options.pass,
      token: options.token,
      timeout: options.connectTimeoutMs ?? 5_000,
      name: options.name ?? 'presslog-content-log',
      // A server cut off by a network partition answers nothing and closes nothing: without
      // our own pings (the client's default is one every 2 minutes) every request would time
      // out against it for minutes. Two unanswered pings, 3 s apart, and the client moves to
      // another server of the cluster, well within a read's fail-over window.
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: 2,
    };
    if (options.credsFile)
      connectOptions.authenticator = credsAuthenticator(await readFile(options.credsFile));
    try {
      nc = await connect(connectOptions);
    } catch (err) {
      throw new TransientError(`cannot connect to NATS at ${servers.join(',')}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  if (!options.nc) reportStatus(ctx, nc);
  try {
    // Its account-info request times out while a cluster elects a meta leader: retried.
    const jsm = await throughFailover(nc, ctx.failoverMs, () =>
      jetstreamManager(nc, { timeout: requestTimeoutMs }),
    );
    const js = jetstream(nc, { timeout: requestTimeoutMs });
    const direct = await jetstreamManager(nc, {
      timeout: Math.min(requestTimeoutMs, DIRECT_GET_TIMEOUT_MS),
      checkAPI: false,
    });
    const reads = nc.info?.cluster
      ? jetstream(nc, { timeout: Math.min(requestTimeoutMs, CLUSTER_CONSUMER_TIMEOUT_MS) })
      : js;
    return { nc, js, jsm, direct, reads };
  } catch (err) {
    // Release what we opened before failing (the injected connection is the caller's).
    if (!options.nc) await nc.close().catch(() => {});
    if ((err as Error).name === 'JetStreamNotEnabled') {
      throw new ConfigError(
        'NATS_URL',
        `JetStream is not enabled on this server: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (isTransportError(err)) {
      throw new TransientError(`NATS did not answer a JetStream request: ${(err as Error).message}`, {
        cause: err,
      });
    }
    throw err;
  }
}

/** Log the connection's moves between servers: an operator's first clue in a partition. */
function reportStatus(ctx: LogContext, nc: NatsConnection): void {
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'staleConnection')
        ctx.log?.warn({ server: 'server' in status ? status.server : undefined }, `NATS ${status.type}`);
    }
  })().catch(() => {});
}

/** The connection and JetStream handles, opened on first use; a failed open is retried by the next call. */
export function clients(ctx: LogContext): Promise<Clients> {
  if (ctx.closing) return Promise.reject(new PresslogError('the content log is closed'));
  if (!ctx.opening) {
    const opening = open(ctx);
    ctx.opening = opening;
    // A failed connect may be retried by the next call.
    opening.catch(() => {
      ctx.opening = undefined;
    });
  }
  return ctx.opening;
}

/** The appends' publisher on the log's connection, made on first use; a failed one is made again by the next call. */
export function publisher(ctx: LogContext): Promise<Publisher> {
  if (!ctx.publisher) {
    const making = clients(ctx).then(({ nc }) =>
      createPublisher(nc, {
        timeoutMs: ctx.requestTimeoutMs,
        // Every send of a message within the duplicate window of its first (see publisher.ts).
        attempts: Math.max(1, Math.min(3, Math.floor(ctx.duplicateWindowMs / ctx.requestTimeoutMs))),
        log: ctx.log,
      }),
    );
    ctx.publisher = making;
    making.catch(() => {
      if (ctx.publisher === making) ctx.publisher = undefined;
    });
  }
  return ctx.publisher;
}

/** Stop the reads in progress, then close the connection if the log opened it. Idempotent. */
export function close(ctx: LogContext): Promise<void> {
  ctx.closing ??= (async () => {
    for (const stop of ctx.activeScans) stop();
    (await ctx.publisher?.catch(() => undefined))?.close();
    if (!ctx.opening || ctx.options.nc) return;
    const opened = await ctx.opening.catch(() => undefined);
    if (opened && !opened.nc.isClosed()) await opened.nc.close();
  })();
  return ctx.closing;
}
