import type { Client } from '@elastic/elasticsearch';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { backoffMs, retrying, sleep } from '../../log/async.ts';
import type { CheckpointStore } from '../../log/checkpoints.ts';
import type { ReplayItem, ReplayOptions } from '../../log/types.ts';
import { PresslogError, TransientError } from '../../schemas/errors.ts';
import { type Names, type ProjectionName, parseSubject } from '../../schemas/names.ts';
import type { ProjectionClients } from '../clients.ts';
import { createArticleLoader, createProjectionEngine } from '../engine.ts';
import {
  aliasTargets,
  applyLiveSettings,
  asOfIndexName,
  createProjectionIndex,
  DEFAULT_LIVE_SETTINGS,
  deleteIndexes,
  type IndexMeta,
  type LiveSettings,
  listProjectionIndexes,
  refresh,
  setIndexMeta,
  versionedIndexName,
} from '../indexes.ts';
import {
  asOfLeaseKey,
  createLease,
  indexBeingWritten,
  type Lease,
  type LeaseValue,
  projectLeaseKey,
  readLease,
  reindexLeaseKey,
} from '../lease.ts';
import { PROJECTIONS } from '../projections.ts';
import type { StateStats } from '../state/projectionState.ts';
import { type SnapshotInfo, type StateSnapshotStore, snapshotName } from '../state/stateSnapshots.ts';
import {
  addBulkStats,
  type BulkStats,
  createBulkBodyBuilder,
  createBulkBodyPool,
  createBulkWriter,
  type DocOp,
  emptyBulkStats,
} from '../write/bulkWriter.ts';
import type { DeadLetter } from '../write/deadLetters.ts';
import { docJson, docJsonHead } from '../write/docJson.ts';
import { retryingEs } from '../write/esRetry.ts';
import { createWritePipeline, type PipelineBatch } from '../write/pipeline.ts';
import { createSequenceSet, type SequenceSet } from './sequenceSet.ts';
import { type Verification, verifyIndex } from './verify.ts';

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
}

/** A reindex failed verification: the alias was not moved. */
export class VerificationError extends PresslogError {
  override name = 'VerificationError';
  constructor(readonly verifications: Verification[]) {
    const bad = verifications.filter((v) => !v.ok);
    super(
      `verification failed, aliases left unchanged: ${bad
        .map(
          (v) =>
            `${v.index} has ${v.actualDocs} documents (checksum ${v.actualChecksum}), expected ${v.expectedDocs} (${v.expectedChecksum})`,
        )
        .join('; ')}`,
    );
  }
}

const PROGRESS_EVERY_MS = 250;
/** A batch is submitted at this many bytes of request body (or at `batchDocs` documents). */
const BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Rebuild projections from the whole log into new versioned indexes and swap the aliases.
 *
 * 1. Take the reindex lock of every projection (a second reindex is refused, naming the
 *    holder); delete stale partial indexes an interrupted run left behind.
 * 2. Create `<ns>-<projection>-<timestamp>` indexes with bulk settings (no refresh, no
 *    replicas, async translog).
 * 3. Scan: replay the byline and image subjects (a small share of the log) up to the
 *    head H1 into the projection state, so their states are final.
 * 4. Write: replay the article subjects up to H1 once; every article is written at each
 *    of its events, rendered with the final bylines and images, so its last write is its
 *    final document. No fan-out during a rebuild, no article read back, and only
 *    revisions cost an extra write: that is what lets a rebuild run close to the speed
 *    Elasticsearch takes documents. Then bylines and images from the state.
 * 5. Catch up: apply the events appended meanwhile incrementally (the same code as the
 *    live projector), until the lag is small; restore live settings and refresh; catch
 *    up once more to the current head Hf.
 * 6. Verify: document counts and a checksum of (id, lineage.asOfSeq, lineage.ownSeq)
 *    against the state at Hf.
 * 7. Write each new index's checkpoint (Hf), then swap all aliases in ONE `_aliases`
 *    call and record the pointers; the live projector notices and continues on the new
 *    indexes from Hf. Old indexes beyond `keep` are deleted.
 *
 * A failure or an interruption before step 7 leaves the aliases untouched; the next run
 * deletes the partial indexes. With `asOf`, steps 3-4 stop at the last event stored at
 * or before that time, there is no catch-up and no swap, and the indexes are named
 * `<ns>-<projection>-asof-<time>`.
 */
