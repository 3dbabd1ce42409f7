import { retrying } from '../../log/async.ts';
import { parseSubject } from '../../schemas/names.ts';
import { docJson, docJsonHead } from '../write/docJson.ts';
import { indexOf, type RebuildContext } from './rebuildContext.ts';
import { articleIdOf, replayFrom, skip, take } from './replay.ts';
import type { ScanResult } from './scan.ts';

/**
 * Write phase: stream the articles up to H1, rendered with the final bylines and images,
 * then the bylines and images from the state; returns once everything is written.
 *
 * With the articles' last sequences (the usual case) an article is written once, at its
 * last event: its final document, with its final version. An article whose last event
 * came after H1 is written by the catch-up, which applies that event.
 *
 * Without them (as-of), each article is written at each of its events, so its last
 * write is its final document; only revisions cost an extra write. Those intermediate
 * renders mix the article's past with its references' future, so their versions are
 * not monotonic (a revision that drops a byline renamed later gets a lower version
 * than the render before it): they are written without a version check, last write
 * wins, with the writes of one document kept in order (see rebuildBatcher.ts). Every later
 * write (catch-up, live) carries a version above H1 and the usual external check.
 *
 * Either way fan-out never happens during a rebuild and no article is read back.
 */
export async function write(
  ctx: RebuildContext,
  scanned: ScanResult,
  creating: Promise<void>,
): Promise<void> {
  await creating;
  ctx.logger?.info({ indexes: [...ctx.created.values()].map((c) => c.index) }, 'created new indexes');
  if (ctx.created.has('articles')) {
    const unreadableLast = await writeArticles(ctx, scanned);
    // Released before the rest: one bit per sequence of the log.
    scanned.lastSeqs = undefined;
    await writeUnreadableLast(ctx, unreadableLast);
  } else {
    await applyArticles(ctx, scanned);
  }
  const builtTo = ctx.position;
  ctx.logger?.info(
    { seq: builtTo, events: ctx.progress.current.events, state: ctx.engine.state.stats() },
    'articles written',
  );
  ctx.progress.current.targetSeq = builtTo;
  await writeReferences(ctx, builtTo);
  await ctx.batcher.flush(builtTo);
}

/** The article events into the state only (no article index rebuilt). */
async function applyArticles(ctx: RebuildContext, { head }: ScanResult): Promise<void> {
  const until = ctx.asOf ? { untilTime: ctx.asOf } : {};
  for await (const item of replayFrom(ctx, 1, head.lastSeq, { entityType: 'article', ...until })) {
    if (take(ctx, item)) ctx.engine.apply(item.stored.seq, item.stored.event, () => false);
  }
}

/**
 * The hot loop of a rebuild: no await per document but when a batch is full. Returns the
 * articles whose last message is unreadable.
 */
export async function writeArticles(
  ctx: RebuildContext,
  { head, lastSeqs }: ScanResult,
  /**
   * A partition of a partitioned rebuild: only the articles it holds (see partitions.ts),
   * told by their subjects before the log decodes them where it can, and by their ids.
   */
  partition?: { id: (articleId: string) => boolean; subject: (subject: string) => boolean },
): Promise<Set<string>> {
  const { engine, batcher } = ctx;
  const { state } = engine;
  const { names } = ctx.options;
  const articleIndex = indexOf(ctx, 'articles');
  const until = ctx.asOf ? { untilTime: ctx.asOf } : {};
  const unreadableLast = new Set<string>();
  for await (const item of replayFrom(ctx, 1, head.lastSeq, {
    entityType: 'article',
    ...until,
    rawBodies: true,
    ...(partition ? { keepSubject: partition.subject } : {}),
  })) {
    if (partition && !partition.id(articleIdOf(ctx, item))) {
      skip(ctx, item);
      continue;
    }
    if (!take(ctx, item)) {
      if (lastSeqs) {
        const at = item.kind === 'erased' ? item.erased : item.unreadable;
        const parsed = parseSubject(names, at.subject);
        if (parsed && lastSeqs.has(at.seq)) unreadableLast.add(parsed.id);
      }
      continue;
    }
    const { seq, event } = item.stored;
    const changes = engine.apply(seq, event, () => false);
    if (changes.article && (!lastSeqs || lastSeqs.has(seq))) {
      const doc = state.renderArticle(changes.article)!;
      const { rawBody } = item.stored;
      const full = batcher.add(
        {
          projection: 'articles',
          index: articleIndex,
          id: doc.id,
          action: 'index',
          version: doc.lineage.asOfSeq,
          // Without the last sequences, every render is written, last write wins (see above).
          ...(lastSeqs ? {} : { versionType: 'internal' as const }),
        },
        // The body as stored, its bytes copied, when the read left it undecoded.
        rawBody ? [docJsonHead(doc), rawBody, '}'] : [docJson(doc)],
      );
      if (full) await batcher.submit(seq);
    } else if (!lastSeqs) {
      const record = state.article(event.entityId)!;
      // Undo what an earlier event of this article wrote.
      if (record.retracted && record.revisions > 0) {
        const full = batcher.add({
          projection: 'articles',
          index: articleIndex,
          id: record.id,
          action: 'delete',
          version: record.lastSeq,
          versionType: 'internal',
        });
        if (full) await batcher.submit(seq);
      }
    }
  }
  return unreadableLast;
}

/** Articles whose last message is unreadable, rendered from their last readable event (rare). */
export async function writeUnreadableLast(ctx: RebuildContext, ids: Set<string>): Promise<void> {
  if (ids.size === 0) return;
  const { engine, batcher, signal } = ctx;
  engine.queue('articles', ids);
  const rendered = await retrying(() => engine.render((p) => indexOf(ctx, p), signal), { signal });
  batcher.dead(rendered.failures);
  for (const op of rendered.ops) if (batcher.add(op)) await batcher.submit(ctx.position);
}

/** Bylines and images, from their final states. */
export async function writeReferences(ctx: RebuildContext, builtTo: number): Promise<void> {
  const { state } = ctx.engine;
  for (const projection of ['bylines', 'images'] as const) {
    if (!ctx.created.has(projection)) continue;
    const index = indexOf(ctx, projection);
    for (const [id] of state.expectedDocs(projection)) {
      const doc = projection === 'bylines' ? state.renderByline(id) : state.renderImage(id);
      if (!doc) continue;
      const full = ctx.batcher.add({
        projection,
        index,
        id,
        action: 'index',
        version: doc.lineage.asOfSeq,
        source: JSON.stringify(doc),
      });
      if (full) await ctx.batcher.submit(builtTo);
    }
  }
}
