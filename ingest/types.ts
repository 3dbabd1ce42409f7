/** The ingester's public contract: its options, what a run reports, and its result. */

import type { Logger } from 'pino';
import type { BlobStore } from '../log/blobStore.ts';
import type { ContentLog } from '../log/types.ts';
import type { EventType } from '../schemas/catalog.ts';
import { PresslogError } from '../schemas/errors.ts';
import type { InputListing } from './listInputFiles.ts';
import type { IdMapper } from './opaqueIds.ts';
import type { RecordLocation } from './readRecords.ts';

/** Options of `createIngester`. */
export interface IngesterOptions {
  log: ContentLog;
  /** Where image originals are stored (content-addressed) for the image workers. */
  blobs: BlobStore;
  /** The envelope's `source` of every event (default `ingest`). */
  source?: string;
  /** Records decided and appended together (default 1000). Bounds memory and sets the pipelining depth. */
  batchSize?: number;
  /** Largest record (NDJSON line, JSON element) read, in bytes (default 8 MiB). */
  maxRecordBytes?: number;
  /** Largest image file accepted, in bytes (default 50 MiB). */
  maxImageBytes?: number;
  /** How often one record is decided again after a concurrency conflict (default 5). */
  maxConflictRetries?: number;
  /** State lookups in flight at once (default 256). */
  lookupConcurrency?: number;
  /** How long one failing read of the log (a lookup) is retried with backoff before the run gives up (default 30 s). */
  lookupRetryMs?: number;
  /** Where deferred records are spilled (default the OS temp dir). */
  tempDir?: string;
  logger?: Logger;
  /** Clock for `recordedAt` (tests). */
  now?: () => Date;
  /**
   * Maps every record's id and reference before anything else sees it: opaque ids
   * (`opaqueIdMapper`, `PRESSLOG_OPAQUE_IDS`). Rejects and warnings then name the mapped id.
   */
  mapId?: IdMapper;
}

/** A record that was not ingested: where it is, which field, why, and its text as it was. */
export interface IngestReject {
  location: RecordLocation;
  /** The offending field (`publishedAt`, `bylines[2]`), absent when the record as a whole is bad. */
  field?: string;
  reason: string;
  /** The record's original bytes/text, absent when there is none to give back (an oversized line). */
  raw?: string | Buffer;
}

/** Something ingested with a caveat (a dangling reference) or a file without records. */
export interface IngestWarning {
  location?: RecordLocation;
  message: string;
}

export interface IngestProgress {
  phase: 'reading' | 'deferred' | 'done';
  files: number;
  filesDone: number;
  bytesRead: number;
  bytesTotal: number;
  read: number;
  appended: number;
  unchanged: number;
  rejected: number;
  warnings: number;
  elapsedMs: number;
}

export interface IngestStats {
  dryRun: boolean;
  /** True when the run was stopped by its signal before the end of the input. */
  aborted: boolean;
  correlationId: string;
  files: number;
  bytes: number;
  /** Records read (lines and array elements; blank lines not counted). */
  read: number;
  /** Events appended (in a dry run: that would be appended). */
  appended: number;
  byType: Partial<Record<EventType, number>>;
  /** Records equal to their entity's current state: nothing appended. */
  unchanged: number;
  /** Events the server already held (same id within its duplicate window), e.g. a concurrent identical run. */
  duplicates: number;
  rejected: number;
  warnings: number;
  /** Appends refused because another writer changed the entity first (each was decided again). */
  conflicts: number;
  /** Articles held back until the end of the input because a byline or image they use was not known yet. */
  deferred: number;
  /** Highest sequence this run appended, or the log's head when it appended nothing. */
  lastSeq: number;
  durationMs: number;
  eventsPerSecond: number;
  recordsPerSecond: number;
  /** The first rejects (at most 100); every reject goes to `onReject`. */
  rejects: IngestReject[];
}

export interface IngestOptions {
  /** Validate, map and compare with the log, but append and store nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Called after every batch. */
  onProgress?: (progress: IngestProgress) => void;
  /** Called for every rejected record, in input order within a file; awaited (write it somewhere). */
  onReject?: (reject: IngestReject) => void | Promise<void>;
  onWarning?: (warning: IngestWarning) => void;
  /**
   * Let a changed article record publish a retracted article again (default false: such
   * a record is rejected unless it says `"unretract": true`).
   */
  allowUnretract?: boolean;
  /** Ties the run's events together (default `ingest-<time>-<random>`). */
  correlationId?: string;
}

export interface Ingester {
  /**
   * Ingest files and directories (ConfigError when a path is missing or not a record
   * file), or the files a caller has listed already with `listInputFiles` (to report
   * usage errors before connecting), so the input is walked once per run.
   */
  ingest(input: readonly string[] | InputListing, options?: IngestOptions): Promise<IngestStats>;
}

/**
 * A run stopped by an error it could not wait out (the log unreachable for longer than
 * the lookup retries, or appends failing round after round). `stats` says what the run
 * did before it stopped; re-running the ingest is safe and finishes the job.
 */
export class IngestFailedError extends PresslogError {
  override name = 'IngestFailedError';
  constructor(
    readonly stats: IngestStats,
    cause: unknown,
  ) {
    super(`ingest stopped: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