export async function reindex(options: ReindexOptions): Promise<ReindexReport> {
  const { log, client, checkpoints, names, deadLetters } = options;
  const projections = [...options.projections];
  const signal = options.signal ?? new AbortController().signal;
  const logger = options.logger?.child({ component: 'reindex', projections: projections.join(',') });
  const batchDocs = options.batchDocs ?? 1000;
  const keep = Math.max(0, options.keep ?? 1);
  const asOf = options.asOf;
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  const phasesMs: Record<string, number> = {};
  const peakRssByPhase: Record<string, number> = {};
  let phase: ReindexPhase = 'prepare';
  let phaseStarted = Date.now();
  const progress: ReindexProgress = {
    phase,
    seq: 0,
    targetSeq: 0,
    events: 0,
    docs: 0,
    deadLettered: 0,
    retries: 0,
  };
  let lastReport = 0;
  let peakRss = process.memoryUsage.rss();
  const report = (force = false) => {
    // Called per event: everything here must be cheap until it is time to report.
    if (!force && Date.now() - lastReport < PROGRESS_EVERY_MS) return;
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
    lastReport = Date.now();
    options.onProgress?.({ ...progress });
  };
  const enter = async (next: ReindexPhase) => {
    const memory = process.memoryUsage();
    logger?.debug(
      {
        phase,
        ms: Date.now() - phaseStarted,
        rss: memory.rss,
        heapTotal: memory.heapTotal,
        heapUsed: memory.heapUsed,
        external: memory.external,
        arrayBuffers: memory.arrayBuffers,
      },
      'reindex phase done',
    );
    phasesMs[phase] = (phasesMs[phase] ?? 0) + Date.now() - phaseStarted;
    peakRssByPhase[phase] = process.resourceUsage().maxRSS * 1024;
    phase = next;
    phaseStarted = Date.now();
    progress.phase = next;
    report(true);
    await options.onPhase?.(next);
  };

  const locks: Lease[] = projections.map((projection) =>
    createLease({
      kv: options.leaseBucket,
      key: asOf ? asOfLeaseKey(projection) : reindexLeaseKey(projection),
      ttlMs: options.leaseTtlMs,
      purpose: asOf ? `as-of rebuild of ${projection}` : `reindex of ${projection}`,
      logger,
    }),
  );
  const liveLagTimer = setInterval(() => {
    void (async () => {
      const head = await log.head();
      let lag = 0;
      for (const projection of projections) {
        const checkpoint = await checkpoints.current(projection);
        if (checkpoint) lag = Math.max(lag, head.lastSeq - checkpoint.seq);
      }
      progress.liveLag = lag;
    })().catch(() => {});
  }, 2000);
  liveLagTimer.unref();

  try {
    for (const lock of locks) await lock.acquire({ wait: options.wait, signal, onWait: options.onWait });
    const lockLost = AbortSignal.any([signal, ...locks.map((l) => l.lost)]);

    // Stale partial indexes of an interrupted run: unaliased and never finished.
    const deletedStale = new Map<ProjectionName, string[]>();
    for (const projection of projections) {
      const stale = (await listProjectionIndexes(client, names, projection, lockLost)).filter(
        (info) => info.meta?.state === 'building' && info.aliases.length === 0,
      );
      if (stale.length > 0) {
        logger?.warn(
          { projection, indexes: stale.map((s) => s.name) },
          'deleting partial indexes of an interrupted reindex',
        );
        await deleteIndexes(
          client,
          stale.map((s) => s.name),
          lockLost,
        );
        for (const info of stale) await checkpoints.delete(info.name).catch(() => {});
      }
      deletedStale.set(
        projection,
        stale.map((s) => s.name),
      );
    }

    const now = new Date();
    const created = new Map<ProjectionName, { index: string; meta: IndexMeta }>();
    for (const projection of projections) {
      const index = asOf
        ? asOfIndexName(names, projection, asOf)
        : versionedIndexName(names, projection, now);
      const meta: IndexMeta = {
        projection,
        fingerprint: PROJECTIONS[projection].fingerprint,
        state: 'building',
        createdAt: now.toISOString(),
        ...(asOf ? { asOf: asOf.toISOString() } : {}),
      };
      created.set(projection, { index, meta });
    }
    // Creating indexes takes a cluster-state update each: let it run while the log is scanned.
    const creating = Promise.all(
      [...created].map(async ([projection, { index, meta }]) => {
        if (asOf) await deleteIndexes(client, [index], lockLost);
        await createProjectionIndex(client, {
          index,
          definition: PROJECTIONS[projection],
          mode: 'bulk',
          live: options.live,
          meta,
          signal: lockLost,
        });
      }),
    );
    creating.catch(() => {});
    const indexOf = (projection: ProjectionName) => created.get(projection)!.index;
    const articleIndexWanted = () => created.has('articles');

    const writer = createBulkWriter({
      client,
      deadLetters,
      logger,
      onRetry: (notice) => {
        progress.retries++;
        progress.lastError = notice.error;
        report(true);
      },
    });
    const totals = emptyBulkStats();
    const pipeline = createWritePipeline<PipelineBatch>({
      maxInFlight: options.maxInFlight ?? 3,
      commit: async (_batch, stats) => {
        addBulkStats(totals, stats);
        progress.docs = totals.indexed + totals.deleted + totals.conflicts;
        progress.deadLettered = totals.deadLettered;
        if (stats.deadLettered > 0) progress.lastError = `${stats.deadLettered} document(s) dead-lettered`;
        report();
      },
    });
    /**
     * The batch being built: its ops, and its request body, written as the ops arrive
     * (see createBulkBodyBuilder). Submitted at `batchDocs` documents or BATCH_BYTES.
     */
    const bodies = createBulkBodyPool();
    const newBody = () => createBulkBodyBuilder(bodies, BATCH_BYTES + (1 << 20));
    let batch: DocOp[] = [];
    let body = newBody();
    /** Position in `batch` of each document: a document written twice in one batch is written once, last wins. */
    let batchSlots = new Map<string, number>();
    /** False once an op replaced one already in the body: the body is then encoded anew from `batch`. */
    let bodyExact = true;
    let pendingDead: DeadLetter[] = [];
    /**
     * Documents of the batches being written. Two writes of one document must land in
     * order (equal versions are allowed while building, see below), so a document is
     * never in two concurrent requests: a write of a document that is in flight waits in
     * `deferred` (newest only) and joins the first batch submitted after its flight ends.
     */
    const writing: { keys: Set<string>; done: Promise<void> }[] = [];
    const deferred = new Map<string, DocOp>();
    const inFlight = (key: string) => writing.some((w) => w.keys.has(key));
    /** Add `op` to the batch, its source joined from `parts`. */
    const add = (key: string, op: DocOp, parts: readonly (string | Uint8Array)[]) => {
      body.append(op, parts);
      const slot = batchSlots.get(key);
      if (slot === undefined) {
        batchSlots.set(key, batch.length);
        batch.push(op);
      } else {
        batch[slot] = op;
        bodyExact = false;
      }
    };
    const sourceParts = (op: DocOp) => (op.source === undefined ? [] : [op.source]);
    const submit = async (toSeq: number) => {
      for (const [key, op] of deferred) {
        if (inFlight(key)) continue;
        deferred.delete(key);
        add(key, op, sourceParts(op));
      }
      // An empty batch has an empty body: keep both for the next ops.
      if (batch.length === 0 && pendingDead.length === 0) return;
      const ops = batch;
      const dead = pendingDead;
      const keys = new Set(batchSlots.keys());
      const built = body;
      const exact = bodyExact;
      batch = [];
      batchSlots = new Map();
      body = newBody();
      bodyExact = true;
      pendingDead = [];
      let finished!: () => void;
      const entry = { keys, done: new Promise<void>((resolve) => (finished = resolve)) };
      writing.push(entry);
      await pipeline.submit({ toSeq, final: false }, async () => {
        try {
          if (dead.length > 0) await deadLetters.record(dead, lockLost);
          const stats =
            ops.length > 0
              ? await writer.write(ops, lockLost, exact ? built.body() : undefined)
              : emptyBulkStats();
          stats.deadLettered += dead.length;
          return stats;
        } finally {
          // Settled: nothing reads the ops' sources any more.
          built.release();
          writing.splice(writing.indexOf(entry), 1);
          finished();
        }
      });
    };
    /** Submit everything, deferred writes included, and wait until it is written. */
    const flushAll = async (toSeq: number) => {
      await submit(toSeq);
      while (deferred.size > 0) {
        await Promise.race(writing.map((w) => w.done));
        await submit(toSeq);
      }
      await pipeline.drain();
    };
    /** Write `op`, its source joined from `parts` (default: `op.source`). */
    const push = async (
      op: DocOp,
      seq: number,
      parts: readonly (string | Uint8Array)[] = sourceParts(op),
    ) => {
      const key = `${op.projection}/${op.id}`;
      if (inFlight(key)) {
        // Rare: held until its flight ends, as bytes of its own.
        if (op.action === 'index')
          op.source = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
        deferred.set(key, op);
        return;
      }
      deferred.delete(key);
      add(key, op, parts);
      if (batch.length >= batchDocs || body.bytes >= BATCH_BYTES) await submit(seq);
    };
    const unreadable = (item: Extract<ReplayItem, { kind: 'unreadable' }>) => {
      for (const projection of projections) {
        pendingDead.push({
          kind: 'unreadable',
          projection,
          index: indexOf(projection),
          seq: item.unreadable.seq,
          subject: item.unreadable.subject,
          reason: item.unreadable.reason,
          problems: item.unreadable.problems,
          at: new Date().toISOString(),
        });
      }
      progress.lastError = `unreadable event at ${item.unreadable.seq}: ${item.unreadable.reason}`;
    };

    /** Replay with retries: a NATS hiccup resumes after the last sequence handled. */
    async function* replayFrom(
      fromSeq: number,
      untilSeq: number | undefined,
      extra: Pick<ReplayOptions, 'entityType' | 'untilTime' | 'rawBodies'> = {},
    ): AsyncGenerator<ReplayItem> {
      let next = fromSeq;
      for (let attempt = 0; ; attempt++) {
        try {
          for await (const item of log.replay({ fromSeq: next, untilSeq, ...extra, signal: lockLost })) {
            next = (item.kind === 'event' ? item.stored.seq : item.unreadable.seq) + 1;
            yield item;
          }
          return;
        } catch (err) {
          if (!(err instanceof TransientError) || lockLost.aborted) throw err;
          logger?.warn({ err, next }, 'replay interrupted; resuming');
          progress.lastError = (err as Error).message;
          await sleep(backoffMs(attempt, 200, 5000), lockLost);
        }
      }
    }

    using engine = createProjectionEngine({ projections, loadArticle: createArticleLoader(log) });
    const state = engine.state;
    let unreadableCount = 0;

    // Scan: bylines and images first (a small share of the log), so their states are final.
    await enter('scan');
    const head = await log.head();
    progress.targetSeq = head.lastSeq;
    let position = 0;
    let positionTime: Date | undefined;
    const advance = (seq: number, time: Date) => {
      if (seq > position) {
        position = seq;
        positionTime = time;
      }
    };
    const take = (item: ReplayItem): boolean => {
      progress.events++;
      if (item.kind === 'event') {
        advance(item.stored.seq, item.stored.time);
        progress.seq = item.stored.seq;
        report();
        return true;
      }
      unreadableCount++;
      unreadable(item);
      advance(item.unreadable.seq, item.unreadable.time);
      return false;
    };
    const until = asOf ? { untilTime: asOf } : {};
    // Where each article's history ends, read without payloads, so each article is
    // written once, at its last event. Not for as-of (that needs the last event before
    // the time, not the last one), nor for a log that cannot tell: see below.
    const readLastSeqs = !asOf && articleIndexWanted() && log.lastSequences !== undefined;
    let lastSeqs: SequenceSet | undefined;
    // All at once: each is a server-side scan of the whole stream for its subjects, and
    // bylines, images and the articles' last sequences do not depend on each other.
    await Promise.all([
      ...(['byline', 'image'] as const).map(async (entityType) => {
        for await (const item of replayFrom(1, head.lastSeq, { entityType, ...until })) {
          if (take(item) && item.kind === 'event')
            engine.apply(item.stored.seq, item.stored.event, () => false);
        }
      }),
      readLastSeqs &&
        // An interrupted read is started over (see ContentLog.lastSequences).
        retrying(
          async () => {
            // Only this rebuild's range: a last event appended since is the catch-up's.
            const seqs = createSequenceSet(head.firstSeq, head.lastSeq);
            for await (const { seq } of log.lastSequences!('article', { signal: lockLost })) seqs.add(seq);
            lastSeqs = seqs;
          },
          {
            signal: lockLost,
            initialMs: 200,
            maxMs: 5000,
          },
        ),
    ]);

    // Write: stream the articles, rendered with the final bylines and images.
    //
    // With the articles' last sequences (the usual case) an article is written once, at its
    // last event: its final document, with its final version. An article whose last event
    // came after H1 is written by the catch-up, which applies that event.
    //
    // Without them (as-of), each article is written at each of its events, so its last
    // write is its final document; only revisions cost an extra write. Those intermediate
    // renders mix the article's past with its references' future, so their versions are
    // not monotonic (a revision that drops a byline renamed later gets a lower version
    // than the render before it): they are written without a version check, last write
    // wins, with the writes of one document kept in order (`push`/`submit`). Every later
    // write (catch-up, live) carries a version above H1 and the usual external check.
    //
    // Either way fan-out never happens during a rebuild and no article is read back.
    await enter('write');
    await creating;
    logger?.info({ indexes: [...created.values()].map((c) => c.index) }, 'created new indexes');
    const articleIndex = created.has('articles') ? indexOf('articles') : undefined;
    /** Articles whose last message is unreadable: rendered from their last readable event afterwards. */
    const unreadableLast = new Set<string>();
    for await (const item of replayFrom(1, head.lastSeq, {
      entityType: 'article',
      ...until,
      rawBodies: articleIndex !== undefined,
    })) {
      if (!take(item)) {
        if (item.kind === 'unreadable' && lastSeqs) {
          const parsed = parseSubject(names, item.unreadable.subject);
          if (parsed && lastSeqs.has(item.unreadable.seq)) unreadableLast.add(parsed.id);
        }
        continue;
      }
      if (item.kind !== 'event') continue;
      const { seq, event } = item.stored;
      const changes = engine.apply(seq, event, () => false);
      if (articleIndex === undefined) continue;
      if (changes.article && (!lastSeqs || lastSeqs.has(seq))) {
        const doc = state.renderArticle(changes.article)!;
        const { rawBody } = item.stored;
        await push(
          {
            projection: 'articles',
            index: articleIndex,
            id: doc.id,
            action: 'index',
            version: doc.lineage.asOfSeq,
            // Without the last sequences, every render is written, last write wins (see above).
            ...(lastSeqs ? {} : { versionType: 'internal' as const }),
          },
          seq,
          // The body as stored, its bytes copied, when the read left it undecoded.
          rawBody ? [docJsonHead(doc), rawBody, '}'] : [docJson(doc)],
        );
      } else if (!lastSeqs) {
        const record = state.article(event.entityId)!;
        // Undo what an earlier event of this article wrote.
        if (record.retracted && record.revisions > 0) {
          await push(
            {
              projection: 'articles',
              index: articleIndex,
              id: record.id,
              action: 'delete',
              version: record.lastSeq,
              versionType: 'internal',
            },
            seq,
          );
        }
      }
    }
    lastSeqs = undefined;
    if (unreadableLast.size > 0) {
      // Rare: read those articles' last readable event back from the log.
      engine.queue('articles', unreadableLast);
      const rendered = await retrying(() => engine.render(indexOf, lockLost), {
        signal: lockLost,
      });
      pendingDead.push(...rendered.failures);
      for (const op of rendered.ops) await push(op, position);
    }
    const builtTo = position;
    logger?.info({ seq: builtTo, events: progress.events, state: state.stats() }, 'articles written');
    progress.targetSeq = builtTo;
    for (const projection of ['bylines', 'images'] as const) {
      if (!created.has(projection)) continue;
      const index = indexOf(projection);
      for (const [id] of state.expectedDocs(projection)) {
        const doc = projection === 'bylines' ? state.renderByline(id) : state.renderImage(id);
        if (!doc) continue;
        await push(
          {
            projection,
            index,
            id,
            action: 'index',
            version: doc.lineage.asOfSeq,
            source: JSON.stringify(doc),
          },
          builtTo,
        );
      }
    }
    await flushAll(builtTo);

    // Catch up with what was appended meanwhile (not for as-of: that archive is fixed in time).
    let articlesLoaded = 0;
    const catchUp = async () => {
      for await (const item of replayFrom(position + 1, undefined)) {
        if (item.kind === 'event') {
          engine.apply(item.stored.seq, item.stored.event);
          position = item.stored.seq;
          positionTime = item.stored.time;
        } else {
          unreadableCount++;
          unreadable(item);
          position = item.unreadable.seq;
          positionTime = item.unreadable.time;
        }
        progress.events++;
        progress.seq = position;
        report();
        if (engine.queued >= batchDocs) await renderAndSubmit();
      }
      await renderAndSubmit();
      await flushAll(position);
    };
    const renderAndSubmit = async () => {
      if (engine.queued === 0 && pendingDead.length === 0) return;
      const rendered = await retrying(() => engine.render(indexOf, lockLost), {
        signal: lockLost,
      });
      articlesLoaded += rendered.loaded;
      pendingDead.push(...rendered.failures);
      for (const op of rendered.ops) await push(op, position);
      await submit(position);
    };

    if (!asOf) {
      await enter('catch-up');
      for (let round = 0; round < 20; round++) {
        const now = await log.head();
        progress.targetSeq = now.lastSeq;
        if (now.lastSeq - position <= (options.catchUpLag ?? 1000)) break;
        await catchUp();
      }
    }
    const allIndexes = [...created.values()].map((c) => c.index);
    await Promise.all(
      allIndexes.map((index) =>
        applyLiveSettings(client, index, options.live ?? DEFAULT_LIVE_SETTINGS, lockLost),
      ),
    );
    if (!asOf) {
      const now = await log.head();
      progress.targetSeq = now.lastSeq;
      await catchUp();
    }
    await refresh(client, allIndexes.join(','), lockLost);

    await enter('verify');
    const verifications = await Promise.all(
      [...created].map(([projection, { index }]) =>
        verifyIndex(client, index, () => state.expectedDocs(projection), lockLost),
      ),
    );
    if (verifications.some((v) => !v.ok)) {
      logger?.error({ verifications }, 'verification failed; aliases unchanged');
      throw new VerificationError(verifications);
    }

    await enter('swap');
    const results: ReindexedIndex[] = [];
    const seq = position;
    const time = positionTime?.toISOString();
    if (asOf) {
      for (const [projection, { index, meta }] of created) {
        await setIndexMeta(client, index, { ...meta, state: 'asof', builtToSeq: seq }, lockLost);
        results.push({
          projection,
          index,
          previous: [],
          deleted: deletedStale.get(projection) ?? [],
          verification: verifications.find((v) => v.index === index)!,
        });
      }
    } else {
      const previous = new Map<ProjectionName, string[]>();
      await Promise.all(
        [...created.values()].map(({ index, meta }) =>
          setIndexMeta(client, index, { ...meta, state: 'ready', builtToSeq: seq }, lockLost),
        ),
      );
      for (const [projection, { index }] of created) {
        await checkpoints.put({
          index,
          projection,
          seq,
          visibleSeq: seq,
          time,
          updatedAt: new Date().toISOString(),
        });
        previous.set(projection, await aliasTargets(client, names.alias(projection), lockLost));
      }
      // All aliases in one call: searches see the old set of indexes or the new one, never a mix.
      const actions = [...created].flatMap(([projection, { index }]) => [
        {
          remove: {
            index: `${names.indexPrefix(projection)}*`,
            alias: names.alias(projection),
            must_exist: false,
          },
        },
        { add: { index, alias: names.alias(projection) } },
      ]);
      await retryingEs(() => client.indices.updateAliases({ actions }), {
        signal: lockLost,
        deadlineMs: 60_000,
      });
      for (const [projection, { index }] of created) {
        const now = await aliasTargets(client, names.alias(projection), lockLost);
        if (now.length !== 1 || now[0] !== index) {
          throw new PresslogError(
            `alias ${names.alias(projection)} points at ${now.join(', ') || 'nothing'} after the swap to ${index}`,
          );
        }
        await checkpoints.setPointer({ projection, index, since: new Date().toISOString() });
      }
      logger?.info({ seq, indexes: [...created.values()].map((c) => c.index) }, 'aliases swapped');
      for (const [projection, { index }] of created) {
        const deleted = await pruneOld({
          ...options,
          projection,
          current: index,
          keep,
          previous: previous.get(projection) ?? [],
        });
        results.push({
          projection,
          index,
          alias: names.alias(projection),
          previous: previous.get(projection) ?? [],
          deleted: [...(deletedStale.get(projection) ?? []), ...deleted],
          verification: verifications.find((v) => v.index === index)!,
        });
      }
    }
    let snapshot: SnapshotInfo | undefined;
    if (options.snapshots && !asOf) {
      await enter('snapshot');
      // A cache for the live projector: failing to save it fails nothing.
      try {
        const name = snapshotName(projections);
        const [existing, head] = await Promise.all([options.snapshots.info(name), log.head()]);
        const newer =
          existing !== undefined &&
          existing.streamCreated === head.created?.toISOString() &&
          existing.position >= state.position;
        if (!newer) snapshot = await options.snapshots.save(name, state, head);
      } catch (err) {
        logger?.warn({ err }, 'cannot save the state snapshot');
      }
    }
    await enter('done');
    const usage = process.resourceUsage();
    return {
      indexes: results,
      seq,
      ...(asOf ? { asOf: asOf.toISOString() } : {}),
      events: progress.events,
      unreadable: unreadableCount,
      docsWritten: totals.indexed + totals.deleted,
      stats: totals,
      articlesLoaded,
      durationMs: Date.now() - started,
      phasesMs,
      peakRssByPhase,
      state: state.stats(),
      peakRssBytes: Math.max(peakRss, usage.maxRSS * 1024),
      cpuMs: cpuMs(process.cpuUsage(cpuAtStart)),
      ...(snapshot ? { snapshot } : {}),
    };
  } finally {
    clearInterval(liveLagTimer);
    await Promise.all(locks.map((l) => l.release()));
  }
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return Math.round((usage.user + usage.system) / 1000);
}

