import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { mapLimit, sleep } from '../log/async.ts';
import type { BlobStore } from '../log/blobStore.ts';
import type { AppendItem, ContentLog, StoredEvent } from '../log/types.ts';
import type { EventType } from '../schemas/catalog.ts';
import { InvalidRecordError, PresslogError, TransientError } from '../schemas/errors.ts';
import type { BlobRef } from '../schemas/imageEvents.ts';
import type { EntityType } from '../schemas/names.ts';
import { applyEvent, type EntityState, foldEntity } from '../schemas/state.ts';
import { DEFAULT_MAX_IMAGE_BYTES, loadImage } from './imageFiles.ts';
import { type Decision, isReplayOfHistory, mapRecord, referencesOf } from './mapRecord.ts';
import {
  DEFAULT_MAX_RECORD_BYTES,
  formatLocation,
  type InputFile,
  listInputFiles,
  type RecordLocation,
  readRecords,
  type SourceItem,
} from './readRecords.ts';
import { type InputRecord, parseRecord } from './records.ts';

/** Options of {@link createIngester}. */
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
  /** Where deferred records are spilled (default the OS temp dir). */
  tempDir?: string;
  logger?: Logger;
  /** Clock for `recordedAt` (tests). */
  now?: () => Date;
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
  /** Ties the run's events together (default `ingest-<time>-<random>`). */
  correlationId?: string;
}

export interface Ingester {
  /** Ingest files and directories; ConfigError when a path is missing or not a record file. */
  ingest(paths: readonly string[], options?: IngestOptions): Promise<IngestStats>;
}

/** A validated record on its way through a batch. */
interface Entry {
  record: InputRecord;
  location: RecordLocation;
  raw: string;
  file?: InputFile;
  original?: BlobRef;
  state?: EntityState;
  /** The state was assumed (log empty at start), not looked up. */
  assumed?: boolean;
  decision?: Decision;
  missingRefs?: string[];
  /** The entity's events, when they had to be read (fold, history check). */
  history?: StoredEvent[];
  /** The entity's last event is its first version (nothing earlier to compare with). */
  singleVersion?: boolean;
}

const FULL_STATE_EVENTS = new Set<EventType>([
  'ArticlePublished',
  'ArticleRevised',
  'BylineRegistered',
  'BylineUpdated',
  'ImageSubmitted',
]);

/** Events only an entity's first version has: after one of them, there is no earlier version. */
const FIRST_VERSION_EVENTS = new Set<EventType>(['ArticlePublished', 'BylineRegistered']);

const KEEP_REJECTS = 100;
const EXISTS_CACHE_LIMIT = 100_000;
const DRY_RUN_OVERLAY_LIMIT = 200_000;
const TOUCHED_LIMIT = 1_000_000;
const APPEND_ATTEMPTS = 4;

const keyOf = (entityType: EntityType, id: string) => `${entityType}:${id}`;

/**
 * Create an ingester: reads record files (streamed, bounded memory), validates each
 * record, maps it to an event by comparing with the entity's current state in the log,
 * and appends in batches, pipelined.
 *
 * - Idempotent: an unchanged record appends nothing; a decision made twice yields the
 *   same event id (so the server's duplicate window catches concurrent re-runs too).
 * - Ordered: within a batch, bylines and images are appended before articles. An
 *   article whose byline or image is neither in the log nor seen earlier in the run is
 *   deferred (spilled to a temp file with every later record of that article) and
 *   appended after the whole input; a reference still unknown then is appended anyway
 *   with a warning, and the projectors fill it in when the entity arrives.
 * - Optimistic concurrency: each append expects the entity's last sequence the decision
 *   was based on; on a conflict the record is decided again against the new state.
 * - Rejects are data: every bad record is reported through `onReject` and the run goes on.
 */
