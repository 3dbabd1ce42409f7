import type { Logger } from 'pino';
import type { ProjectionName } from '../../schemas/names.ts';
import type { ProjectionClients } from '../clients.ts';
import type { LiveSettings } from '../indexes.ts';
import type { LeaseValue } from '../lease.ts';
import type { StateSnapshotStore } from '../state/stateSnapshots.ts';
import type { BulkStats } from '../write/bulkWriter.ts';

/** Progress of a live projector, reported after every committed batch. */
export interface ProjectorProgress {
  /** Highest sequence applied to the in-memory state. */
  position: number;
  /** Per projection: the index written and its committed checkpoint. */
  targets: Record<string, { index: string; seq: number; visibleSeq: number }>;
  stats: ProjectorStats;
  /** True once the projector has read up to the head of the log at least once. */
  caughtUp: boolean;
}

export interface ProjectorStats extends BulkStats {
  events: number;
  /** Where the state came from at start: a snapshot (its position) or a replay from the start of the log. */
  restoredFrom?: { position: number; ms: number };
  /** State snapshots saved. */
  snapshotsSaved: number;
  unreadable: number;
  /** Articles read back from the log for fan-out. */
  articlesLoaded: number;
  /** Times the alias moved under the projector (a reindex swap or a rollback). */
  handovers: number;
  position: number;
}

export interface ProjectorOptions extends ProjectionClients {
  /** Projections to keep current (one pass over the log feeds them all). */
  projections: readonly ProjectionName[];
  logger?: Logger;
  /** Settings of an index the projector has to create because the alias does not exist yet. */
  live?: LiveSettings;
  /** Render and write once this many documents are queued (default 1000). */
  batchDocs?: number;
  /** ... or once the oldest queued change is this old (default 200 ms). */
  batchDelayMs?: number;
  /** How often to look for new events when caught up (default 50 ms). */
  idlePollMs?: number;
  /** Bulk requests in flight (default 2). */
  maxInFlight?: number;
  /** Make writes searchable (refresh) at least this often while busy (default 1 s); always when caught up. */
  refreshEveryMs?: number;
  /**
   * Lifetime of the leases without renewal (default 15 s). Also the longest the projector
   * waits on Elasticsearch without progress (a bulk or refresh request, a batch until
   * committed) before it gives the leases up for a standby; a third of it without an
   * answer is logged and shown by `status`.
   */
  leaseTtlMs?: number;
  /** How often to verify the alias target even without a pointer change (default 5 s). */
  aliasCheckMs?: number;
  /** Documents changed by recent events, remembered for a hand-over to an index that is behind (default 200k ids). */
  handoverMemory?: number;
  /**
   * Where the projection state is saved and found again, so a restart replays only what
   * came after the snapshot instead of the whole log (default: no snapshots).
   */
  snapshots?: StateSnapshotStore;
  /** Save the state when caught up and this many events were applied since the last save (default 50,000)... */
  snapshotEveryEvents?: number;
  /** ... or this long after the last save, if anything was applied (default 5 min). */
  snapshotEveryMs?: number;
  onProgress?: (progress: ProjectorProgress) => void;
  /** Called once, when the projector has first read up to the head of the log (its state is rebuilt). */
  onCaughtUp?: (position: number) => void;
  /**
   * Called with the ids of the articles live batches wrote, once a refresh has made them
   * searchable (saved-search alerts run on them). Never by a reindex. Not awaited.
   */
  onArticlesVisible?: (ids: string[]) => unknown;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Wait for a running projector to finish instead of failing. */
  wait?: boolean;
  onWait?: (holder: LeaseValue) => void;
  /** Stop once caught up with the head of the log (tests, one-shot catch-up). */
  untilCaughtUp?: boolean;
}

/** The live projector: tails the log into the projections' current indexes. */
export interface Projector {
  /**
   * Take the leases and project until stopped: by `signal`, by {@link Projector.close}, with
   * `untilCaughtUp` at the head of the log, or by a failure (which rejects). Once per projector.
   * No progress for longer than `leaseTtlMs` (Elasticsearch hung or failing) gives the
   * leases up for a standby; they are taken back after a pause, with `wait` by waiting for
   * them, without it only if nobody took them (else this rejects with `ProjectorStalledError`).
   */
  run(options?: RunOptions): Promise<ProjectorStats>;
  /**
   * Stop: ends a running `run()` as a stop on request would (in-flight writes finished,
   * state saved) and waits for it, then releases the leases. Idempotent: every call
   * returns the same promise. Fine before `run()` (which then refuses to start). Every
   * step runs even when one fails; the failures are thrown at the end. `run()`'s own
   * failure is `run()`'s to report, not `close()`'s.
   */
  close(): Promise<void>;
}
