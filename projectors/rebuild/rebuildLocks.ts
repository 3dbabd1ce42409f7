import type { Logger } from 'pino';
import { asOfLeaseKey, createLease, type Lease, reindexLeaseKey } from '../lease.ts';
import type { ReindexOptions } from './types.ts';

/**
 * The locks a rebuild holds, one per projection: a second reindex (or rollback) of a
 * projection is refused, naming the holder. An as-of build has locks of its own: it
 * swaps nothing, so it may run beside a reindex.
 */
export function createRebuildLocks(
  options: Pick<ReindexOptions, 'leaseBucket' | 'projections' | 'asOf' | 'leaseTtlMs'>,
  logger?: Logger,
): Lease[] {
  const { asOf } = options;
  return options.projections.map((projection) =>
    createLease({
      kv: options.leaseBucket,
      key: asOf ? asOfLeaseKey(projection) : reindexLeaseKey(projection),
      ttlMs: options.leaseTtlMs,
      purpose: asOf ? `as-of rebuild of ${projection}` : `reindex of ${projection}`,
      logger,
    }),
  );
}
