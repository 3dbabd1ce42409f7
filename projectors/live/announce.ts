import type { DocOp } from '../write/bulkWriter.ts';
import type { LiveContext } from './context.ts';

/** Articles written by committed batches, not yet refreshed (searchable), per run. */
const written = new WeakMap<LiveContext, Set<string>>();

/** Ids of the articles a batch writes, when someone listens for them (else nothing is kept). */
export function writtenArticles(ctx: LiveContext, ops: readonly DocOp[]): string[] | undefined {
  if (!ctx.options.onArticlesVisible) return undefined;
  return ops.filter((op) => op.projection === 'articles' && op.action === 'index').map((op) => op.id);
}

/**
 * After a batch is committed: remember its articles, and once a refresh has made them
 * searchable hand them all to `onArticlesVisible` (not awaited: a listener never holds up
 * the projection; its failure is only logged).
 */
export function announceArticles(
  ctx: LiveContext,
  ids: readonly string[] | undefined,
  visible: boolean,
): void {
  const listener = ctx.options.onArticlesVisible;
  if (!listener) return;
  let pending = written.get(ctx);
  if (ids && ids.length > 0) {
    pending ??= new Set();
    for (const id of ids) pending.add(id);
    written.set(ctx, pending);
  }
  if (!visible || !pending || pending.size === 0) return;
  written.delete(ctx);
  try {
    Promise.resolve(listener([...pending])).catch((err: unknown) =>
      ctx.logger?.warn({ err }, 'onArticlesVisible failed'),
    );
  } catch (err) {
    ctx.logger?.warn({ err }, 'onArticlesVisible failed');
  }
}
