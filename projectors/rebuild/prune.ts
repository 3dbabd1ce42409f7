import type { Client } from '@elastic/elasticsearch';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { sleep } from '../../log/async.ts';
import type { CheckpointStore } from '../../log/checkpoints.ts';
import type { Names, ProjectionName } from '../../schemas/names.ts';
import { deleteIndexes, listProjectionIndexes } from '../indexes.ts';
import { indexBeingWritten, projectLeaseKey, readLease } from '../lease.ts';

export interface PruneOptions {
  client: Client;
  names: Names;
  checkpoints: CheckpointStore;
  leaseBucket: KV;
  projection: ProjectionName;
  /** The index the alias points at now: never deleted. */
  current: string;
  /** Previous ready indexes to keep, newest first. */
  keep: number;
  /** With `keep` 0, how long to wait for the live projector to leave an old index (default 30 s). */
  handoverWaitMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Delete the old ready indexes of a projection beyond the newest `keep`, and their
 * checkpoints; returns their names. An index the live projector is still writing its
 * last batch to is waited for (up to `handoverWaitMs`).
 */
export async function prune(options: PruneOptions): Promise<string[]> {
  const { client, names, projection } = options;
  const all = await listProjectionIndexes(client, names, projection, options.signal);
  const old = all
    .filter(
      (info) => info.name !== options.current && info.aliases.length === 0 && info.meta?.state === 'ready',
    )
    .sort((a, b) => b.createdMs - a.createdMs);
  const doomed = old.slice(options.keep).map((info) => info.name);
  if (doomed.length === 0) return [];
  const deadline = Date.now() + (options.handoverWaitMs ?? 30_000);
  for (;;) {
    const writing = await liveProjectorIndex(options.leaseBucket, projection);
    if (!writing || !doomed.includes(writing) || Date.now() > deadline) break;
    await sleep(200, options.signal);
  }
  await deleteIndexes(client, doomed, options.signal);
  for (const index of doomed) await options.checkpoints.delete(index).catch(() => {});
  options.logger?.info({ projection, deleted: doomed }, 'deleted old indexes');
  return doomed;
}

/** The index a live projector holding its lease says it writes to, if any. */
async function liveProjectorIndex(leaseBucket: KV, projection: ProjectionName): Promise<string | undefined> {
  return indexBeingWritten(await readLease(leaseBucket, projectLeaseKey(projection)), projection);
}
