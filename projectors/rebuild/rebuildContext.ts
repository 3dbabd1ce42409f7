import type { Logger } from 'pino';
import type { ProjectionName } from '../../schemas/names.ts';
import { createArticleLoader, createProjectionEngine, type ProjectionEngine } from '../engine.ts';
import type { IndexMeta } from '../indexes.ts';
import type { ProjectionState } from '../state/projectionState.ts';
import { addBulkStats, type BulkStats, createBulkWriter, emptyBulkStats } from '../write/bulkWriter.ts';
import { createRebuildBatcher, type RebuildBatcher } from './rebuildBatcher.ts';
import type { RebuildProgress } from './rebuildProgress.ts';
import type { ReindexOptions } from './types.ts';

/** A new index of the rebuild and the metadata it was created with. */
export interface NewIndex {
  index: string;
  meta: IndexMeta;
}

/**
 * What every phase of a rebuild works on: the clients and settings, the signal, the new
 * indexes, the projection state, the write path, and how far the rebuild has read.
 */
export interface RebuildContext {
  readonly options: ReindexOptions;
  readonly projections: readonly ProjectionName[];
  /** Set for an as-of build: no catch-up, no swap. */
  readonly asOf?: Date;
  /** Aborted on shutdown or when a reindex lock is lost. */
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  readonly progress: RebuildProgress;
  readonly engine: ProjectionEngine;
  readonly batcher: RebuildBatcher;
  /** What the writes did so far. */
  readonly totals: BulkStats;
  /** The new indexes (filled by `prepare`). */
  readonly created: Map<ProjectionName, NewIndex>;
  /** Partial indexes of an interrupted run, deleted by `prepare`. */
  readonly deletedStale: Map<ProjectionName, string[]>;
  /** Highest sequence applied to the state, and its stored time. */
  position: number;
  positionTime?: Date;
  unreadable: number;
  /** Articles read back from the log (catch-up fan-out). */
  articlesLoaded: number;
}

export function createRebuildContext(
  options: ReindexOptions,
  parts: { signal: AbortSignal; logger?: Logger; progress: RebuildProgress; state?: ProjectionState },
): RebuildContext {
  const { signal, logger, progress } = parts;
  const current = progress.current;
  const totals = emptyBulkStats();
  const writer = createBulkWriter({
    client: options.client,
    deadLetters: options.deadLetters,
    logger,
    onRetry: (notice) => {
      current.retries++;
      current.lastError = notice.error;
      current.buffered = heldBy(batcher);
      progress.report(true);
    },
  });
  const batcher = createRebuildBatcher({
    writer,
    deadLetters: options.deadLetters,
    batchDocs: options.batchDocs ?? 1000,
    maxInFlight: options.maxInFlight ?? 3,
    signal,
    onCommit: (stats) => {
      addBulkStats(totals, stats);
      current.docs = totals.indexed + totals.deleted + totals.conflicts;
      current.deadLettered = totals.deadLettered;
      if (stats.deadLettered > 0) current.lastError = `${stats.deadLettered} document(s) dead-lettered`;
      current.buffered = heldBy(batcher);
      progress.report();
    },
  });
  const projections = [...options.projections];
  return {
    options,
    projections,
    ...(options.asOf ? { asOf: options.asOf } : {}),
    signal,
    logger,
    progress,
    engine: createProjectionEngine({
      projections,
      loadArticle: createArticleLoader(options.log),
      ...(parts.state ? { state: parts.state } : {}),
    }),
    batcher,
    totals,
    created: new Map(),
    deletedStale: new Map(),
    position: 0,
    unreadable: 0,
    articlesLoaded: 0,
  };
}

const heldBy = (batcher: RebuildBatcher) => {
  const { batches, bytes } = batcher.buffered;
  return { batches, bytes };
};

/** The new index of `projection`. */
export function indexOf(ctx: RebuildContext, projection: ProjectionName): string {
  return ctx.created.get(projection)!.index;
}
