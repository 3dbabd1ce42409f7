import type { Logger } from 'pino';
import { runEvery, sleep, throwFailures } from '../../log/async.ts';
import { PresslogError } from '../../schemas/errors.ts';
import { createLease, type Lease, LeaseHeldError, projectLeaseKey } from '../lease.ts';
import { createBulkWriter, emptyBulkStats } from '../write/bulkWriter.ts';
import { createWritePipeline } from '../write/pipeline.ts';
import { openTargets } from './bootstrap.ts';
import { createChangeMemory } from './changeMemory.ts';
import { type Batch, type LiveContext, loopSettings, newEngine } from './context.ts';
import { commitBatch } from './flush.ts';
import { watchPointers } from './handover.ts';
import { noteError, publishIndexes, writeHealth } from './health.ts';
import { finishRun, tailLog } from './loop.ts';
import { restoreState } from './snapshot.ts';
import type { Projector, ProjectorOptions, ProjectorStats, RunOptions } from './types.ts';
import { ProjectorStalledError, startWatchdog, waitingOn } from './watchdog.ts';

export type { Projector, ProjectorOptions, ProjectorProgress, ProjectorStats, RunOptions } from './types.ts';
export { ProjectorStalledError } from './watchdog.ts';

/**
 * Create the live projector. `run` takes a lease per projection (one live projector per
 * projection across all machines), resolves each alias to its index (creating the first
 * index when there is none), restores the projection state from a usable snapshot (see
 * `snapshots`) or else rebuilds it by replaying the log (nothing is written for events at
 * or below an index's checkpoint either way), then tails the log: batches
 * bounded by size and time, bulk writes with external versions, and the checkpoint of
 * each index advanced only after Elasticsearch acknowledged the batch. When a reindex (or
 * a rollback) moves an alias, the projector notices (KV pointer watch, and a periodic
 * alias check) and continues on the new index from that index's own checkpoint.
 *
 * A projector that cannot make progress for longer than its lease TTL (Elasticsearch
 * hung or failing every write) says so in its health entry, then gives its leases up so
 * that a standby (`run({ wait: true })`) takes over, and starts again once it gets them
 * back; without `wait`, `run()` rejects with a `ProjectorStalledError` when the standby
 * got them (see `watchdog.ts`).
 *
 * The parts live beside this file, as functions over one {@link LiveContext} per run:
 * `bootstrap.ts` (aliases and first indexes), `snapshot.ts`, `loop.ts` (the tail),
 * `flush.ts` (render, write, commit), `handover.ts` (alias moves), `changeMemory.ts`.
 */
export function createProjector(options: ProjectorOptions): Projector {
  const projections = [...options.projections];
  const logger = options.logger?.child({ component: 'projector', projections: projections.join(',') });
  const newLeases = (): Lease[] =>
    projections.map((projection) =>
      createLease({
        kv: options.leaseBucket,
        key: projectLeaseKey(projection),
        ttlMs: options.leaseTtlMs,
        purpose: `live projector of ${projection}`,
        logger,
      }),
    );
  /** The leases of the current attempt: one given up after a stall is done with, the next attempt takes new ones. */
  let leases = newLeases();
  /** Aborted by `close()`: a stop on request, like the caller's signal. */
  const closed = new AbortController();
  let running: Promise<ProjectorStats> | undefined;
  let closing: Promise<void> | undefined;

  async function close(): Promise<void> {
    closed.abort(new PresslogError('the live projector was closed'));
    const failures = await runEvery([
      // run()'s failure is reported by run(); close() only waits for it to end.
      () => running?.catch(() => {}),
      async () => throwFailures(await runEvery(leases.map((l) => () => l.release())), 'releasing failed'),
    ]);
    throwFailures(failures, 'closing the live projector failed');
  }

  /**
   * Run until stopped or failed; after a stall (see watchdog.ts) the leases are given up
   * and, after a pause that lets a standby take them, taken again: with `wait` as a standby
   * itself, without it only if nobody else did (else the run ends with the stall).
   */
  async function attempts(runOptions: RunOptions, stopping: AbortSignal): Promise<ProjectorStats> {
    let totals: ProjectorStats | undefined;
    let stalled: ProjectorStalledError | undefined;
    for (;;) {
      const stall = new AbortController();
      const ctx = createContext(
        options,
        projections,
        leases,
        { stopping, stall: stall.signal },
        logger,
        totals,
      );
      try {
        return await run(ctx, runOptions, stall);
      } catch (err) {
        if (stalled && err instanceof LeaseHeldError) {
          throw new ProjectorStalledError(`${stalled.message}; ${err.message}`, { cause: err });
        }
        if (!(err instanceof ProjectorStalledError) || stopping.aborted) throw err;
        stalled = err;
        totals = ctx.totals;
      }
      // A standby polls the lease at least every third of its TTL: two of ours give it time.
      const pauseMs = 2 * loopSettings(options).leaseTtlMs;
      logger?.warn(
        { pauseMs },
        'gave up the leases after a stall; will take them again unless a standby does',
      );
      try {
        await sleep(pauseMs, stopping);
      } catch {
        return totals;
      }
      leases = newLeases();
    }
  }

  return {
    run(runOptions = {}) {
      if (closing) return Promise.reject(new PresslogError('the live projector is closed'));
      if (running)
        return Promise.reject(new PresslogError('run() was called already: a live projector runs once'));
      const stopping = runOptions.signal
        ? AbortSignal.any([runOptions.signal, closed.signal])
        : closed.signal;
      running = attempts(runOptions, stopping);
      return running;
    },
    close() {
      closing ??= close();
      return closing;
    },
  };
}

