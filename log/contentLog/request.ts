import type { NatsConnection } from '@nats-io/transport-node';
import { retrying } from '../async.ts';
import type { LogContext } from './context.ts';
import { isNoResponders, isTransportError, wrapRequestError } from './natsErrors.ts';

/**
 * How long a timed-out read may be retried on this connection: `ctx.failoverMs` when the
 * server belongs to a cluster (another node takes over within seconds), none on a single
 * server, where nothing takes over and the caller's own deadline decides.
 */
export function failoverMsOf(ctx: LogContext, nc: NatsConnection): number {
  return nc.info?.cluster ? ctx.failoverMs : 0;
}

/**
 * A read-only JetStream request (stream info, a get, creating a consumer), retried on a
 * cluster while it times out, for at most `ctx.failoverMs`: the stream's leader being
 * re-elected after a node died (seconds), or an ephemeral consumer placed on a peer that
 * is down (2.9 may pick one; a new attempt is placed again). Then wrapped as the caller
 * should see it (see {@link wrapRequestError}). Never used for appends: a publish is
 * retried by the ingest, which knows what was acknowledged.
 */
export function request<T>(
  ctx: LogContext,
  nc: NatsConnection,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  return retrying(fn, {
    retryable: (err) => isTransportError(err) && !isNoResponders(err),
    deadlineMs: failoverMsOf(ctx, nc),
    initialMs: 250,
    maxMs: 2_000,
    onRetry: (err, attempt) => ctx.log?.debug({ err, attempt }, `retrying ${what}`),
  }).catch((err: unknown) => {
    throw wrapRequestError(ctx.stream, what, err);
  });
}