export function createIngester(options: IngesterOptions): Ingester {
  const { log, blobs } = options;
  const source = options.source ?? 'ingest';
  const batchSize = Math.max(1, options.batchSize ?? 1000);
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const maxImageBytes = options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const maxConflictRetries = options.maxConflictRetries ?? 5;
  const lookupConcurrency = Math.max(1, options.lookupConcurrency ?? 256);
  const now = options.now ?? (() => new Date());

  async function ingest(paths: readonly string[], runOptions: IngestOptions = {}): Promise<IngestStats> {
    const { dryRun = false, signal, onProgress, onReject, onWarning } = runOptions;
    const started = performance.now();
    const correlationId =
      runOptions.correlationId ??
      `ingest-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    const logger = options.logger?.child({ component: 'ingest', correlationId });

    const { files, warnings: listWarnings } = await listInputFiles(paths);
    const head = await log.head();
    // On a log that was empty when the run started, every entity is new unless this run
    // wrote it: skip the per-record lookups and let the append's expected-sequence guard
    // catch the exceptions (an id seen twice, a concurrent writer), decided again then.
    let assumeNew = head.lastSeq === 0;
    /** Entities this run decided to append to, while assuming new: those are looked up, not assumed. */
    const touched = new Set<string>();

    const stats: IngestStats = {
      dryRun,
      aborted: false,
      correlationId,
      files: files.length,
      bytes: files.reduce((sum, f) => sum + f.bytes, 0),
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
    let phase: IngestProgress['phase'] = 'reading';
    let filesDone = 0;
    let bytesDone = 0;
    let bytesCurrent = 0;

    const progress = () =>
      onProgress?.({
        phase,
        files: files.length,
        filesDone,
        bytesRead: bytesDone + bytesCurrent,
        bytesTotal: stats.bytes,
        read: stats.read,
        appended: stats.appended,
        unchanged: stats.unchanged,
        rejected: stats.rejected,
        warnings: stats.warnings,
        elapsedMs: performance.now() - started,
      });

    const reject = async (r: IngestReject) => {
      stats.rejected++;
      if (stats.rejects.length < KEEP_REJECTS) stats.rejects.push({ ...r, raw: undefined });
      logger?.debug({ location: r.location, field: r.field }, r.reason);
      await onReject?.(r);
    };
    const warn = (w: IngestWarning) => {
      stats.warnings++;
      logger?.debug({ location: w.location }, w.message);
      onWarning?.(w);
    };
    for (const message of listWarnings) warn({ message });

    /** Byline and image ids this run has seen as valid records: the run's own reference targets. */
    const seenInRun = new Set<string>();
    /** Entities known to exist in the log (only positives are cached: entities never vanish). */
    const existsInLog = new Set<string>();
    /** Articles held back; every later record of the same article is held back with them. */
    const deferredIds = new Set<string>();
    /** Dry run only: the state each decision would have produced, so repeated ids decide right. */
    const overlay = new Map<string, EntityState>();
    let fakeSeq = head.lastSeq;

    let spill: { dir: string; path: string; out: WriteStream } | undefined;
    const spillEntry = async (entry: Entry) => {
      if (!spill) {
        const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'presslog-ingest-'));
        const path = join(dir, 'deferred.ndjson');
        spill = { dir, path, out: createWriteStream(path) };
      }
      const line = `${JSON.stringify({ location: entry.location, raw: entry.raw })}\n`;
      if (!spill.out.write(line))
        await new Promise<void>((resolve) => spill!.out.once('drain', () => resolve()));
      deferredIds.add(entry.record.id);
      stats.deferred++;
    };

    /** The entity's current state, and its history when reading it was needed anyway. */
    async function loadState(entry: Entry): Promise<void> {
      const { kind, id } = entry.record;
      const key = keyOf(kind, id);
      entry.history = undefined;
      entry.singleVersion = false;
      if (dryRun && overlay.has(key)) {
        entry.state = overlay.get(key);
        return;
      }
      const last = await log.lastEvent(kind, id);
      if (!last) {
        entry.state = undefined;
        return;
      }
      if (existsInLog.size >= EXISTS_CACHE_LIMIT) existsInLog.clear();
      existsInLog.add(key);
      // A full-state event is the state; after any other (a retraction, an image's
      // processing result) fold the entity's history.
      if (FULL_STATE_EVENTS.has(last.event.type)) {
        entry.state = applyEvent(undefined, last.event, last.seq);
        entry.singleVersion = FIRST_VERSION_EVENTS.has(last.event.type);
        return;
      }
      entry.history = await log.readEntity(kind, id);
      entry.state = foldEntity(entry.history);
    }

    async function refExists(entityType: EntityType, id: string, lookup: boolean): Promise<boolean> {
      const key = keyOf(entityType, id);
      if (seenInRun.has(key) || existsInLog.has(key)) return true;
      if (!lookup) return false;
      const last = await log.lastEvent(entityType, id);
      if (last) {
        if (existsInLog.size >= EXISTS_CACHE_LIMIT) existsInLog.clear();
        existsInLog.add(key);
      }
      return last !== undefined;
    }

    /**
     * Decide an entry against its state. A change is checked against the entity's
     * earlier versions too (when it has any from before this run): a record equal to one
     * replays history and appends nothing, so re-running an export that holds several
     * versions of an article is a no-op.
     */
    async function decide(entry: Entry, at: string): Promise<void> {
      const context = { source, now: at, correlationId, original: entry.original };
      entry.decision = mapRecord(entry.record, entry.state, context);
      const state = entry.state;
      if (entry.decision.action !== 'append' || !state || entry.singleVersion || state.lastSeq > head.lastSeq)
        return;
      if (dryRun && overlay.has(keyOf(entry.record.kind, entry.record.id))) return;
      const history = entry.history ?? (await log.readEntity(entry.record.kind, entry.record.id));
      if (isReplayOfHistory(entry.record, history, context)) entry.decision = { action: 'unchanged' };
    }

    /** Look up (or assume) every entry's current state and decide; an entry assumed new that does not map to an append is looked up for real. */
    async function resolveDecisions(entries: Entry[], at: string, lookup: boolean) {
      await mapLimit(entries, lookupConcurrency, async (entry) => {
        const key = keyOf(entry.record.kind, entry.record.id);
        entry.assumed = !lookup && assumeNew && !touched.has(key) && !(dryRun && overlay.has(key));
        if (entry.assumed) entry.state = undefined;
        else await loadState(entry);
        await decide(entry, at);
        if (entry.assumed && entry.decision?.action !== 'append') {
          entry.assumed = false;
          await loadState(entry);
          await decide(entry, at);
        }
      });
      if (!assumeNew) return;
      for (const entry of entries) {
        if (entry.decision?.action === 'append') touched.add(keyOf(entry.record.kind, entry.record.id));
      }
      // Remembering every entity is what makes assuming safe and cheap; past the limit, look up.
      if (touched.size > TOUCHED_LIMIT) {
        assumeNew = false;
        touched.clear();
      }
    }

    function countAppended(type: EventType, seq: number) {
      stats.appended++;
      stats.byType[type] = (stats.byType[type] ?? 0) + 1;
      stats.lastSeq = Math.max(stats.lastSeq, seq);
    }

    const rejectDecision = (entry: Entry) => {
      const decision = entry.decision as Extract<Decision, { action: 'reject' }>;
      return reject({
        location: entry.location,
        field: decision.field,
        reason: decision.message,
        raw: entry.raw,
      });
    };

    /** Append the decided entries (in order), retrying conflicts with fresh state and failures with backoff. */
    async function commit(entries: Entry[], at: string) {
      let pending = entries.filter((e) => e.decision?.action === 'append');
      for (const entry of entries) {
        if (entry.decision?.action === 'unchanged') stats.unchanged++;
        else if (entry.decision?.action === 'reject') await rejectDecision(entry);
      }
      if (dryRun) {
        for (const entry of pending) {
          const decision = entry.decision as Extract<Decision, { action: 'append' }>;
          fakeSeq++;
          countAppended(decision.event.type, fakeSeq);
          const key = keyOf(entry.record.kind, entry.record.id);
          if (overlay.size < DRY_RUN_OVERLAY_LIMIT || overlay.has(key)) {
            overlay.set(key, applyEvent(entry.state, decision.event, fakeSeq));
          }
        }
        return;
      }
      const order = new Map(entries.map((e, i) => [e, i]));
      const conflicts = new Map<Entry, number>();
      let failures = 0;
      while (pending.length > 0) {
        const items: AppendItem[] = pending.map((entry) => {
          const decision = entry.decision as Extract<Decision, { action: 'append' }>;
          return { event: decision.event, expectedLastSeq: decision.expectedLastSeq };
        });
        const result = await log.append(items, { signal });
        const retry: Entry[] = [];
        const redecide: Entry[] = [];
        let failed: Error | undefined;
        for (let i = 0; i < pending.length; i++) {
          const entry = pending[i]!;
          const outcome = result.outcomes[i]!;
          const decision = entry.decision as Extract<Decision, { action: 'append' }>;
          switch (outcome.status) {
            case 'appended':
              countAppended(decision.event.type, outcome.seq);
              break;
            case 'duplicate':
              stats.duplicates++;
              stats.lastSeq = Math.max(stats.lastSeq, outcome.seq);
              break;
            case 'conflict': {
              // On an assumed-new entity a conflict is the expected way of learning it exists.
              if (!entry.assumed) stats.conflicts++;
              const attempts = (conflicts.get(entry) ?? 0) + 1;
              conflicts.set(entry, attempts);
              if (attempts > maxConflictRetries) {
                await reject({
                  location: entry.location,
                  reason: `gave up after ${maxConflictRetries} concurrency conflicts: another writer keeps changing ${entry.record.kind} ${entry.record.id}`,
                  raw: entry.raw,
                });
              } else redecide.push(entry);
              break;
            }
            case 'invalid':
              await reject({
                location: entry.location,
                reason: `the event this record maps to is invalid: ${outcome.error.message}`,
                raw: entry.raw,
              });
              break;
            case 'failed':
              failed ??= outcome.error;
              retry.push(entry);
              break;
          }
        }
        if (redecide.length > 0) {
          await mapLimit(redecide, lookupConcurrency, async (entry) => {
            entry.assumed = false;
            await loadState(entry);
            await decide(entry, at);
          });
          for (const entry of redecide) {
            if (entry.decision?.action === 'unchanged') stats.unchanged++;
            else if (entry.decision?.action === 'reject') await rejectDecision(entry);
            else retry.push(entry);
          }
        }
        if (failed) {
          // Interrupted: what was not sent stays unsent (re-running the ingest is safe).
          if (signal?.aborted) return;
          failures++;
          if (failures >= APPEND_ATTEMPTS) {
            throw new TransientError(`append failed after ${failures} attempts: ${failed.message}`, {
              cause: failed,
            });
          }
          logger?.warn({ err: failed, attempt: failures }, 'append failed; retrying');
          await sleep(250 * 2 ** failures);
        }
        // Keep input order: bylines and images stay ahead of the articles that use them.
        pending = retry.sort((a, b) => order.get(a)! - order.get(b)!);
      }
    }

    /**
     * Prepare one batch: read and store its images, check the articles' references
     * (deferring those with unknown ones unless `final`), look up states and decide.
     * Returns the entries to commit: bylines and images first, then articles.
     */
    async function prepare(batch: Entry[], final: boolean): Promise<Entry[]> {
      const at = now().toISOString();
      const refsFirst: Entry[] = [];
      const articles: Entry[] = [];
      for (const entry of batch) (entry.record.kind === 'article' ? articles : refsFirst).push(entry);

      // Images: read, check, store (a few at a time: this is disk I/O and hashing).
      const images = refsFirst.filter((e) => e.record.kind === 'image');
      const badImages = new Map<Entry, InvalidRecordError>();
      await mapLimit(images, 4, async (entry) => {
        if (entry.record.kind !== 'image' || !entry.file) return;
        try {
          const loaded = await loadImage({
            root: entry.file.root,
            recordFile: entry.file.path,
            file: entry.record.file,
            maxBytes: maxImageBytes,
            blobs: dryRun ? undefined : blobs,
          });
          entry.original = { digest: loaded.digest, bytes: loaded.bytes, mediaType: loaded.mediaType };
        } catch (err) {
          if (!(err instanceof InvalidRecordError)) throw err;
          badImages.set(entry, err);
        }
      });
      for (const entry of images) {
        const err = badImages.get(entry);
        if (err)
          await reject({ location: entry.location, field: 'file', reason: err.message, raw: entry.raw });
      }
      const refs = refsFirst.filter((e) => !badImages.has(e));
      for (const entry of refs) seenInRun.add(keyOf(entry.record.kind, entry.record.id));

      // References: an article using an unknown byline or image waits for the end of the input.
      const lookupRefs = !assumeNew || final;
      await mapLimit(articles, lookupConcurrency, async (entry) => {
        const { bylines, images: imageIds } = referencesOf(entry.record);
        const missing: string[] = [];
        for (const id of bylines)
          if (!(await refExists('byline', id, lookupRefs))) missing.push(`byline ${id}`);
        for (const id of imageIds)
          if (!(await refExists('image', id, lookupRefs))) missing.push(`image ${id}`);
        entry.missingRefs = missing;
      });
      const ready: Entry[] = [];
      for (const entry of articles) {
        if (!final && entry.missingRefs!.length > 0) await spillEntry(entry);
        else ready.push(entry);
      }

      const decided = [...refs, ...ready];
      await resolveDecisions(decided, at, !assumeNew);
      for (const entry of ready) {
        if (entry.missingRefs!.length > 0 && entry.decision?.action === 'append') {
          warn({
            location: entry.location,
            message: `article ${entry.record.id} refers to ${entry.missingRefs!.join(', ')}, in neither the log nor this run; appended anyway (projectors fill it in when it arrives)`,
          });
        }
      }
      return decided;
    }

    // One batch commits (appends, waits for acks) while the next is read and prepared.
    let committing: Promise<void> | undefined;
    let committingKeys = new Set<string>();
    let commitError: unknown;
    const settle = async () => {
      if (committing) await committing;
      committing = undefined;
      committingKeys = new Set();
      if (commitError) throw commitError;
    };

    let batch: Entry[] = [];
    let batchKeys = new Set<string>();
    const flush = async (final: boolean) => {
      const current = batch;
      const keys = batchKeys;
      batch = [];
      batchKeys = new Set();
      // Interrupted: stop intake; the batch in flight finishes, this one is not started.
      if (current.length === 0 || signal?.aborted) return;
      // A batch touching an entity the committing batch appends must see that append.
      if (dryRun || [...keys].some((k) => committingKeys.has(k))) await settle();
      const decided = await prepare(current, final);
      await settle();
      const at = now().toISOString();
      committingKeys = keys;
      committing = commit(decided, at).then(progress, (err: unknown) => {
        commitError = err;
      });
    };
    /** Add a record to the batch; an id already in the batch closes it first (its decision depends on the earlier one). */
    const add = async (entry: Entry, final: boolean) => {
      if (!final && entry.record.kind === 'article' && deferredIds.has(entry.record.id)) {
        await spillEntry(entry);
        return;
      }
      const key = keyOf(entry.record.kind, entry.record.id);
      if (batchKeys.has(key)) await flush(final);
      batch.push(entry);
      batchKeys.add(key);
      if (batch.length >= batchSize) await flush(final);
    };

    const handleItem = async (item: SourceItem, file: InputFile | undefined, final: boolean) => {
      if (!item.ok) {
        await reject({ location: item.location, reason: item.reason, raw: item.raw });
        return;
      }
      const parsed = parseRecord(item.value);
      if (!parsed.ok) {
        // The id first: with a bad id, nothing else about the record can be trusted.
        const problems = [...parsed.problems].sort(
          (a, b) => Number(b.field === 'id') - Number(a.field === 'id'),
        );
        const [first, ...rest] = problems;
        const more =
          rest.length > 0
            ? `; also ${rest.map((p) => `${p.field || 'record'}: ${p.message}`).join('; ')}`
            : '';
        await reject({
          location: item.location,
          field: first?.field || undefined,
          reason: `${first?.message}${more}`,
          raw: item.raw,
        });
        return;
      }
      await add({ record: parsed.record, location: item.location, raw: item.raw, file }, final);
    };

    try {
      for (const file of files) {
        if (signal?.aborted) break;
        bytesCurrent = 0;
        let items = 0;
        for await (const item of readRecords(file, {
          maxRecordBytes,
          signal,
          onBytes: (n) => {
            bytesCurrent = n;
          },
        })) {
          items++;
          stats.read++;
          await handleItem(item, file, false);
          if (signal?.aborted) break;
        }
        if (items === 0 && !signal?.aborted)
          warn({ location: { file: file.path }, message: `${file.path}: empty file, no records` });
        filesDone++;
        bytesDone += file.bytes;
        bytesCurrent = 0;
      }
      await flush(false);
      await settle();

      // The deferred articles, in input order, now that every byline and image of the run is known.
      const spilled = spill as { dir: string; path: string; out: WriteStream } | undefined;
      if (spilled && !signal?.aborted) {
        phase = 'deferred';
        await new Promise<void>((resolve, reject) =>
          spilled.out.end((err?: Error | null) => (err ? reject(err) : resolve())),
        );
        const spillFile: InputFile = { path: spilled.path, root: spilled.dir, format: 'ndjson', bytes: 0 };
        for await (const item of readRecords(spillFile, { maxRecordBytes: Number.MAX_SAFE_INTEGER })) {
          if (!item.ok)
            throw new PresslogError(`deferred records file ${spilled.path} is corrupt: ${item.reason}`);
          const { location, raw } = item.value as { location: RecordLocation; raw: string };
          await handleItem({ ok: true, location, raw, value: JSON.parse(raw) }, undefined, true);
          if (signal?.aborted) break;
        }
        await flush(true);
        await settle();
      }
    } finally {
      // Never leave a commit running unobserved (an error path skipped the settle above).
      await committing?.catch(() => {});
      if (spill) {
        spill.out.destroy();
        await rm(spill.dir, { recursive: true, force: true });
      }
    }

    stats.aborted = signal?.aborted ?? false;
    if (dryRun || stats.lastSeq === 0) stats.lastSeq = head.lastSeq;
    stats.durationMs = Math.round(performance.now() - started);
    const seconds = Math.max(stats.durationMs, 1) / 1000;
    stats.eventsPerSecond = Math.round(stats.appended / seconds);
    stats.recordsPerSecond = Math.round(stats.read / seconds);
    phase = 'done';
    progress();
    logger?.info(
      {
        read: stats.read,
        appended: stats.appended,
        unchanged: stats.unchanged,
        rejected: stats.rejected,
        durationMs: stats.durationMs,
      },
      dryRun ? 'dry run finished' : 'ingest finished',
    );
    return stats;
  }

  return { ingest };
}

export { formatLocation };
