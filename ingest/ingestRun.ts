import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { BlobStore } from '../log/blobStore.ts';
import type { ContentLog } from '../log/types.ts';
import type { DecideContext } from './decide.ts';
import { createDeferredSpill, type DeferredSpill } from './deferred.ts';
import { DEFAULT_MAX_IMAGE_BYTES } from './imageFiles.ts';
import type { InputListing } from './listInputFiles.ts';
import { createKnownEntities, type KnownEntities } from './lookups.ts';
import type { IdMapper } from './opaqueIds.ts';
import { DEFAULT_MAX_RECORD_BYTES } from './readRecords.ts';
import type {
  IngesterOptions,
  IngestOptions,
  IngestProgress,
  IngestReject,
  IngestStats,
  IngestWarning,
} from './types.ts';

/** The ingester's options with their defaults filled in. */
export interface IngestSettings {
  log: ContentLog;
  blobs: BlobStore;
  source: string;
  batchSize: number;
  maxRecordBytes: number;
  maxImageBytes: number;
  maxConflictRetries: number;
  lookupConcurrency: number;
  lookupRetryMs: number;
  tempDir?: string;
  logger?: Logger;
  now: () => Date;
  mapId?: IdMapper;
}

export function resolveSettings(options: IngesterOptions): IngestSettings {
  return {
    log: options.log,
    blobs: options.blobs,
    source: options.source ?? 'ingest',
    batchSize: Math.max(1, options.batchSize ?? 1000),
    maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
    maxImageBytes: options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
    maxConflictRetries: options.maxConflictRetries ?? 5,
    lookupConcurrency: Math.max(1, options.lookupConcurrency ?? 256),
    lookupRetryMs: Math.max(0, options.lookupRetryMs ?? 30_000),
    tempDir: options.tempDir,
    logger: options.logger,
    now: options.now ?? (() => new Date()),
    ...(options.mapId ? { mapId: options.mapId } : {}),
  };
}

/** Where the run is in its input, for progress reports. */
export interface IngestPosition {
  phase: IngestProgress['phase'];
  files: number;
  filesDone: number;
  /** Bytes of the files done, and of the file being read so far. */
  bytesDone: number;
  bytesCurrent: number;
}

/**
 * One run of `ingest`: the small context every step of the run takes (settings, the
 * run's options, its caches, its spill, its counts) plus how it reports rejects,
 * warnings and progress.
 */
export interface IngestRun extends DecideContext {
  settings: IngestSettings;
  /** `performance.now()` when the run started. */
  started: number;
  signal?: AbortSignal;
  logger?: Logger;
  stats: IngestStats;
  deferred: DeferredSpill;
  position: IngestPosition;
  /** Count a rejected record, keep the first ones, and hand it to `onReject` (awaited). */
  reject(reject: IngestReject): Promise<void>;
  /** Count a warning and hand it to `onWarning`. */
  warn(warning: IngestWarning): void;
  /** Report progress to `onProgress`. */
  progress(): void;
}

const KEEP_REJECTS = 100;

function newCorrelationId(): string {
  const time = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15);
  return `ingest-${time}-${randomBytes(3).toString('hex')}`;
}

function emptyStats(dryRun: boolean, correlationId: string, listing: InputListing): IngestStats {
  return {
    dryRun,
    aborted: false,
    correlationId,
    files: listing.files.length,
    bytes: listing.files.reduce((sum, f) => sum + f.bytes, 0),
    read: 0,
    appended: 0,
    byType: {},
    unchanged: 0,
    duplicates: 0,
    rejected: 0,
    warnings: 0,
    conflicts: 0,
    deferred: 0,
    lastSeq: 0,
    durationMs: 0,
    eventsPerSecond: 0,
    recordsPerSecond: 0,
    rejects: [],
  };
}

/** Start a run over the listed input against a log whose last sequence is `headSeq`. */
export function createIngestRun(
  settings: IngestSettings,
  runOptions: IngestOptions,
  listing: InputListing,
  headSeq: number,
  started: number,
): IngestRun {
  const { dryRun = false, signal, onProgress, onReject, onWarning } = runOptions;
  const correlationId = runOptions.correlationId ?? newCorrelationId();
  const logger = settings.logger?.child({ component: 'ingest', correlationId });
  const known: KnownEntities = createKnownEntities(headSeq);
  const stats = emptyStats(dryRun, correlationId, listing);
  const position: IngestPosition = {
    phase: 'reading',
    files: listing.files.length,
    filesDone: 0,
    bytesDone: 0,
    bytesCurrent: 0,
  };
  return {
    log: settings.log,
    dryRun,
    known,
    source: settings.source,
    correlationId,
    headSeq,
    lookupConcurrency: settings.lookupConcurrency,
    lookupRetryMs: settings.lookupRetryMs,
    allowUnretract: runOptions.allowUnretract ?? false,
    settings,
    started,
    signal,
    logger,
    stats,
    deferred: createDeferredSpill(settings.tempDir),
    position,
    async reject(r) {
      stats.rejected++;
      if (stats.rejects.length < KEEP_REJECTS) stats.rejects.push({ ...r, raw: undefined });
      logger?.debug({ location: r.location, field: r.field }, r.reason);
      await onReject?.(r);
    },
    warn(w) {
      stats.warnings++;
      logger?.debug({ location: w.location }, w.message);
      onWarning?.(w);
    },
    progress() {
      onProgress?.({
        phase: position.phase,
        files: position.files,
        filesDone: position.filesDone,
        bytesRead: position.bytesDone + position.bytesCurrent,
        bytesTotal: stats.bytes,
        read: stats.read,
        appended: stats.appended,
        unchanged: stats.unchanged,
        rejected: stats.rejected,
        warnings: stats.warnings,
        elapsedMs: performance.now() - started,
      });
    },
  };
}

/** Fill in the run's closing numbers: whether it was aborted, its last sequence, its rates. */
export function finishStats(run: IngestRun): IngestStats {
  const { stats } = run;
  stats.aborted = run.signal?.aborted ?? false;
  if (run.dryRun || stats.lastSeq === 0) stats.lastSeq = run.headSeq;
  stats.durationMs = Math.round(performance.now() - run.started);
  const seconds = Math.max(stats.durationMs, 1) / 1000;
  stats.eventsPerSecond = Math.round(stats.appended / seconds);
  stats.recordsPerSecond = Math.round(stats.read / seconds);
  return stats;
}
