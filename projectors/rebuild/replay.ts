import { backoffMs, sleep } from '../../log/async.ts';
import { positionOf } from '../../log/codec.ts';
import type { ReplayItem, ReplayOptions } from '../../log/types.ts';
import { TransientError } from '../../schemas/errors.ts';
import { parseSubject } from '../../schemas/names.ts';
import { indexOf, type RebuildContext } from './rebuildContext.ts';

export type UnreadableItem = Extract<ReplayItem, { kind: 'unreadable' }>;

/** Replay with retries: a NATS hiccup resumes after the last sequence handled. */
export async function* replayFrom(
  ctx: RebuildContext,
  fromSeq: number,
  untilSeq: number | undefined,
  extra: Pick<ReplayOptions, 'entityType' | 'untilTime' | 'rawBodies' | 'keepSubject'> = {},
): AsyncGenerator<ReplayItem> {
  const { signal } = ctx;
  let next = fromSeq;
  for (let attempt = 0; ; attempt++) {
    try {
      for await (const item of ctx.options.log.replay({ fromSeq: next, untilSeq, ...extra, signal })) {
        next = positionOf(item).seq + 1;
        yield item;
      }
      return;
    } catch (err) {
      if (!(err instanceof TransientError) || signal.aborted) throw err;
      ctx.logger?.warn({ err, next }, 'replay interrupted; resuming');
      ctx.progress.current.lastError = (err as Error).message;
      await sleep(backoffMs(attempt, 200, 5000), signal);
    }
  }
}

/** Count an unreadable event and dead-letter it for every projection rebuilt. */
export function unreadable(ctx: RebuildContext, item: UnreadableItem): void {
  ctx.unreadable++;
  ctx.batcher.dead(
    ctx.projections.map((projection) => ({
      kind: 'unreadable' as const,
      projection,
      index: indexOf(ctx, projection),
      seq: item.unreadable.seq,
      subject: item.unreadable.subject,
      reason: item.unreadable.reason,
      problems: item.unreadable.problems,
      at: new Date().toISOString(),
    })),
  );
  ctx.progress.current.lastError = `unreadable event at ${item.unreadable.seq}: ${item.unreadable.reason}`;
}

/**
 * Count an item of the scan or write phase (read concurrently, so out of order) and
 * advance the position to it. True when it is an event to apply.
 */
export function take(ctx: RebuildContext, item: ReplayItem): item is Extract<ReplayItem, { kind: 'event' }> {
  const progress = ctx.progress.current;
  progress.events++;
  if (item.kind === 'event') {
    advance(ctx, item.stored.seq, item.stored.time);
    progress.seq = item.stored.seq;
    ctx.progress.report();
    return true;
  }
  if (item.kind === 'unreadable') unreadable(ctx, item);
  const at = positionOf(item);
  advance(ctx, at.seq, at.time);
  return false;
}

function advance(ctx: RebuildContext, seq: number, time: Date): void {
  if (seq > ctx.position) {
    ctx.position = seq;
    ctx.positionTime = time;
  }
}

/**
 * The article id of a write-phase item: its event's entity, or for an unreadable or
 * erased message the id in its subject ('' when the subject names none: such items all
 * fall in one partition).
 */
export function articleIdOf(ctx: RebuildContext, item: ReplayItem): string {
  if (item.kind === 'event') return item.stored.event.entityId;
  const at = item.kind === 'erased' ? item.erased : item.unreadable;
  return parseSubject(ctx.options.names, at.subject)?.id ?? '';
}

/**
 * An item of another partition: it advances the position (as in a single rebuild, which
 * reads every item), nothing else; it is counted by the partition it belongs to.
 */
export function skip(ctx: RebuildContext, item: ReplayItem): void {
  const at = positionOf(item);
  advance(ctx, at.seq, at.time);
}
