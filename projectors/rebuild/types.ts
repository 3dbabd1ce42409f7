import type { Logger } from 'pino';
import type { ProjectionName } from '../../schemas/names.ts';
import type { ProjectionClients } from '../clients.ts';
import type { LiveSettings } from '../indexes.ts';
import type { LeaseValue } from '../lease.ts';
import type { StateStats } from '../state/projectionState.ts';
import type { SnapshotInfo, StateSnapshotStore } from '../state/stateSnapshots.ts';
import type { BulkStats } from '../write/bulkWriter.ts';
import type { SpawnWorker } from './partitionCoordinator.ts';
import type { PartitionDone } from './partitions.ts';
import type { Verification } from './verify.ts';

export type ReindexPhase =
  | 'prepare'
  | 'scan'
  | 'write'
  | 'catch-up'
  | 'verify'
  | 'swap'
  | 'snapshot'
  | 'done';

/** Progress of a reindex, reported a few times a second. */
export interface ReindexProgress {
  phase: ReindexPhase;
  /** Sequence reached in the current phase. */
  seq: number;
  /** Sequence the current phase runs to. */
  targetSeq: number;
  /** Events read so far (all phases). */
  events: number;
  /** Documents written so far. */
  docs: number;
  /** Items dead-lettered or writes retried so far: never hidden behind the progress bar. */
  deadLettered: number;
  retries: number;
  /** Events the live indexes are behind the log (when a live projection exists). */
  liveLag?: number;
  /** The latest error or warning (a retried bulk request, a dead letter). */
  lastError?: string;
  /**
   * Writes held in memory at the last commit or retry: batches submitted and not settled
   * (in flight or retrying), the one being built, deferred writes; the log is read no
   * further while they are at their bound.
   */
  buffered?: { batches: number; bytes: number };
}

export interface ReindexOptions extends ProjectionClients {
  projections: readonly ProjectionName[];
  /** Build the archive as it stood at this time into separate, unaliased indexes. */
  asOf?: Date;
  /** Previous indexes to keep after the swap, for rollback (default 1). */
  keep?: number;
  live?: LiveSettings;
  logger?: Logger;
  signal?: AbortSignal;
  /** Documents per bulk batch (default 1000; requests are also capped at 8 MiB). */
  batchDocs?: number;
  /** Bulk requests in flight (default 3). */
  maxInFlight?: number;
  /** Stop catching up with bulk settings once the new indexes are this few events behind (default 1000). */
  catchUpLag?: number;
  leaseTtlMs?: number;
  /** With `keep` 0, how long to wait for the live projector to leave the old index before deleting it (default 30 s). */
  handoverWaitMs?: number;
  onProgress?: (progress: ReindexProgress) => void;
  /**
   * Save the rebuilt state here after the swap, so the live projector's next start does
   * not replay the log again (default: not saved).
   */
  snapshots?: StateSnapshotStore;
  /** Called when another reindex holds the lock and `wait` is set. */
  wait?: boolean;
  onWait?: (holder: LeaseValue) => void;
  /**
   * Split the articles' write phase over this many worker processes, started by
   * `spawnWorker` (see partitions.ts). Needs `snapshots` (the shared scan and the
   * partitions' states go through the state object store). Not with `asOf`.
   */
  partitions?: number;
  spawnWorker?: SpawnWorker;
  /** Test hook: called between phases (e.g. to append events while the indexes are built). */
  onPhase?: (phase: ReindexPhase) => Promise<void> | void;
}

export interface ReindexedIndex {
  projection: ProjectionName;
  index: string;
  alias?: string;
  /** What the alias pointed at before the swap. */
  previous: string[];
  /** Old indexes deleted after the swap (beyond `keep`), and stale partial ones deleted before the build. */
  deleted: string[];
  verification: Verification;
}

export interface ReindexReport {
  indexes: ReindexedIndex[];
  /** Sequence the new indexes are current as of (their checkpoint). */
  seq: number;
  asOf?: string;
  events: number;
  unreadable: number;
  docsWritten: number;
  stats: BulkStats;
  /** Articles read back from the log during the catch-up (fan-out). */
  articlesLoaded: number;
  durationMs: number;
  phasesMs: Record<string, number>;
  state: StateStats;
  /** Peak resident memory of this process (bytes). */
  peakRssBytes: number;
  /**
   * The peak resident memory so far at the end of each phase (bytes): the phase where
   * it last rises is the one that set the peak.
   */
  peakRssByPhase: Record<string, number>;
  /** CPU time this process spent in the reindex (user + system, ms). */
  cpuMs: number;
  /** The state snapshot saved after the swap. */
  snapshot?: SnapshotInfo;
  /** A partitioned rebuild's id and partitions (who wrote each, after how many claims). */
  partitioned?: { rebuildId: string; partitions: PartitionDone[] };
}
