import type { ReplayItem, ReplayOptions } from '../types.ts';
import type { LogContext } from './context.ts';
import { head } from './head.ts';
import { scan } from './readOrdered.ts';

/** The whole log (or a range, or one entity type) in sequence order, up to the head at start. */
export function replay(ctx: LogContext, replayOptions: ReplayOptions = {}): AsyncGenerator<ReplayItem> {
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
    signal: replayOptions.signal,
  });
}
