import { backoffMs, retrying, sleep } from '../../log/async.ts';
import { TransientError } from '../../schemas/errors.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import type { Rendered } from '../engine.ts';
import { addBulkStats, type BulkStats } from '../write/bulkWriter.ts';
import { retryingEs } from '../write/esRetry.ts';
import { writeBatch } from '../write/pipeline.ts';
import { announceArticles, writtenArticles } from './announce.ts';
import { type Batch, currentIndexes, type LiveContext, type Target } from './context.ts';
import { beginWait, endWait } from './watchdog.ts';

/**
 * Render the queued documents and submit them, with the pending dead letters, as one
 * batch to the write pipeline, which commits it (see {@link commitBatch}) once written.
 * `final`: the end of a read of the log; the batch then also makes earlier batches
 * visible that were not refreshed yet (batches still in flight are made visible by their
 * own commit, or by this one).
 */
export async function flush(ctx: LiveContext, final: boolean): Promise<void> {
  const { engine, pipeline, position } = ctx;
  const needsCommit = [...ctx.targets.values()].some(
    (t) => position > t.seq || t.unrefreshed || t.visibleSeq < t.seq || pipeline.inFlight > 0,
  );
  if (engine.queued === 0 && ctx.pendingDead.length === 0 && !(final && needsCommit)) return;
  const rendered = await render(ctx);
  ctx.totals.articlesLoaded += rendered.loaded;
  const dead = [...ctx.pendingDead, ...rendered.failures];
  ctx.pendingDead = [];
  const ops = rendered.ops;
  const batch: Batch = {
    toSeq: position,
    time: ctx.positionTime,
    final,
    indexes: currentIndexes(ctx),
    wrote: new Set(ops.map((op) => op.projection)),
    articleIds: writtenArticles(ctx, ops),
    // Watched from now until committed, a wait for a full pipeline included.
    wait: beginWait(
      ctx,
      `the write of ${ops.length} documents and ${dead.length} dead letters (events up to ${position})`,
    ),
  };
  const submitted = pipeline.submit(batch, async () => {
    try {
      // The same write step as the rebuild's: dead letters first, then the bulk request.
      const target = { writer: ctx.writer, deadLetters: ctx.options.deadLetters, logger: ctx.logger };
      return await writeBatch(target, { ops, dead }, ctx.signal);
    } catch (err) {
      endWait(ctx, batch.wait);
      throw err;
    }
  });
  // Refused before it was written (an earlier batch failed): the run ends on that failure.
  await submitted.catch((err: unknown) => {
    endWait(ctx, batch.wait);
    throw err;
  });
  ctx.memory.close();
  ctx.batchStarted = 0;
}

/** Render the queued documents, retrying while the log cannot be read (fan-out reads articles back). */
async function render(ctx: LiveContext): Promise<Rendered> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.engine.render((p) => ctx.targets.get(p)!.index, ctx.signal);
    } catch (err) {
      if (!(err instanceof TransientError) || ctx.signal.aborted) throw err;
      ctx.logger?.warn({ err }, 'reading articles back from the log failed; retrying');
      await sleep(backoffMs(attempt, 200, 10_000), ctx.signal);
    }
  }
}

/**
 * Commit a written batch (the pipeline calls this in submission order): advance the
 * checkpoints of the indexes it was written to, refresh when due, and report progress.
 */
export async function commitBatch(ctx: LiveContext, batch: Batch, stats: BulkStats): Promise<void> {
  try {
    await commit(ctx, batch, stats);
  } finally {
    endWait(ctx, batch.wait);
  }
}

async function commit(ctx: LiveContext, batch: Batch, stats: BulkStats): Promise<void> {
  addBulkStats(ctx.totals, stats);
  const changed = new Map<ProjectionName, Target>();
  for (const [projection, target] of ctx.targets) {
    if (batch.indexes[projection] !== target.index) continue;
    // Written and acknowledged, not yet refreshed: not visible to searches until then.
    if (batch.wrote.has(projection)) target.unrefreshed = true;
    if (batch.toSeq > target.seq) {
      target.seq = batch.toSeq;
      target.time = batch.time?.toISOString();
      changed.set(projection, target);
    }
  }
  const refreshing = batch.final || Date.now() - ctx.lastRefresh >= ctx.settings.refreshEveryMs;
  if (refreshing) {
    for (const [projection, target] of await refresh(ctx)) changed.set(projection, target);
  }
  announceArticles(ctx, batch.articleIds, refreshing);
  for (const [projection, target] of changed) {
    await retrying(
      () =>
        ctx.options.checkpoints.put({
          index: target.index,
          projection,
          seq: target.seq,
          visibleSeq: target.visibleSeq,
          time: target.time,
          updatedAt: new Date().toISOString(),
        }),
      { signal: ctx.signal, retryable: () => true, maxMs: 5000 },
    );
  }
  reportProgress(ctx);
}

/** Tell the caller (`onProgress`) where the projector is. */
export function reportProgress(ctx: LiveContext): void {
  ctx.options.onProgress?.({
    position: ctx.position,
    targets: Object.fromEntries(
      [...ctx.targets].map(([p, t]) => [p, { index: t.index, seq: t.seq, visibleSeq: t.visibleSeq }]),
    ),
    stats: ctx.totals,
    caughtUp: ctx.caughtUp,
  });
}

/** Make what was written searchable; returns the targets whose visible checkpoint moved. */
async function refresh(ctx: LiveContext): Promise<[ProjectionName, Target][]> {
  const dirty = [...ctx.targets].filter(([, t]) => t.unrefreshed || t.visibleSeq < t.seq);
  const toRefresh = dirty.filter(([, t]) => t.unrefreshed).map(([, t]) => t.index);
  // No deadline: Elasticsearch being away for a while is waited out (the stall watchdog
  // gives the leases up past their TTL), never skipped.
  if (toRefresh.length > 0) {
    await retryingEs(
      () =>
        ctx.options.client.indices.refresh(
          { index: toRefresh.join(',') },
          { signal: ctx.signal, requestTimeout: ctx.settings.writeTimeoutMs },
        ),
      { signal: ctx.signal, maxMs: 10_000 },
    );
  }
  ctx.lastRefresh = Date.now();
  const moved: [ProjectionName, Target][] = [];
  for (const [projection, target] of dirty) {
    target.unrefreshed = false;
    if (target.visibleSeq < target.seq) {
      target.visibleSeq = target.seq;
      moved.push([projection, target]);
    }
  }
  return moved;
}
