import { PresslogError } from '../../schemas/errors.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import { aliasTargets, setIndexMeta } from '../indexes.ts';
import { retryingEs } from '../write/esRetry.ts';
import { prune } from './prune.ts';
import type { RebuildContext } from './rebuildContext.ts';
import type { ReindexedIndex } from './types.ts';
import type { Verification } from './verify.ts';

/**
 * Swap phase: write each new index's checkpoint (Hf), then move all aliases in ONE
 * `_aliases` call and record the pointers; the live projector notices and continues on
 * the new indexes from Hf. Old indexes beyond `keep` are deleted. An as-of build's
 * indexes are only marked finished: they get no alias.
 */
export async function swap(ctx: RebuildContext, verifications: Verification[]): Promise<ReindexedIndex[]> {
  const verificationOf = (index: string) => verifications.find((v) => v.index === index)!;
  if (ctx.asOf) return markAsOf(ctx, verificationOf);
  const { client, checkpoints, names } = ctx.options;
  const { signal } = ctx;
  const seq = ctx.position;
  const time = ctx.positionTime?.toISOString();
  await Promise.all(
    [...ctx.created.values()].map(({ index, meta }) =>
      setIndexMeta(client, index, { ...meta, state: 'ready', builtToSeq: seq }, signal),
    ),
  );
  const previous = new Map<ProjectionName, string[]>();
  for (const [projection, { index }] of ctx.created) {
    await checkpoints.put({
      index,
      projection,
      seq,
      visibleSeq: seq,
      time,
      updatedAt: new Date().toISOString(),
    });
    previous.set(projection, await aliasTargets(client, names.alias(projection), signal));
  }
  await moveAliases(ctx);
  ctx.logger?.info({ seq, indexes: [...ctx.created.values()].map((c) => c.index) }, 'aliases swapped');
  const results: ReindexedIndex[] = [];
  for (const [projection, { index }] of ctx.created) {
    const deleted = await prune({
      client,
      names,
      checkpoints,
      leaseBucket: ctx.options.leaseBucket,
      projection,
      current: index,
      keep: Math.max(0, ctx.options.keep ?? 1),
      handoverWaitMs: ctx.options.handoverWaitMs,
      // The aliases have moved: only a shutdown stops the clean-up, not a lost lock.
      signal: ctx.options.signal,
      logger: ctx.options.logger,
    });
    results.push({
      projection,
      index,
      alias: names.alias(projection),
      previous: previous.get(projection) ?? [],
      deleted: [...(ctx.deletedStale.get(projection) ?? []), ...deleted],
      verification: verificationOf(index),
    });
  }
  return results;
}

/** All aliases in one call: searches see the old set of indexes or the new one, never a mix. */
async function moveAliases(ctx: RebuildContext): Promise<void> {
  const { client, checkpoints, names } = ctx.options;
  const { signal } = ctx;
  const actions = [...ctx.created].flatMap(([projection, { index }]) => [
    {
      remove: {
        index: `${names.indexPrefix(projection)}*`,
        alias: names.alias(projection),
        must_exist: false,
      },
    },
    { add: { index, alias: names.alias(projection) } },
  ]);
  await retryingEs(() => client.indices.updateAliases({ actions }), { signal, deadlineMs: 60_000 });
  for (const [projection, { index }] of ctx.created) {
    const now = await aliasTargets(client, names.alias(projection), signal);
    if (now.length !== 1 || now[0] !== index) {
      throw new PresslogError(
        `alias ${names.alias(projection)} points at ${now.join(', ') || 'nothing'} after the swap to ${index}`,
      );
    }
    await checkpoints.setPointer({ projection, index, since: new Date().toISOString() });
  }
}

async function markAsOf(
  ctx: RebuildContext,
  verificationOf: (index: string) => Verification,
): Promise<ReindexedIndex[]> {
  const results: ReindexedIndex[] = [];
  for (const [projection, { index, meta }] of ctx.created) {
    await setIndexMeta(
      ctx.options.client,
      index,
      { ...meta, state: 'asof', builtToSeq: ctx.position },
      ctx.signal,
    );
    results.push({
      projection,
      index,
      previous: [],
      deleted: ctx.deletedStale.get(projection) ?? [],
      verification: verificationOf(index),
    });
  }
  return results;
}
