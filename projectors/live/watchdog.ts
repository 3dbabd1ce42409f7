import { PresslogError } from '../../schemas/errors.ts';
import type { LiveContext } from './context.ts';
import { noteError, writeHealth } from './health.ts';

/**
 * The projector could not make progress for longer than its lease TTL (Elasticsearch
 * not answering, or failing every write) and gave up its leases so that a standby
 * (`project --wait`) could take over. `run()` rejects with it when, after a pause, the
 * leases were taken by another projector (and it was not told to `wait`); otherwise the
 * projector takes them back and starts again.
 */
export class ProjectorStalledError extends PresslogError {
  override name = 'ProjectorStalledError';
}

/** Something the projector is waiting on Elasticsearch for: a batch until it is committed, opening the indexes. */
export interface Wait {
  readonly what: string;
  readonly since: number;
  /** Reported as stalled already (once per wait). */
  warned: boolean;
}

/** Register a wait; end it with {@link endWait} however it ends. */
export function beginWait(ctx: LiveContext, what: string): Wait {
  const wait: Wait = { what, since: Date.now(), warned: false };
  ctx.waits.add(wait);
  return wait;
}

export function endWait(ctx: LiveContext, wait: Wait | undefined): void {
  if (!wait || !ctx.waits.delete(wait)) return;
  // The stall it was reported for is over: the health entry says so (the error stays until caught up).
  if (wait.warned && ![...ctx.waits].some((w) => w.warned) && !ctx.signal.aborted) {
    ctx.logger?.info({ what: wait.what, ms: Date.now() - wait.since }, 'Elasticsearch answered again');
    void writeHealth(ctx, 'running');
  }
}

/** Run `fn` as a wait (see {@link beginWait}). */
export async function waitingOn<T>(ctx: LiveContext, what: string, fn: () => Promise<T>): Promise<T> {
  const wait = beginWait(ctx, what);
  try {
    return await fn();
  } finally {
    endWait(ctx, wait);
  }
}

/**
 * Watch the run's waits. Every request to Elasticsearch has a timeout, and failed writes
 * are retried for as long as it takes; but a projector that keeps retrying while holding
 * its leases keeps every standby out. So: a wait older than a third of the lease TTL is
 * logged and put in the health entry (`presslog status` shows it); one older than the
 * TTL stops the run with {@link ProjectorStalledError} (through `stall`, which the run's
 * signal includes), and the run releases its leases on the way out. Returns the stop
 * function.
 */
export function startWatchdog(ctx: LiveContext, stall: AbortController): () => void {
  const { leaseTtlMs } = ctx.settings;
  const warnAfterMs = Math.max(100, Math.floor(leaseTtlMs / 3));
  const timer = setInterval(
    () => {
      let oldest: Wait | undefined;
      for (const wait of ctx.waits) if (!oldest || wait.since < oldest.since) oldest = wait;
      if (!oldest || ctx.signal.aborted) return;
      const ms = Date.now() - oldest.since;
      const seconds = (ms / 1000).toFixed(1);
      if (ms > leaseTtlMs) {
        const message =
          `no progress for ${seconds} s, longer than the lease (${leaseTtlMs} ms): ${oldest.what} ` +
          'is not done (Elasticsearch not answering, or failing); giving up the lease to a standby';
        ctx.logger?.error({ what: oldest.what, ms, leaseTtlMs }, message);
        noteError(ctx, message);
        stall.abort(new ProjectorStalledError(`live projector stalled: ${message}`));
        return;
      }
      if (ms >= warnAfterMs && !oldest.warned) {
        oldest.warned = true;
        const message = `Elasticsearch has not answered for ${seconds} s: ${oldest.what}`;
        ctx.logger?.warn({ what: oldest.what, ms, leaseTtlMs }, `${message}; still waiting`);
        noteError(ctx, message);
        void writeHealth(ctx, 'retrying');
      }
    },
    Math.max(50, Math.floor(leaseTtlMs / 10)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
