import { retrying } from '../async.ts';
import type { LogContext } from './context.ts';
import { isNoResponders, isTransportError, wrapRequestError } from './natsErrors.ts';

/**
 * A read-only JetStream request (stream info, a get, creating a consumer), retried while
 * it times out for at most `ctx.failoverMs`: on a cluster, the stream's leader being
 * re-elected after a node died (seconds), or an ephemeral consumer placed on a peer
 * that is down (2.9 may pick one; a new attempt is placed again). Then wrapped as the
 * caller should see it (see {@link wrapRequestError}). Never used for appends: a publish
 * is retried by the ingest, which knows what was acknowledged.
 */
export function request<T>(ctx: LogContext, what: string, fn: () => Promise<T>): Promise<T> {
  return retrying(fn, {
    retryable: (err) => isTransportError(err) && !isNoResponders(err),
    deadlineMs: ctx.failoverMs,
    initialMs: 250,
    maxMs: 2_000,
    onRetry: (err, attempt) => ctx.log?.debug({ err, attempt }, `retrying ${what}`),
  }).catch((err: unknown) => {
    throw wrapRequestError(ctx.stream, what, err);
  });
}
