import type { CheckpointStore } from '../../log/checkpoints.ts';
import type { ContentLog } from '../../log/types.ts';
import { storedTimeAfter } from '../../projectors/status.ts';
import type { ProjectionName } from '../../schemas/names.ts';

/** How far one projection's current index is behind the log. */
export interface ProjectionLag {
  projection: ProjectionName;
  /** Committed checkpoint of the index behind the alias (0: none yet). */
  seq: number;
  /** The log's head when it was read. */
  headSeq: number;
  lagEvents: number;
  /** How long since the log stored the oldest event the index lacks; 0 when caught up. */
  lagSeconds: number;
}

export interface ProjectionLagOptions {
  log: Pick<ContentLog, 'head' | 'replay'>;
  checkpoints: Pick<CheckpointStore, 'current'>;
  projections: readonly ProjectionName[];
}

/**
 * Read each projection's checkpoint and the log head (in that order, so a checkpoint is
 * never ahead of the head read with it), and the age of the oldest missing event.
 */
export async function readProjectionLag(options: ProjectionLagOptions): Promise<ProjectionLag[]> {
  const seqs = await Promise.all(options.projections.map((p) => options.checkpoints.current(p)));
  const head = await options.log.head();
  return Promise.all(
    options.projections.map(async (projection, i) => {
      const seq = seqs[i]?.seq ?? 0;
      const lagEvents = Math.max(0, head.lastSeq - seq);
      let lagSeconds = 0;
      if (lagEvents > 0) {
        const since = await storedTimeAfter(options.log, seq);
        lagSeconds = since ? Math.max(0, (Date.now() - since.getTime()) / 1000) : 0;
      }
      return { projection, seq, headSeq: head.lastSeq, lagEvents, lagSeconds };
    }),
  );
}
