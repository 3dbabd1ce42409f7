import type { ReplayItem, ReplayOptions } from '../types.ts';
import type { LogContext } from './context.ts';
import { head } from './head.ts';
import { scan } from './readOrdered.ts';

/** The whole log (or a range, or one entity type) in sequence order, up to the head at start. */
export function replay(ctx: LogContext, replayOptions: ReplayOptions = {}): AsyncGenerator<ReplayItem> {
  if (ctx.keys && !ctx.keysPreloaded) return preloadedReplay(ctx, replayOptions);
  return replayScan(ctx, replayOptions);
}

/**
 * The first replay of a sealed log loads every item's keys in one pass over the keys
 * bucket; later replays (a live tail's polls) find them cached, or load the few new ones
 * one by one. The pass runs while the replay's consumer is created and its first batch
 * pulled: the first message waits for it, none is decoded before (a key miss would cost a
 * KV get per item).
 */
function preloadedReplay(ctx: LogContext, replayOptions: ReplayOptions): AsyncGenerator<ReplayItem> {
  ctx.keysPreloaded ??= ctx.keys!.preload().catch((err: unknown) => {
    ctx.keysPreloaded = undefined;
    throw err;
  });
  return replayScan(ctx, replayOptions, ctx.keysPreloaded);
}

function replayScan(
  ctx: LogContext,
  replayOptions: ReplayOptions,
  ready?: Promise<void>,
): AsyncGenerator<ReplayItem> {
  const { names } = ctx;
  const filter = replayOptions.entityType
    ? names.entitySubjects(replayOptions.entityType)
    : names.allSubjects;
  return scan(ctx, {
    filter,
    fromSeq: Math.max(1, replayOptions.fromSeq ?? 1),
    // Bounded by the head at start, so a replay always ends; events appended meanwhile
    // are for the live tail that follows it.
    untilSeq: async () => {
      const { lastSeq } = await head(ctx);
      return Math.min(replayOptions.untilSeq ?? lastSeq, lastSeq);
    },
    untilTime: replayOptions.untilTime,
    batch: ctx.replayBatch,
    rawBodies: replayOptions.rawBodies,
    ...(replayOptions.keepSubject ? { keepSubject: replayOptions.keepSubject } : {}),
    signal: replayOptions.signal,
    ready,
  });
}
