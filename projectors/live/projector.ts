import { KvWatchInclude } from '@nats-io/kv';
import type { Logger } from 'pino';
import { backoffMs, retrying, sleep } from '../../log/async.ts';
import { PresslogError, TransientError } from '../../schemas/errors.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import type { ProjectionClients } from '../clients.ts';
import { createArticleLoader, createProjectionEngine, type ProjectionEngine } from '../engine.ts';
import {
  aliasTargets,
  createProjectionIndex,
  DEFAULT_LIVE_SETTINGS,
  type LiveSettings,
  versionedIndexName,
} from '../indexes.ts';
import { createLease, type Lease, type LeaseValue } from '../lease.ts';
import { PROJECTIONS } from '../projections.ts';
import type { Changes } from '../state/projectionState.ts';
import { type StateSnapshotStore, snapshotName } from '../state/stateSnapshots.ts';
import {
  addBulkStats,
  type BulkStats,
  createBulkWriter,
  type DocOp,
  emptyBulkStats,
} from '../write/bulkWriter.ts';
import type { DeadLetter } from '../write/deadLetters.ts';
import { retryingEs } from '../write/esRetry.ts';
import { createWritePipeline, type PipelineBatch } from '../write/pipeline.ts';

/** Health of a live projection, kept in the checkpoint bucket under `health.<projection>` for `status`. */
export interface ProjectorHealth {
  projection: ProjectionName;
  index: string;
  state: 'running' | 'retrying' | 'stopped';
  owner: string;
  lastError?: string;
  lastErrorAt?: string;
  updatedAt: string;
}

export function healthKey(projection: ProjectionName): string {
  return `health.${projection}`;
}

export function projectLeaseKey(projection: ProjectionName): string {
  return `project.${projection}`;
}

/** Progress of a live projector, reported after every committed batch. */
export interface ProjectorProgress {
  /** Highest sequence applied to the in-memory state. */
  position: number;
  /** Per projection: the index written and its committed checkpoint. */
  targets: Record<string, { index: string; seq: number; visibleSeq: number }>;
  stats: BulkStats;
  /** True once the projector has read up to the head of the log at least once. */
  caughtUp: boolean;
}

export interface ProjectorStats extends BulkStats {
  events: number;
  /** Where the state came from at start: a snapshot (its position) or a replay from the start of the log. */
  restoredFrom?: { position: number; ms: number };
  /** State snapshots saved. */
  snapshotsSaved: number;
  unreadable: number;
  /** Articles read back from the log for fan-out. */
  articlesLoaded: number;
  /** Times the alias moved under the projector (a reindex swap or a rollback). */
  handovers: number;
  position: number;
}

export interface ProjectorOptions extends ProjectionClients {
  /** Projections to keep current (one pass over the log feeds them all). */
  projections: readonly ProjectionName[];
  logger?: Logger;
  /** Settings of an index the projector has to create because the alias does not exist yet. */
  live?: LiveSettings;
  /** Render and write once this many documents are queued (default 1000). */
  batchDocs?: number;
  /** ... or once the oldest queued change is this old (default 200 ms). */
  batchDelayMs?: number;
  /** How often to look for new events when caught up (default 50 ms). */
  idlePollMs?: number;
  /** Bulk requests in flight (default 2). */
  maxInFlight?: number;
  /** Make writes searchable (refresh) at least this often while busy (default 1 s); always when caught up. */
  refreshEveryMs?: number;
  leaseTtlMs?: number;
  /** How often to verify the alias target even without a pointer change (default 5 s). */
  aliasCheckMs?: number;
  /** Documents changed by recent events, remembered for a hand-over to an index that is behind (default 200k ids). */
  handoverMemory?: number;
  /**
   * Where the projection state is saved and found again, so a restart replays only what
   * came after the snapshot instead of the whole log (default: no snapshots).
   */
  snapshots?: StateSnapshotStore;
  /** Save the state when caught up and this many events were applied since the last save (default 50,000)... */
  snapshotEveryEvents?: number;
  /** ... or this long after the last save, if anything was applied (default 5 min). */
  snapshotEveryMs?: number;
  onProgress?: (progress: ProjectorProgress) => void;
  /** Called once, when the projector has first read up to the head of the log (its state is rebuilt). */
  onCaughtUp?: (position: number) => void;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Wait for a running projector to finish instead of failing. */
  wait?: boolean;
  onWait?: (holder: LeaseValue) => void;
  /** Stop once caught up with the head of the log (tests, one-shot catch-up). */
  untilCaughtUp?: boolean;
}

