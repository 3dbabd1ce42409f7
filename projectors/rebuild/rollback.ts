import type { Logger } from 'pino';
import { PresslogError } from '../../schemas/errors.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import type { ProjectionClients } from '../clients.ts';
import { aliasTargets, listProjectionIndexes } from '../indexes.ts';
import { createLease, reindexLeaseKey } from '../lease.ts';
import { retryingEs } from '../write/esRetry.ts';

/** Result of {@link rollback}. */
export interface RollbackResult {
  projection: ProjectionName;
  alias: string;
  from: string[];
  to: string;
}

/**
 * Point a projection's alias back at an earlier index (the newest one before the current
 * one, or `to`). The live projector follows and catches that index up from its checkpoint.
 */
export async function rollback(
  options: Pick<ProjectionClients, 'client' | 'names' | 'checkpoints' | 'leaseBucket'> & {
    projection: ProjectionName;
    /** The index to roll back to (default: the newest earlier ready index). */
    to?: string;
    signal?: AbortSignal;
    logger?: Logger;
  },
): Promise<RollbackResult> {
  const { client, names, projection } = options;
  const lock = createLease({
    kv: options.leaseBucket,
    key: reindexLeaseKey(projection),
    purpose: `rollback of ${projection}`,
  });
  await lock.acquire({ signal: options.signal });
  try {
    const alias = names.alias(projection);
    const current = await aliasTargets(client, alias, options.signal);
    const all = await listProjectionIndexes(client, names, projection, options.signal);
    const candidates = all
      .filter((info) => !current.includes(info.name) && info.meta?.state === 'ready')
      .sort((a, b) => b.createdMs - a.createdMs);
    const to = options.to ?? candidates[0]?.name;
    if (!to)
      throw new PresslogError(
        `no earlier index of ${projection} to roll back to (kept indexes: none; see --keep)`,
      );
    if (!all.some((info) => info.name === to && info.meta?.state === 'ready')) {
      throw new PresslogError(`${to} is not a complete index of ${projection}`);
    }
    await retryingEs(
      () =>
        client.indices.updateAliases({
          actions: [
            { remove: { index: `${names.indexPrefix(projection)}*`, alias, must_exist: false } },
            { add: { index: to, alias } },
          ],
        }),
      { signal: options.signal, deadlineMs: 60_000 },
    );
    await options.checkpoints.setPointer({ projection, index: to, since: new Date().toISOString() });
    options.logger?.info({ projection, from: current, to }, 'alias rolled back');
    return { projection, alias, from: current, to };
  } finally {
    await lock.release();
  }
}