function createContext(
  options: ProjectorOptions,
  projections: LiveContext['projections'],
  leases: Lease[],
  { stopping, stall }: { stopping: AbortSignal; stall: AbortSignal },
  logger: Logger | undefined,
  totals?: ProjectorStats,
): LiveContext {
  const signal = AbortSignal.any([stopping, stall, ...leases.map((l) => l.lost)]);
  const settings = loopSettings(options);
  const ctx: LiveContext = {
    options,
    projections,
    settings,
    logger,
    leases,
    stopping,
    signal,
    targets: new Map(),
    totals: totals ?? {
      ...emptyBulkStats(),
      events: 0,
      unreadable: 0,
      articlesLoaded: 0,
      handovers: 0,
      position: 0,
      snapshotsSaved: 0,
    },
    memory: createChangeMemory(options.handoverMemory ?? 200_000),
    pipeline: createWritePipeline<Batch>({
      maxInFlight: options.maxInFlight ?? 2,
      commit: (batch, stats) => commitBatch(ctx, batch, stats),
    }),
    writer: createBulkWriter({
      client: options.client,
      deadLetters: options.deadLetters,
      logger,
      // Without a bound of its own, a request to a hung node waits for as long as the
      // client's timeout, longer than the lease the writes are made under.
      requestTimeoutMs: settings.writeTimeoutMs,
      onRetry: (notice) => {
        noteError(
          ctx,
          `Elasticsearch bulk write failed (attempt ${notice.attempt}): ${notice.error}; retrying`,
        );
        void writeHealth(ctx, 'retrying');
      },
    }),
    engine: newEngine({ options, projections }),
    position: 0,
    pendingDead: [],
    batchStarted: 0,
    caughtUp: false,
    lastRefresh: 0,
    aliasMaybeMoved: false,
    lastAliasCheck: Date.now(),
    savedAt: { position: 0, ms: Date.now() },
    waits: new Set(),
  };
  return ctx;
}

/**
 * One run: take the leases, open the targets, restore the state, tail the log. Whatever
 * was taken is given back however it ends: the pointer watch and the stall watchdog
 * stopped, the health entry marked stopped (retrying, after a stall), the leases released
 * (so a successor can start at once).
 */
async function run(
  ctx: LiveContext,
  runOptions: RunOptions,
  stall: AbortController,
): Promise<ProjectorStats> {
  let stopWatching: (() => void) | undefined;
  let stopWatchdog: (() => void) | undefined;
  let failure: { err: unknown } | undefined;
  try {
    for (const lease of ctx.leases) {
      await lease.acquire({ wait: runOptions.wait, signal: ctx.stopping, onWait: runOptions.onWait });
    }
    stopWatchdog = startWatchdog(ctx, stall);
    await waitingOn(ctx, 'opening the indexes', () => openTargets(ctx));
    publishIndexes(ctx);
    await writeHealth(ctx, 'running');
    ctx.logger?.info(
      {
        targets: Object.fromEntries(
          [...ctx.targets].map(([p, t]) => [p, { index: t.index, checkpoint: t.seq }]),
        ),
      },
      'live projector started',
    );
    stopWatching = await watchPointers(ctx);
    await restoreState(ctx);
    await tailLog(ctx, runOptions.untilCaughtUp ?? false);
    await finishRun(ctx);
  } catch (err) {
    // A stall aborts whatever was waiting, which may fail with an error of its own (an aborted request).
    const stalled = ctx.signal.reason instanceof ProjectorStalledError ? ctx.signal.reason : undefined;
    noteError(ctx, ((stalled ?? err) as Error).message);
    failure = { err: stalled ?? err };
  }
  const cleanupFailures = await runEvery([
    () => stopWatchdog?.(),
    () => ctx.engine.close(),
    () => stopWatching?.(),
    // After a stall the projector will try again: not stopped.
    () => writeHealth(ctx, failure?.err instanceof ProjectorStalledError ? 'retrying' : 'stopped'),
    ...ctx.leases.map((lease) => () => lease.release()),
  ]);
  if (failure) {
    if (cleanupFailures.length > 0)
      ctx.logger?.warn({ err: cleanupFailures[0] }, 'cleaning up after a failure failed');
    throw failure.err;
  }
  throwFailures(cleanupFailures, 'stopping the live projector failed');
  return ctx.totals;
}