/** The live projector: tails the log into the projections' current indexes. */
export interface Projector {
  run(options?: RunOptions): Promise<ProjectorStats>;
  /** Idempotent: releases the leases. */
  close(): Promise<void>;
}

interface Target {
  index: string;
  /** Committed checkpoint: everything up to it is in the index. */
  seq: number;
  visibleSeq: number;
  /** Events up to this sequence are already in the index (set at start and at a hand-over). */
  skipThrough: number;
  /** Written since the last refresh. */
  unrefreshed: boolean;
  time?: string;
}

interface Batch extends PipelineBatch {
  indexes: Record<string, string>;
  /** Projections this batch wrote documents to. */
  wrote: Set<ProjectionName>;
}

/** Memory of which documents recent events changed, for hand-overs. */
function createChangeMemory(capacity: number) {
  type Entry = { toSeq: number; ids: Record<ProjectionName, Set<string>> };
  const entries: Entry[] = [];
  let size = 0;
  /** Everything after this sequence is remembered. */
  let coveredFrom = 0;
  let current: Entry | undefined;
  return {
    record(seq: number, changes: Changes) {
      current ??= { toSeq: seq, ids: { articles: new Set(), images: new Set(), bylines: new Set() } };
      current.toSeq = seq;
      for (const id of changes.articles) current.ids.articles.add(id);
      for (const id of changes.images) current.ids.images.add(id);
      for (const id of changes.bylines) current.ids.bylines.add(id);
    },
    close() {
      if (!current) return;
      entries.push(current);
      size += current.ids.articles.size + current.ids.images.size + current.ids.bylines.size;
      current = undefined;
      while (size > capacity && entries.length > 1) {
        const dropped = entries.shift()!;
        size -= dropped.ids.articles.size + dropped.ids.images.size + dropped.ids.bylines.size;
        coveredFrom = dropped.toSeq;
      }
    },
    /** Documents of `projection` changed by events after `seq`, or undefined when memory does not reach back that far. */
    since(projection: ProjectionName, seq: number): Set<string> | undefined {
      if (seq < coveredFrom) return undefined;
      const out = new Set<string>();
      for (const entry of entries) if (entry.toSeq > seq) for (const id of entry.ids[projection]) out.add(id);
      return out;
    },
    reset() {
      entries.length = 0;
      size = 0;
      coveredFrom = 0;
      current = undefined;
    },
  };
}

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
 */
