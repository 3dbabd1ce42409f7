import {
  asOfIndexName,
  createProjectionIndex,
  deleteIndexes,
  type IndexMeta,
  listProjectionIndexes,
  versionedIndexName,
} from '../indexes.ts';
import { PROJECTIONS } from '../projections.ts';
import type { RebuildContext } from './rebuildContext.ts';

/**
 * Prepare phase: delete the partial indexes an interrupted run left behind, name the new
 * indexes (`ctx.created`) and start creating them with bulk settings. Returns the
 * creation (wrapped, so that it is not awaited here), to await before the first write:
 * each index takes a cluster-state update, which runs while the log is scanned.
 */
export async function prepare(ctx: RebuildContext): Promise<{ creating: Promise<void> }> {
  const { client, names, checkpoints } = ctx.options;
  const { asOf, signal, logger } = ctx;
  for (const projection of ctx.projections) {
    // Unaliased and never finished.
    const stale = (await listProjectionIndexes(client, names, projection, signal)).filter(
      (info) => info.meta?.state === 'building' && info.aliases.length === 0,
    );
    if (stale.length > 0) {
      logger?.warn(
        { projection, indexes: stale.map((s) => s.name) },
        'deleting partial indexes of an interrupted reindex',
      );
      await deleteIndexes(
        client,
        stale.map((s) => s.name),
        signal,
      );
      for (const info of stale) await checkpoints.delete(info.name).catch(() => {});
    }
    ctx.deletedStale.set(
      projection,
      stale.map((s) => s.name),
    );
  }

  const now = new Date();
  for (const projection of ctx.projections) {
    const index = asOf ? asOfIndexName(names, projection, asOf) : versionedIndexName(names, projection, now);
    const meta: IndexMeta = {
      projection,
      fingerprint: PROJECTIONS[projection].fingerprint,
      state: 'building',
      createdAt: now.toISOString(),
      ...(asOf ? { asOf: asOf.toISOString() } : {}),
    };
    ctx.created.set(projection, { index, meta });
  }
  const creating = Promise.all(
    [...ctx.created].map(async ([projection, { index, meta }]) => {
      if (asOf) await deleteIndexes(client, [index], signal);
      await createProjectionIndex(client, {
        index,
        definition: PROJECTIONS[projection],
        mode: 'bulk',
        live: ctx.options.live,
        meta,
        signal,
      });
    }),
  ).then(() => {});
  creating.catch(() => {});
  return { creating };
}
