import { setTimeout as delay } from 'node:timers/promises';
import { isRetryable } from '../schemas/errors.ts';

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
  /** Give up after this many attempts (default: no limit). */
  attempts?: number;
  initialMs?: number;
  maxMs?: number;
  /** Called before each wait, with the error and the attempt number (from 1). */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** Which errors to retry (default {@link isRetryable}: presslog's `TransientError`). */
  retryable?: (err: unknown) => boolean;
}

/**
 * Run `fn` until it succeeds, retrying the errors `retryable` accepts with backoff;
 * anything else, an abort, the attempt limit or the deadline throws the last error.
 *
 * Hand-written rather than p-retry 6: that one reports the most frequent error rather
 * than the last, never retries a `TypeError`, and does not tell `onRetry` how long it
 * will wait — three things our callers' logs and tests rely on.
 */
export async function retrying<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const started = Date.now();
  const retryable = options.retryable ?? isRetryable;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (!retryable(err)) throw err;
      if (options.attempts !== undefined && attempt + 1 >= options.attempts) throw err;
      const wait = backoffMs(attempt, options.initialMs, options.maxMs);
      if (options.deadlineMs !== undefined && Date.now() - started + wait > options.deadlineMs) throw err;
      options.onRetry?.(err, attempt + 1, wait);
      await sleep(wait, options.signal);
    }
  }
}

/** Map `items` through `fn` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Run every step in order, each even when an earlier one failed, and return the
 * failures: a shutdown must not stop halfway (a failed health write must not leave the
 * leases held). graphile/worker's releasers, BullMQ's `close()`.
 */
export async function runEvery(steps: readonly (() => unknown)[]): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      failures.push(err);
    }
  }
  return failures;
}

/** Throw the one failure as it is, several as an `AggregateError`; nothing when there are none. */
export function throwFailures(failures: readonly unknown[], message: string): void {
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, message);
}

/**
 * Read `messages` until `each` answers true for one, the iteration ends, or nothing has
 * come for `idleMs`; in the last case `messages` is closed (which must end a pending
 * read, as a NATS consumer's `close()` does). True unless it gave up idle. For catching up
 * on a stream as an optimization, where a consumer that never delivers the message it
 * waits for (lost while the process was stopped, the last entry deleted meanwhile) must
 * not hang the caller: what was not read is read another way.
 */
export async function readUntil<T>(
  messages: AsyncIterable<T> & { close(): unknown },
  idleMs: number,
  each: (message: T) => boolean,
): Promise<boolean> {
  let idle = false;
  const timer = setTimeout(() => {
    idle = true;
    void messages.close();
  }, idleMs);
  try {
    for await (const message of messages) {
      timer.refresh();
      if (each(message)) return true;
    }
    return !idle;
  } finally {
    clearTimeout(timer);
  }
}