export function createProjector(options: ProjectorOptions): Projector {
  const { log, client, checkpoints, names, deadLetters } = options;
  const projections = [...options.projections];
  const logger = options.logger?.child({ component: 'projector', projections: projections.join(',') });
  const batchDocs = options.batchDocs ?? 1000;
  const batchDelayMs = options.batchDelayMs ?? 200;
  const idlePollMs = options.idlePollMs ?? 50;
  const refreshEveryMs = options.refreshEveryMs ?? 1000;
  const aliasCheckMs = options.aliasCheckMs ?? 5000;
  const leases: Lease[] = projections.map((projection) =>
    createLease({
      kv: options.leaseBucket,
      key: projectLeaseKey(projection),
      ttlMs: options.leaseTtlMs,
      purpose: `live projector of ${projection}`,
      logger,
    }),
  );
  let closing: Promise<void> | undefined;
  let lastError: { message: string; at: string } | undefined;

  async function writeHealth(targets: Map<ProjectionName, Target>, state: ProjectorHealth['state']) {
    const kv = await checkpoints.bucket().catch(() => undefined);
    if (!kv) return;
    for (const [projection, target] of targets) {
      const health: ProjectorHealth = {
        projection,
        index: target.index,
        state,
        owner: `${process.pid}`,
        ...(lastError ? { lastError: lastError.message, lastErrorAt: lastError.at } : {}),
        updatedAt: new Date().toISOString(),
      };
      await kv.put(healthKey(projection), JSON.stringify(health)).catch(() => {});
    }
  }

  /** The index behind the alias; creates the first index and the alias when there is none. */
  async function resolve(projection: ProjectionName, signal: AbortSignal): Promise<string> {
    const alias = names.alias(projection);
    const targets = await aliasTargets(client, alias, signal);
    if (targets.length === 1) return targets[0]!;
    if (targets.length > 1) {
      throw new PresslogError(
        `alias ${alias} points at several indexes (${targets.join(', ')}); fix it with \`presslog reindex --rollback\``,
      );
    }
    const index = versionedIndexName(names, projection);
    const definition = PROJECTIONS[projection];
    await createProjectionIndex(client, {
      index,
      definition,
      mode: 'live',
      live: options.live ?? DEFAULT_LIVE_SETTINGS,
      meta: {
        projection,
        fingerprint: definition.fingerprint,
        state: 'ready',
        createdAt: new Date().toISOString(),
      },
      signal,
    });
    // Add only (no removal): if a reindex attached its index at the same moment, ours loses.
    await retryingEs(() => client.indices.updateAliases({ actions: [{ add: { index, alias } }] }), {
      signal,
    });
    const after = await aliasTargets(client, alias, signal);
    if (after.length !== 1) {
      await retryingEs(() => client.indices.updateAliases({ actions: [{ remove: { index, alias } }] }), {
        signal,
      });
      await client.indices.delete({ index }).catch(() => {});
      return resolve(projection, signal);
    }
    await checkpoints.put({ index, projection, seq: 0, visibleSeq: 0, updatedAt: new Date().toISOString() });
    await checkpoints.setPointer({ projection, index, since: new Date().toISOString() });
    logger?.info({ projection, index, alias }, 'created the first index of the projection');
    return index;
  }

  async function loadTarget(index: string): Promise<Target> {
    const checkpoint = await checkpoints.get(index);
    const seq = checkpoint?.seq ?? 0;
    return {
      index,
      seq,
      visibleSeq: checkpoint?.visibleSeq ?? 0,
      skipThrough: seq,
      unrefreshed: false,
      time: checkpoint?.time,
    };
  }

  async function run(runOptions: RunOptions = {}): Promise<ProjectorStats> {
    const outer = runOptions.signal ?? new AbortController().signal;
    for (const lease of leases) {
      await lease.acquire({ wait: runOptions.wait, signal: outer, onWait: runOptions.onWait });
    }
    const signal = AbortSignal.any([outer, ...leases.map((l) => l.lost)]);
    const totals: ProjectorStats = {
      ...emptyBulkStats(),
      events: 0,
      unreadable: 0,
      articlesLoaded: 0,
      handovers: 0,
      position: 0,
      snapshotsSaved: 0,
    };
    const targets = new Map<ProjectionName, Target>();
    for (const projection of projections) {
      const index = await resolve(projection, signal);
      targets.set(projection, await loadTarget(index));
      const pointer = await checkpoints.pointer(projection);
      if (pointer?.index !== index)
        await checkpoints.setPointer({ projection, index, since: new Date().toISOString() });
    }
    const publishDetail = () => {
      const detail = Object.fromEntries([...targets].map(([p, t]) => [p, t.index]));
      for (const lease of leases) lease.setDetail({ indexes: detail });
    };
    publishDetail();
    await writeHealth(targets, 'running');
    logger?.info(
      {
        targets: Object.fromEntries([...targets].map(([p, t]) => [p, { index: t.index, checkpoint: t.seq }])),
      },
      'live projector started',
    );

    // A pointer change (written by reindex/rollback right after the swap) triggers an alias check.
    let aliasMaybeMoved = false;
    const kv = await checkpoints.bucket();
    const watcher = await kv.watch({ key: 'alias.*', include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const _ of watcher) aliasMaybeMoved = true;
    })().catch(() => {});
    let lastAliasCheck = Date.now();

    const writer = createBulkWriter({
      client,
      deadLetters,
      logger,
      onRetry: (notice) => {
        lastError = { message: notice.error, at: new Date().toISOString() };
        void writeHealth(targets, 'retrying');
      },
    });
    const memory = createChangeMemory(options.handoverMemory ?? 200_000);
    const newEngine = () => createProjectionEngine({ projections, loadArticle: createArticleLoader(log) });
    let engine: ProjectionEngine = newEngine();
    let position = 0;
    let positionTime: Date | undefined;
    const snapshots = options.snapshots;
    const stateName = snapshotName(projections);
    let savedAt = { position: 0, ms: Date.now() };
    if (snapshots) {
      try {
        const head = await log.head();
        const maxPosition = Math.min(...[...targets.values()].map((t) => t.seq));
        const loaded = await snapshots.load(stateName, { maxPosition, head });
        if (loaded.state) {
          engine.close();
          engine = createProjectionEngine({
            projections,
            loadArticle: createArticleLoader(log),
            state: loaded.state,
          });
          position = loaded.info.position;
          savedAt = { position, ms: Date.now() };
          totals.restoredFrom = { position, ms: loaded.ms };
          totals.position = position;
          logger?.info(
            { position, records: loaded.info.records, ms: loaded.ms },
            'projection state restored from a snapshot',
          );
        } else {
          logger?.info(
            { reason: loaded.reason },
            'no usable state snapshot; rebuilding the state from the log',
          );
        }
      } catch (err) {
        if (signal.aborted) throw err;
        logger?.warn({ err }, 'cannot read the state snapshot; rebuilding the state from the log');
      }
    }
    /**
     * Save the state when enough happened since the last save (or, with `whenever`, if
     * anything did) and every index has all of it. A snapshot is a cache: failing to save
     * one is logged, never fatal.
     */
    async function maybeSnapshot(whenever = false) {
      if (!snapshots || position <= savedAt.position) return;
      const due =
        whenever ||
        position - savedAt.position >= (options.snapshotEveryEvents ?? 50_000) ||
        Date.now() - savedAt.ms >= (options.snapshotEveryMs ?? 300_000);
      if (!due || [...targets.values()].some((t) => t.seq < position)) return;
      try {
        const head = await log.head();
        await snapshots.save(stateName, engine.state, head);
        totals.snapshotsSaved++;
      } catch (err) {
        logger?.warn({ err }, 'cannot save the state snapshot; will try again later');
      }
      savedAt = { position, ms: Date.now() };
    }
    let pendingDead: DeadLetter[] = [];
    let batchStarted = 0;
    let caughtUp = false;
    let lastRefresh = 0;

    const pipeline = createWritePipeline<Batch>({
      maxInFlight: options.maxInFlight ?? 2,
      commit: async (batch, stats) => {
        addBulkStats(totals, stats);
        const changed: Target[] = [];
        for (const [projection, target] of targets) {
          if (batch.indexes[projection] !== target.index) continue;
          // Written and acknowledged, not yet refreshed: not visible to searches until then.
          if (batch.wrote.has(projection)) target.unrefreshed = true;
          if (batch.toSeq > target.seq) {
            target.seq = batch.toSeq;
            target.time = batch.time?.toISOString();
            changed.push(target);
          }
        }
        const refreshNow = batch.final || Date.now() - lastRefresh >= refreshEveryMs;
        if (refreshNow) {
          const dirty = [...targets.values()].filter((t) => t.unrefreshed || t.visibleSeq < t.seq);
          const toRefresh = dirty.filter((t) => t.unrefreshed).map((t) => t.index);
          // No deadline: Elasticsearch being away for a while is waited out, never skipped.
          if (toRefresh.length > 0) {
            await retryingEs(() => client.indices.refresh({ index: toRefresh.join(',') }), {
              signal,
              maxMs: 10_000,
            });
          }
          lastRefresh = Date.now();
          for (const target of dirty) {
            target.unrefreshed = false;
            if (target.visibleSeq < target.seq) {
              target.visibleSeq = target.seq;
              if (!changed.includes(target)) changed.push(target);
            }
          }
        }
        for (const target of changed) {
          const projection = [...targets].find(([, t]) => t === target)![0];
          await retrying(
            () =>
              checkpoints.put({
                index: target.index,
                projection,
                seq: target.seq,
                visibleSeq: target.visibleSeq,
                time: target.time,
                updatedAt: new Date().toISOString(),
              }),
            { signal, retryable: () => true, maxMs: 5000 },
          );
        }
        options.onProgress?.({
          position,
          targets: Object.fromEntries(
            [...targets].map(([p, t]) => [p, { index: t.index, seq: t.seq, visibleSeq: t.visibleSeq }]),
          ),
          stats: totals,
          caughtUp,
        });
      },
    });

    async function flush(final: boolean) {
      // At the end of a read, also make earlier batches visible that were not refreshed yet
      // (batches still in flight are made visible by their own commit, or by this one).
      const needsCommit = [...targets.values()].some(
        (t) => position > t.seq || t.unrefreshed || t.visibleSeq < t.seq || pipeline.inFlight > 0,
      );
      if (engine.queued === 0 && pendingDead.length === 0 && !(final && needsCommit)) return;
      let rendered: Awaited<ReturnType<ProjectionEngine['render']>>;
      for (let attempt = 0; ; attempt++) {
        try {
          rendered = await engine.render((p) => targets.get(p)!.index, signal);
          break;
        } catch (err) {
          if (!(err instanceof TransientError) || signal.aborted) throw err;
          logger?.warn({ err }, 'reading articles back from the log failed; retrying');
          await sleep(backoffMs(attempt, 200, 10_000), signal);
        }
      }
      totals.articlesLoaded += rendered.loaded;
      const dead = [...pendingDead, ...rendered.failures];
      pendingDead = [];
      const ops: DocOp[] = rendered.ops;
      const batch: Batch = {
        toSeq: position,
        time: positionTime,
        final,
        indexes: Object.fromEntries([...targets].map(([p, t]) => [p, t.index])),
        wrote: new Set(ops.map((op) => op.projection)),
      };
      await pipeline.submit(batch, async () => {
        if (dead.length > 0) {
          logger?.error({ count: dead.length, first: dead[0] }, 'dead-lettering');
          await deadLetters.record(dead, signal);
        }
        const stats = ops.length > 0 ? await writer.write(ops, signal) : emptyBulkStats();
        stats.deadLettered += dead.length;
        return stats;
      });
      memory.close();
      batchStarted = 0;
    }

    /** Follow alias moves; returns true when the state must be rebuilt from the start of the log. */
    async function handover(): Promise<boolean> {
      aliasMaybeMoved = false;
      lastAliasCheck = Date.now();
      let rebuild = false;
      let moved = false;
      for (const projection of projections) {
        const target = targets.get(projection)!;
        let now: string[];
        try {
          now = await aliasTargets(client, names.alias(projection), signal);
        } catch (err) {
          if (signal.aborted) throw err;
          logger?.warn({ err, projection }, 'cannot check the alias now; will look again');
          continue;
        }
        if (now.length !== 1 || now[0] === target.index) {
          if (now.length !== 1)
            logger?.error({ projection, targets: now }, 'alias does not point at exactly one index; staying');
          continue;
        }
        await pipeline.drain();
        const next = await loadTarget(now[0]!);
        logger?.info(
          { projection, from: target.index, to: next.index, checkpoint: next.seq, position },
          'alias moved; handing over to the new index',
        );
        if (next.seq < position) {
          const ids = memory.since(projection, next.seq);
          if (ids) engine.queue(projection, ids);
          else rebuild = true;
        }
        targets.set(projection, next);
        moved = true;
        totals.handovers++;
      }
      if (moved) {
        publishDetail();
        await writeHealth(targets, 'running');
      }
      return rebuild;
    }

    try {
      while (!signal.aborted) {
        try {
          for await (const item of log.replay({ fromSeq: position + 1, signal })) {
            const seq = item.kind === 'event' ? item.stored.seq : item.unreadable.seq;
            if (item.kind === 'event') {
              const changes = engine.apply(seq, item.stored.event, (p) => {
                const target = targets.get(p);
                return target !== undefined && seq > target.skipThrough;
              });
              memory.record(seq, changes);
              positionTime = item.stored.time;
              totals.events++;
            } else {
              totals.unreadable++;
              positionTime = item.unreadable.time;
              for (const [projection, target] of targets) {
                if (seq <= target.skipThrough) continue;
                pendingDead.push({
                  kind: 'unreadable',
                  projection,
                  index: target.index,
                  seq,
                  subject: item.unreadable.subject,
                  reason: item.unreadable.reason,
                  problems: item.unreadable.problems,
                  at: new Date().toISOString(),
                });
              }
            }
            position = seq;
            totals.position = seq;
            if (batchStarted === 0 && (engine.queued > 0 || pendingDead.length > 0))
              batchStarted = Date.now();
            if (
              engine.queued >= batchDocs ||
              (batchStarted > 0 && Date.now() - batchStarted >= batchDelayMs)
            ) {
              await flush(false);
            }
          }
          await flush(true);
          await pipeline.drain();
          if (!caughtUp) {
            caughtUp = true;
            logger?.info({ position, events: totals.events }, 'caught up with the log');
            options.onCaughtUp?.(position);
          }
          if (lastError) {
            lastError = undefined;
            await writeHealth(targets, 'running');
          }
          await maybeSnapshot();
          if (runOptions.untilCaughtUp) break;
          if (aliasMaybeMoved || Date.now() - lastAliasCheck >= aliasCheckMs) {
            if (await handover()) {
              logger?.warn(
                'hand-over reaches further back than remembered; rebuilding the state from the log',
              );
              engine.close();
              engine = newEngine();
              memory.reset();
              position = 0;
              for (const target of targets.values())
                target.skipThrough = Math.max(target.skipThrough, target.seq);
            }
            if (engine.queued > 0) await flush(true);
            continue;
          }
          // Caught up: wait for the next event.
          for (;;) {
            signal.throwIfAborted();
            if (aliasMaybeMoved || Date.now() - lastAliasCheck >= aliasCheckMs) break;
            const head = await log.head();
            if (head.lastSeq > position) break;
            await sleep(idlePollMs, signal);
          }
        } catch (err) {
          if (signal.aborted) break;
          if (!(err instanceof TransientError)) throw err;
          lastError = { message: err.message, at: new Date().toISOString() };
          await writeHealth(targets, 'retrying');
          logger?.warn({ err, position }, 'the log is unavailable; retrying');
          await sleep(backoffMs(3, 200, 5000), signal).catch(() => {});
        }
      }
      // Stopping: finish what is in flight so the checkpoint is as far as it can be.
      if (!signal.aborted || outer.aborted) await pipeline.drain().catch(() => {});
      if (leases.some((l) => l.lost.aborted)) {
        throw new PresslogError(`lost the projector lease: another projector may have taken over`);
      }
      // Shut down on request: leave the state for the next start (still holding the leases).
      if (outer.aborted) await maybeSnapshot(true);
      return totals;
    } catch (err) {
      lastError = { message: (err as Error).message, at: new Date().toISOString() };
      throw err;
    } finally {
      engine.close();
      watcher.stop();
      await writeHealth(targets, 'stopped');
      await Promise.all(leases.map((l) => l.release()));
    }
  }

  return {
    run,
    close() {
      closing ??= Promise.all(leases.map((l) => l.release())).then(() => {});
      return closing;
    },
  };
}
