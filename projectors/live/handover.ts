import { KvWatchInclude } from '@nats-io/kv';
import { pointerKeyFilter } from '../../log/checkpoints.ts';
import { aliasTargets } from '../indexes.ts';
import { loadTarget } from './bootstrap.ts';
import { type LiveContext, newEngine } from './context.ts';
import { flush } from './flush.ts';
import { publishIndexes, writeHealth } from './health.ts';

/**
 * Watch the projections' pointers: reindex and rollback write one right after moving an
 * alias, and the next pass then looks at the aliases at once instead of at the periodic
 * check. Returns the function that stops watching.
 */
export async function watchPointers(ctx: LiveContext): Promise<() => void> {
  const kv = await ctx.options.checkpoints.bucket();
  const watcher = await kv.watch({ key: pointerKeyFilter(), include: KvWatchInclude.UpdatesOnly });
  void (async () => {
    for await (const _ of watcher) ctx.aliasMaybeMoved = true;
  })().catch(() => {});
  ctx.lastAliasCheck = Date.now();
  return () => watcher.stop();
}

/** Time to look at the aliases: a pointer changed, or the periodic check is due. */
export function aliasCheckDue(ctx: LiveContext): boolean {
  return ctx.aliasMaybeMoved || Date.now() - ctx.lastAliasCheck >= ctx.settings.aliasCheckMs;
}

/**
 * Follow alias moves to their new indexes. A new index behind the projector gets the
 * documents changed since its checkpoint rewritten from the change memory; when memory
 * does not reach back that far, the state is rebuilt from the start of the log (writing
 * only what each index lacks).
 */
export async function followAliases(ctx: LiveContext): Promise<void> {
  if (await handOver(ctx)) {
    ctx.logger?.warn('hand-over reaches further back than remembered; rebuilding the state from the log');
    ctx.engine.close();
    ctx.engine = newEngine(ctx);
    ctx.memory.reset();
    ctx.position = 0;
    for (const target of ctx.targets.values()) target.skipThrough = Math.max(target.skipThrough, target.seq);
  }
  if (ctx.engine.queued > 0) await flush(ctx, true);
}

/** Move every projection whose alias moved to its new index; returns true when the state must be rebuilt. */
async function handOver(ctx: LiveContext): Promise<boolean> {
  const { client, names } = ctx.options;
  ctx.aliasMaybeMoved = false;
  ctx.lastAliasCheck = Date.now();
  let rebuild = false;
  let moved = false;
  for (const projection of ctx.projections) {
    const target = ctx.targets.get(projection)!;
    let now: string[];
    try {
      // Bounded: a hung Elasticsearch must not hold up the events waiting behind this look.
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.settings.aliasCheckTimeoutMs)]);
      now = await aliasTargets(client, names.alias(projection), signal);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      ctx.logger?.warn({ err, projection }, 'cannot check the alias now; will look again');
      continue;
    }
    if (now.length !== 1 || now[0] === target.index) {
      if (now.length !== 1)
        ctx.logger?.error({ projection, targets: now }, 'alias does not point at exactly one index; staying');
      continue;
    }
    await ctx.pipeline.drain();
    const next = await loadTarget(ctx, now[0]!);
    ctx.logger?.info(
      { projection, from: target.index, to: next.index, checkpoint: next.seq, position: ctx.position },
      'alias moved; handing over to the new index',
    );
    if (next.seq < ctx.position) {
      const ids = ctx.memory.since(projection, next.seq);
      if (ids) ctx.engine.queue(projection, ids);
      else rebuild = true;
    }
    ctx.targets.set(projection, next);
    moved = true;
    ctx.totals.handovers++;
  }
  if (moved) {
    publishIndexes(ctx);
    await writeHealth(ctx, 'running');
  }
  return rebuild;
}