/** Delete old ready indexes of a projection beyond the newest `keep`; with keep 0, after the live projector left. */
async function pruneOld(options: {
  client: Client;
  names: Names;
  checkpoints: CheckpointStore;
  leaseBucket: KV;
  projection: ProjectionName;
  current: string;
  keep: number;
  previous: string[];
  handoverWaitMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
}): Promise<string[]> {
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
  // The live projector may still be writing its last batch to the index it is leaving.
  for (;;) {
    const holder = await readLease(options.leaseBucket, projectLeaseKey(projection));
    const writing = indexBeingWritten(holder, projection);
    const alive = holder !== undefined;
    if (!alive || !writing || !doomed.includes(writing) || Date.now() > deadline) break;
    await sleep(200, options.signal);
  }
  await deleteIndexes(client, doomed, options.signal);
  for (const index of doomed) await options.checkpoints.delete(index).catch(() => {});
  options.logger?.info({ projection, deleted: doomed }, 'deleted old indexes');
  return doomed;
}

/** Result of {@link rollback}. */
export interface RollbackResult {
  projection: ProjectionName;
  alias: string;
  from: string[];
  to: string;
}

/**
 * Point a projection's alias back at an earlier index (the newest one before the current
 * one, or `to`). The live projector follows and catches that index up from its checkpoint.
 */
