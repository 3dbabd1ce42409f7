import { setTimeout as delay } from 'node:timers/promises';
import { errors } from '@elastic/elasticsearch';

/** Status codes after which the same Elasticsearch request may succeed later. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504 || status === 500;
}

/** True when an Elasticsearch client error is worth retrying: no connection, a timeout, overload. */
export function isRetryableEsError(err: unknown): boolean {
  if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError) return true;
  if (err instanceof errors.NoLivingConnectionsError) return true;
  if (err instanceof errors.ResponseError) return isRetryableStatus(err.statusCode);
  return false;
}

/** HTTP status of an Elasticsearch client error, when it has one. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof errors.ResponseError ? err.statusCode : undefined;
}

/**
 * Resolve after `ms`, or reject with the signal's reason when it aborts first. The
 * reason, not `node:timers/promises`' generic AbortError: callers tell a shutdown from a
 * lost lease by it.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  }
}

/** Exponential backoff with full jitter: attempt 0 waits up to `initialMs`, capped at `maxMs`. */
export function backoffMs(attempt: number, initialMs = 100, maxMs = 10_000): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export interface RetryOptions {
  signal?: AbortSignal;
  /** Give up after this long (default: never, until the signal aborts). */
  deadlineMs?: number;
  initialMs?: number;
  maxMs?: number;
  /** Called before each wait, with the error and the attempt number (from 1). */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** Which errors to retry (default {@link isRetryableEsError}). */
  retryable?: (err: unknown) => boolean;
}

/**
 * Run `fn` until it succeeds, retrying errors that may pass (Elasticsearch restarting,
 * overloaded) with backoff; anything else, an abort, or the deadline throws.
 */
export async function retrying<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const started = Date.now();
  const retryable = options.retryable ?? isRetryableEsError;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (!retryable(err)) throw err;
      const wait = backoffMs(attempt, options.initialMs, options.maxMs);
      if (options.deadlineMs !== undefined && Date.now() - started + wait > options.deadlineMs) throw err;
      options.onRetry?.(err, attempt + 1, wait);
      await sleep(wait, options.signal);
    }
  }
}
