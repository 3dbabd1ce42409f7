import { retrying } from '../../log/async.ts';
import { positionOf } from '../../log/codec.ts';
import { applyLiveSettings, DEFAULT_LIVE_SETTINGS, flush, refresh } from '../indexes.ts';
import { indexOf, type RebuildContext } from './rebuildContext.ts';
import { replayFrom, unreadable } from './replay.ts';

/** Catch-up rounds with bulk settings at most, before the live settings are restored anyway. */
const MAX_BULK_ROUNDS = 20;

/**
 * Catch-up phase: apply the events appended since H1 incrementally (the engine's
 * fan-out, as the live projector does) until the lag is small; restore the live settings
 * and flush (what the bulk load wrote becomes durable); catch up once more to the current
 * head Hf; refresh. An as-of build, fixed in time, only gets its live settings, the flush
 * and the refresh.
 */
export async function catchUp(ctx: RebuildContext): Promise<void> {
  const { log, client } = ctx.options;
  const progress = ctx.progress.current;
  if (!ctx.asOf) {
    for (let round = 0; round < MAX_BULK_ROUNDS; round++) {
      const now = await log.head();
      progress.targetSeq = now.lastSeq;
      if (now.lastSeq - ctx.position <= (ctx.options.catchUpLag ?? 1000)) break;
      await catchUpRound(ctx);
    }
  }
  const allIndexes = [...ctx.created.values()].map((c) => c.index);
  await Promise.all(
    allIndexes.map((index) =>
      applyLiveSettings(client, index, ctx.options.live ?? DEFAULT_LIVE_SETTINGS, ctx.signal),
    ),
  );
  // From here on every write is durable when acknowledged; what the bulk load wrote is
  // made durable now (its translog was synced every 30 s only), before it is verified.
  await flush(client, allIndexes.join(','), ctx.signal);
  if (!ctx.asOf) {
    const now = await log.head();
    progress.targetSeq = now.lastSeq;
    await catchUpRound(ctx);
  }
  await refresh(client, allIndexes.join(','), ctx.signal);
}

/** Apply everything after the position up to the head of now, and write it. */
async function catchUpRound(ctx: RebuildContext): Promise<void> {
  const { engine, batcher } = ctx;
  const progress = ctx.progress.current;
  for await (const item of replayFrom(ctx, ctx.position + 1, undefined)) {
    if (item.kind === 'event') {
      engine.apply(item.stored.seq, item.stored.event);
      ctx.position = item.stored.seq;
      ctx.positionTime = item.stored.time;
    } else {
      if (item.kind === 'unreadable') unreadable(ctx, item);
      const at = positionOf(item);
      ctx.position = at.seq;
      ctx.positionTime = at.time;
    }
    progress.events++;
    progress.seq = ctx.position;
    ctx.progress.report();
    if (engine.queued >= (ctx.options.batchDocs ?? 1000)) await renderAndSubmit(ctx);
  }
  await renderAndSubmit(ctx);
  await batcher.flush(ctx.position);
}

/** Render the queued documents (fan-out: articles may be read back) and submit them. */
async function renderAndSubmit(ctx: RebuildContext): Promise<void> {
  const { engine, batcher, signal } = ctx;
  if (engine.queued === 0 && batcher.deadPending === 0) return;
  const rendered = await retrying(() => engine.render((p) => indexOf(ctx, p), signal), { signal });
  ctx.articlesLoaded += rendered.loaded;
  batcher.dead(rendered.failures);
  for (const op of rendered.ops) if (batcher.add(op)) await batcher.submit(ctx.position);
  await batcher.submit(ctx.position);
}
