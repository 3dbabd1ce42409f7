import { healthKey } from '../../log/checkpoints.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import { currentIndexes, type LiveContext } from './context.ts';

/** Health of a live projection, kept in the checkpoint bucket under `health.<projection>` for `status`. */
export interface ProjectorHealth {
  projection: ProjectionName;
  index: string;
  /** `retrying`: a write failed, or Elasticsearch has not answered for a while (see watchdog.ts). */
  state: 'running' | 'retrying' | 'stopped';
  owner: string;
  lastError?: string;
  lastErrorAt?: string;
  updatedAt: string;
}

/** Remember an error for the next health entry. */
export function noteError(ctx: LiveContext, message: string): void {
  ctx.lastError = { message, at: new Date().toISOString() };
}

/** Write every projection's health entry. Best effort: a report must never stop the projector. */
export async function writeHealth(ctx: LiveContext, state: ProjectorHealth['state']): Promise<void> {
  const kv = await ctx.options.checkpoints.bucket().catch(() => undefined);
  if (!kv) return;
  const { lastError } = ctx;
  for (const [projection, target] of ctx.targets) {
    const health: ProjectorHealth = {
      projection,
      index: target.index,
      state,
      owner: `${process.pid}`,
      ...(lastError ? { lastError: lastError.message, lastErrorAt: lastError.at } : {}),
      updatedAt: new Date().toISOString(),
    };
    await kv.put(healthKey(projection), JSON.stringify(health)).catch(() => {});
  }
}

/**
 * Publish the indexes written with the leases (read by `status`, and by reindex, which
 * waits before deleting an index the projector still writes; see `indexBeingWritten`).
 */
export function publishIndexes(ctx: LiveContext): void {
  const indexes = currentIndexes(ctx);
  for (const lease of ctx.leases) lease.setDetail({ indexes });
}
