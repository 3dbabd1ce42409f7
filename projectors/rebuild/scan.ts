import { retrying } from '../../log/async.ts';
import type { LogHead } from '../../log/types.ts';
import type { RebuildContext } from './rebuildContext.ts';
import { replayFrom, take } from './replay.ts';
import { createSequenceSet, type SequenceSet } from './sequenceSet.ts';

/** What the scan found: the head H1 the build runs to, and where each article's history ends. */
export interface ScanResult {
  head: LogHead;
  /**
   * The articles' last sequences up to H1, so each article is written once, at its last
   * event. Not for as-of (that needs the last event before the time, not the last one),
   * nor for a log that cannot tell. The write phase drops it when done with it.
   */
  lastSeqs?: SequenceSet;
}

/**
 * Scan phase: replay the byline and image subjects (a small share of the log) up to the
 * head H1 into the state, so their states are final before any article is rendered.
 */
export async function scan(ctx: RebuildContext): Promise<ScanResult> {
  const { log } = ctx.options;
  const { engine } = ctx;
  const head = await log.head();
  ctx.progress.current.targetSeq = head.lastSeq;
  const until = ctx.asOf ? { untilTime: ctx.asOf } : {};
  // A partitioned rebuild's workers read them, each for its own write.
  const readLastSeqs =
    !ctx.asOf &&
    ctx.created.has('articles') &&
    ctx.options.partitions === undefined &&
    log.lastSequences !== undefined;
  let lastSeqs: SequenceSet | undefined;
  // All at once: each is a server-side scan of the whole stream for its subjects, and
  // bylines, images and the articles' last sequences do not depend on each other.
  await Promise.all([
    ...(['byline', 'image'] as const).map(async (entityType) => {
      for await (const item of replayFrom(ctx, 1, head.lastSeq, { entityType, ...until })) {
        if (take(ctx, item)) engine.apply(item.stored.seq, item.stored.event, () => false);
      }
    }),
    readLastSeqs &&
      readLastSequences(ctx, head).then((seqs) => {
        lastSeqs = seqs;
      }),
  ]);
  return { head, ...(lastSeqs ? { lastSeqs } : {}) };
}

/** The articles' last sequences up to `head` (see {@link ScanResult.lastSeqs}). */
export function readLastSequences(ctx: RebuildContext, head: LogHead): Promise<SequenceSet> {
  const { log } = ctx.options;
  const { signal } = ctx;
  // An interrupted read is started over (see ContentLog.lastSequences).
  return retrying(
    async () => {
      // Only this rebuild's range: a last event appended since is the catch-up's.
      const seqs = createSequenceSet(head.firstSeq, head.lastSeq);
      for await (const { seq } of log.lastSequences!('article', { signal })) seqs.add(seq);
      return seqs;
    },
    { signal, initialMs: 200, maxMs: 5000 },
  );
}
