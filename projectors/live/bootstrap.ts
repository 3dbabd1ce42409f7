import { PresslogError } from '../../schemas/errors.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import {
  aliasTargets,
  createProjectionIndex,
  DEFAULT_LIVE_SETTINGS,
  versionedIndexName,
} from '../indexes.ts';
import { PROJECTIONS } from '../projections.ts';
import { retryingEs } from '../write/esRetry.ts';
import type { LiveContext, Target } from './context.ts';

/**
 * Resolve every projection's alias to its index (creating the first index when there is
 * none), load that index's checkpoint, and point the projection's pointer at it.
 */
export async function openTargets(ctx: LiveContext): Promise<void> {
  const { checkpoints } = ctx.options;
  for (const projection of ctx.projections) {
    const index = await resolveIndex(ctx, projection);
    ctx.targets.set(projection, await loadTarget(ctx, index));
    const pointer = await checkpoints.pointer(projection);
    if (pointer?.index !== index)
      await checkpoints.setPointer({ projection, index, since: new Date().toISOString() });
  }
}

/** An index as a target: from its checkpoint, skipping what the index already has. */
export async function loadTarget(ctx: LiveContext, index: string): Promise<Target> {
  const checkpoint = await ctx.options.checkpoints.get(index);
  const seq = checkpoint?.seq ?? 0;
  return {
    index,
    seq,
    visibleSeq: checkpoint?.visibleSeq ?? 0,
    skipThrough: seq,
    unrefreshed: false,
    time: checkpoint?.time,
  };
}

/** The index behind the alias; creates the first index and the alias when there is none. */
async function resolveIndex(ctx: LiveContext, projection: ProjectionName): Promise<string> {
  const { client, names } = ctx.options;
  const alias = names.alias(projection);
  const targets = await aliasTargets(client, alias, ctx.signal);
  if (targets.length === 1) return targets[0]!;
  if (targets.length > 1) {
    throw new PresslogError(
      `alias ${alias} points at several indexes (${targets.join(', ')}); fix it with \`presslog reindex --rollback\``,
    );
  }
  const index = await createFirstIndex(ctx, projection);
  return index ?? resolveIndex(ctx, projection);
}

/** Create the projection's first index and alias it; undefined when a reindex aliased one meanwhile. */
async function createFirstIndex(ctx: LiveContext, projection: ProjectionName): Promise<string | undefined> {
  const { client, names, checkpoints } = ctx.options;
  const { signal } = ctx;
  const alias = names.alias(projection);
  const index = versionedIndexName(names, projection);
  const definition = PROJECTIONS[projection];
  await createProjectionIndex(client, {
    index,
    definition,
    mode: 'live',
    live: ctx.options.live ?? DEFAULT_LIVE_SETTINGS,
    meta: {
      projection,
      fingerprint: definition.fingerprint,
      state: 'ready',
      createdAt: new Date().toISOString(),
    },
    signal,
  });
  // Add only (no removal): if a reindex attached its index at the same moment, ours loses.
  await retryingEs(() => client.indices.updateAliases({ actions: [{ add: { index, alias } }] }, { signal }), {
    signal,
  });
  const after = await aliasTargets(client, alias, signal);
  if (after.length !== 1) {
    await retryingEs(
      () => client.indices.updateAliases({ actions: [{ remove: { index, alias } }] }, { signal }),
      { signal },
    );
    await client.indices.delete({ index }, { signal }).catch(() => {});
    return undefined;
  }
  await checkpoints.put({ index, projection, seq: 0, visibleSeq: 0, updatedAt: new Date().toISOString() });
  await checkpoints.setPointer({ projection, index, since: new Date().toISOString() });
  ctx.logger?.info({ projection, index, alias }, 'created the first index of the projection');
  return index;
}