export async function rollback(
  options: Pick<ProjectionClients, 'client' | 'names' | 'checkpoints' | 'leaseBucket'> & {
    projection: ProjectionName;
    /** The index to roll back to (default: the newest earlier ready index). */
    to?: string;
    signal?: AbortSignal;
    logger?: Logger;
  },
): Promise<RollbackResult> {
  const { client, names, projection } = options;
  const lock = createLease({
    kv: options.leaseBucket,
    key: reindexLeaseKey(projection),
    purpose: `rollback of ${projection}`,
  });
  await lock.acquire({ signal: options.signal });
  try {
    const alias = names.alias(projection);
    const current = await aliasTargets(client, alias, options.signal);
    const all = await listProjectionIndexes(client, names, projection, options.signal);
    const candidates = all
      .filter((info) => !current.includes(info.name) && info.meta?.state === 'ready')
      .sort((a, b) => b.createdMs - a.createdMs);
    const to = options.to ?? candidates[0]?.name;
    if (!to)
      throw new PresslogError(
        `no earlier index of ${projection} to roll back to (kept indexes: none; see --keep)`,
      );
    if (!all.some((info) => info.name === to && info.meta?.state === 'ready')) {
      throw new PresslogError(`${to} is not a complete index of ${projection}`);
    }
    await retryingEs(
      () =>
        client.indices.updateAliases({
          actions: [
            { remove: { index: `${names.indexPrefix(projection)}*`, alias, must_exist: false } },
            { add: { index: to, alias } },
          ],
        }),
      { signal: options.signal, deadlineMs: 60_000 },
    );
    await options.checkpoints.setPointer({ projection, index: to, since: new Date().toISOString() });
    options.logger?.info({ projection, from: current, to }, 'alias rolled back');
    return { projection, alias, from: current, to };
  } finally {
    await lock.release();
  }
}
