import { type SnapshotInfo, snapshotName } from '../state/stateSnapshots.ts';
import type { RebuildContext } from './rebuildContext.ts';

/**
 * Snapshot phase: save the rebuilt state for the live projector's next start, unless a
 * snapshot as recent of the same stream is there already. A cache: failing to save it
 * fails nothing.
 */
export async function saveSnapshot(ctx: RebuildContext): Promise<SnapshotInfo | undefined> {
  const { snapshots, log } = ctx.options;
  if (!snapshots) return undefined;
  const { state } = ctx.engine;
  try {
    const name = snapshotName(ctx.projections);
    const [existing, head] = await Promise.all([snapshots.info(name), log.head()]);
    const newer =
      existing !== undefined &&
      existing.streamCreated === head.created?.toISOString() &&
      existing.position >= state.position;
    if (!newer) return await snapshots.save(name, state, head);
  } catch (err) {
    ctx.logger?.warn({ err }, 'cannot save the state snapshot');
  }
  return undefined;
}
