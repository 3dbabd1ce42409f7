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
  try {
    // Its account-info request times out while a cluster elects a meta leader: retried.
    const jsm = await throughFailover(nc, ctx.failoverMs, () =>
      jetstreamManager(nc, { timeout: requestTimeoutMs }),
    );
    const js = jetstream(nc, { timeout: requestTimeoutMs });
    return { nc, js, jsm };
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
