import type { NatsConnection } from '@nats-io/transport-node';
import { type RetryOptions, retrying } from '../async.ts';
import type { LogContext } from './context.ts';
import { isNoResponders, isTransportError, wrapRequestError } from './natsErrors.ts';

/** How long a read that times out is retried on a cluster, unless the log is told otherwise. */
export const DEFAULT_FAILOVER_MS = 20_000;

/**
 * Call `fn`, retried while it times out for at most `failoverMs` when the server belongs
 * to a cluster (another node takes over within seconds: a stream electing its leader
 * after a node died), and not at all on a single server, where nothing takes over and
 * the caller's own deadline decides.
 */
export function throughFailover<T>(
  nc: NatsConnection,
  failoverMs: number,
  fn: () => Promise<T>,
  options: Pick<RetryOptions, 'retryable' | 'onRetry'> = {},
): Promise<T> {
  return retrying(fn, {
    retryable: (err) => isTransportError(err) && !isNoResponders(err),
    ...options,
    deadlineMs: nc.info?.cluster ? failoverMs : 0,
    initialMs: 250,
    maxMs: 2_000,
  });
}

/**
 * A read of a bucket (a key-value or object store) retried while it times out on a
 * cluster, like the content log's reads: its stream electing a leader after a node died,
 * or (nats-server 2.9) an object store's read consumer placed on a peer that is down.
 */
export function bucketRead<T>(nc: NatsConnection, fn: () => Promise<T>): Promise<T> {
  return throughFailover(nc, DEFAULT_FAILOVER_MS, fn, { retryable: isTransportError });
}

/**
 * A read-only JetStream request (stream info, a get, creating a consumer), retried through
 * a fail-over (see {@link throughFailover}; on nats-server 2.9 an ephemeral consumer may
 * also be placed on a peer that is down, and a new attempt is placed again). Then wrapped
 * as the caller should see it (see {@link wrapRequestError}). Never used for appends: a
 * publish is retried by the ingest, which knows what was acknowledged.
 */
export function request<T>(
  ctx: LogContext,
  nc: NatsConnection,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  return throughFailover(nc, ctx.failoverMs, fn, {
    onRetry: (err, attempt) => ctx.log?.debug({ err, attempt }, `retrying ${what}`),
  }).catch((err: unknown) => {
    throw wrapRequestError(ctx.stream, what, err);
  });
}
