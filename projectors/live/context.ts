import type { Logger } from 'pino';
import type { ProjectionName } from '../../schemas/names.ts';
import { createArticleLoader, createProjectionEngine, type ProjectionEngine } from '../engine.ts';
import { DEFAULT_LEASE_TTL_MS, type Lease } from '../lease.ts';
import type { ProjectionState } from '../state/projectionState.ts';
import type { BulkWriter } from '../write/bulkWriter.ts';
import type { DeadLetter } from '../write/deadLetters.ts';
import type { PipelineBatch, WritePipeline } from '../write/pipeline.ts';
import type { ChangeMemory } from './changeMemory.ts';
import type { ProjectorOptions, ProjectorStats } from './types.ts';
import type { Wait } from './watchdog.ts';

/** The index one projection is written to, and how far it is. */
export interface Target {
  index: string;
  /** Committed checkpoint: everything up to it is in the index. */
  seq: number;
  visibleSeq: number;
  /** Events up to this sequence are already in the index (set at start and at a hand-over). */
  skipThrough: number;
  /** Written since the last refresh. */
  unrefreshed: boolean;
  time?: string;
}

/** A batch in the write pipeline. */
export interface Batch extends PipelineBatch {
  /** The index each projection was written to when the batch was made. */
  indexes: Record<string, string>;
  /** Projections this batch wrote documents to. */
  wrote: Set<ProjectionName>;
  /** The batch as a wait of the stall watchdog, ended when it is committed. */
  wait?: Wait;
  /** Articles it writes, kept only when `onArticlesVisible` listens (see announce.ts). */
  articleIds?: string[];
}

/** The projector's timing and size settings, defaults applied. */
export interface LoopSettings {
  batchDocs: number;
  batchDelayMs: number;
  idlePollMs: number;
  refreshEveryMs: number;
  aliasCheckMs: number;
  snapshotEveryEvents: number;
  snapshotEveryMs: number;
  /** The leases' TTL: also how long the projector may go without progress before it gives them up. */
  leaseTtlMs: number;
  /**
   * Timeout of one bulk or refresh request: the lease TTL. A request to a hung node is then
   * never waited on for longer than the watchdog allows the whole batch (see watchdog.ts);
   * a shorter one would abort and resend writes that a loaded cluster was about to answer.
   */
  writeTimeoutMs: number;
  /** Timeout of a look at an alias (a failed look is skipped and made again later). */
  aliasCheckTimeoutMs: number;
}

/**
 * What one `run()` of the live projector shares: clients and settings, the signals, and
 * the state the loop, the flush, the hand-over and the snapshots work on. The functions
 * in this folder take it as their first argument (Emmett's `appendToStream(pool, …)`).
 */
export interface LiveContext {
  readonly options: ProjectorOptions;
  readonly projections: readonly ProjectionName[];
  readonly settings: LoopSettings;
  readonly logger?: Logger;
  readonly leases: readonly Lease[];
  /** Stop requested (the caller's signal or `close()`): finish in-flight writes, save the state. */
  readonly stopping: AbortSignal;
  /** `stopping`, a lease lost, or a stall (see watchdog.ts): every wait and request of the run ends on it. */
  readonly signal: AbortSignal;
  readonly targets: Map<ProjectionName, Target>;
  readonly totals: ProjectorStats;
  readonly memory: ChangeMemory;
  readonly pipeline: WritePipeline<Batch>;
  readonly writer: BulkWriter;
  engine: ProjectionEngine;
  /** Highest sequence applied to the engine, and the stored time of its event. */
  position: number;
  positionTime?: Date;
  /** Unreadable events, dead-lettered with the next batch. */
  pendingDead: DeadLetter[];
  /** When the batch being gathered got its first change (0: none yet). */
  batchStarted: number;
  caughtUp: boolean;
  lastRefresh: number;
  /** A pointer changed (reindex, rollback): look at the aliases. */
  aliasMaybeMoved: boolean;
  lastAliasCheck: number;
  /** Position and time of the last state snapshot saved (or restored). */
  savedAt: { position: number; ms: number };
  /** What the run waits on Elasticsearch for now, watched for stalls (see watchdog.ts). */
  readonly waits: Set<Wait>;
  /** The last error, for the health entry `status` shows. */
  lastError?: { message: string; at: string };
}

export function loopSettings(options: ProjectorOptions): LoopSettings {
  const leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  return {
    leaseTtlMs,
    writeTimeoutMs: Math.max(1000, leaseTtlMs),
    aliasCheckTimeoutMs: Math.max(1000, Math.floor(leaseTtlMs / 3)),
    batchDocs: options.batchDocs ?? 1000,
    batchDelayMs: options.batchDelayMs ?? 200,
    idlePollMs: options.idlePollMs ?? 50,
    refreshEveryMs: options.refreshEveryMs ?? 1000,
    aliasCheckMs: options.aliasCheckMs ?? 5000,
    snapshotEveryEvents: options.snapshotEveryEvents ?? 50_000,
    snapshotEveryMs: options.snapshotEveryMs ?? 300_000,
  };
}

/** A projection engine over the context's projections: empty, or from a restored state. */
export function newEngine(ctx: Pick<LiveContext, 'options' | 'projections'>, state?: ProjectionState) {
  return createProjectionEngine({
    projections: ctx.projections,
    loadArticle: createArticleLoader(ctx.options.log),
    ...(state ? { state } : {}),
  });
}

/** The index each projection is written to now. */
export function currentIndexes(ctx: LiveContext): Record<string, string> {
  return Object.fromEntries([...ctx.targets].map(([p, t]) => [p, t.index]));
}
