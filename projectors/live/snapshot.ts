import { snapshotName } from '../state/stateSnapshots.ts';
import { type LiveContext, newEngine } from './context.ts';

/**
 * Restore the projection state from a usable snapshot (see `ProjectorOptions.snapshots`):
 * one no newer than any index's checkpoint, so no event an index lacks is skipped. Without
 * one the state is rebuilt by replaying the log. A snapshot is a cache: a failure to read
 * it is logged, never fatal.
 */
export async function restoreState(ctx: LiveContext): Promise<void> {
  const { snapshots, log } = ctx.options;
  // The clock of `snapshotEveryMs` starts here, not before a wait for the leases.
  ctx.savedAt = { position: ctx.position, ms: Date.now() };
  if (!snapshots) return;
  try {
    const head = await log.head();
    const maxPosition = Math.min(...[...ctx.targets.values()].map((t) => t.seq));
    const loaded = await snapshots.load(snapshotName(ctx.projections), { maxPosition, head });
    if (!loaded.state) {
      ctx.logger?.info(
        { reason: loaded.reason },
        'no usable state snapshot; rebuilding the state from the log',
      );
      return;
    }
    ctx.engine.close();
    ctx.engine = newEngine(ctx, loaded.state);
    const position = loaded.info.position;
    ctx.position = position;
    ctx.savedAt = { position, ms: Date.now() };
    ctx.totals.restoredFrom = { position, ms: loaded.ms };
    ctx.totals.position = position;
    ctx.logger?.info(
      { position, records: loaded.info.records, ms: loaded.ms },
      'projection state restored from a snapshot',
    );
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.logger?.warn({ err }, 'cannot read the state snapshot; rebuilding the state from the log');
  }
}

/**
 * Save the state when enough happened since the last save (or, with `whenever`, if
 * anything did) and every index has all of it. Failing to save is logged, never fatal.
 */
export async function saveStateIfDue(ctx: LiveContext, whenever = false): Promise<void> {
  const { snapshots, log } = ctx.options;
  const { position, savedAt, settings } = ctx;
  if (!snapshots || position <= savedAt.position) return;
  const due =
    whenever ||
    position - savedAt.position >= settings.snapshotEveryEvents ||
    Date.now() - savedAt.ms >= settings.snapshotEveryMs;
  if (!due || [...ctx.targets.values()].some((t) => t.seq < position)) return;
  try {
    const head = await log.head();
    await snapshots.save(snapshotName(ctx.projections), ctx.engine.state, head);
    ctx.totals.snapshotsSaved++;
  } catch (err) {
    ctx.logger?.warn({ err }, 'cannot save the state snapshot; will try again later');
  }
  ctx.savedAt = { position, ms: Date.now() };
}
