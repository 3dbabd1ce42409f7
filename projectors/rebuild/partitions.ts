import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { KV } from '@nats-io/kv';
import type { LogHead } from '../../log/types.ts';
import type { LineageCheck } from '../../schemas/documents.ts';
import { PresslogError } from '../../schemas/errors.ts';
import { parseSubject } from '../../schemas/names.ts';
import type { IndexMeta } from '../indexes.ts';
import { createLease, LeaseHeldError, type LeaseValue, readLease } from '../lease.ts';
import { lineageCheck } from '../lineage.ts';
import type { StateSnapshotStore } from '../state/stateSnapshots.ts';
import type { BulkStats } from '../write/bulkWriter.ts';
import { createRebuildContext } from './rebuildContext.ts';
import { createRebuildProgress } from './rebuildProgress.ts';
import { readLastSequences, type ScanResult } from './scan.ts';
import type { ReindexOptions } from './types.ts';
import { checksumOf, createChecksum, indexChecksum } from './verify.ts';
import { writeArticles, writeUnreadableLast } from './write.ts';

/**
 * Partitioned rebuild: the articles' write phase split over K worker processes by a
 * stable hash of the article id, coordinated through the lease bucket (NATS KV).
 *
 * The coordinator (the `reindex --partitions K` process) prepares the new indexes and
 * scans the bylines and images as usual, saves that state (`rebuild.<id>.scan` in the
 * state object store) and publishes a plan (`rebuild.<id>.plan`). Workers (K children it
 * starts, and any `reindex --join` from elsewhere) claim a partition with a lease
 * (`rebuild.<id>.p<i>`, renewed by heartbeat), restore the scanned state, replay the
 * articles up to the plan's head keeping those of their partition, write them into the
 * one new articles index, check the partition in the index (count and lineage checksum of
 * its ids, after a refresh), save their state and mark the partition done
 * (`rebuild.<id>.p<i>.done`, with counts and checksum). A worker that dies stops
 * renewing; once its lease runs out any worker, or the coordinator, claims the partition
 * and writes it again: writes are by document id with the same external version, so a
 * second write is a no-op conflict and nothing is lost or doubled.
 *
 * The coordinator merges the partitions' states into its own (disjoint articles; byline
 * statistics added up, see `mergeBylineStats`), writes the byline and image documents
 * once, and goes on exactly as a single rebuild: catch-up, verify against the merged
 * state, swap. The coordinator's code is in `partitionCoordinator.ts`; the plan, the keys
 * and the worker are here.
 */

/** FNV-1a (32-bit) of the UTF-8 bytes of `id`. */
export function fnv1a(id: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(id, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The partition of article `id` among `k`: a stable hash, the same on every host. */
export function partitionOf(id: string, k: number): number {
  return fnv1a(id) % k;
}

/** What a coordinator publishes for its workers. */
export interface RebuildPlan {
  id: string;
  partitions: number;
  index: string;
  meta: IndexMeta;
  /** The head H1 the write phase runs to. */
  head: { firstSeq: number; lastSeq: number };
  /** Name of the scanned state in the state object store. */
  scanState: string;
  leaseTtlMs: number;
  batchDocs: number;
  maxInFlight: number;
  coordinator: { host: string; pid: number };
  createdAt: string;
}

/** A partition's done marker. */
export interface PartitionDone {
  partition: number;
  /** Article documents the partition holds (its state's expected documents) and their checksum. */
  articles: number;
  checksum: string;
  sums: LineageCheck;
  /** Items of the write phase read, unreadable ones among the partition's, and what the writes did. */
  events: number;
  unreadable: number;
  stats: BulkStats;
  /** The highest sequence read (every item up to the head, all partitions'). */
  position: number;
  /** The partition's state in the state object store, for the coordinator to merge. */
  state: string;
  worker: string;
  host: string;
  pid: number;
  /** How many times the partition was claimed before this worker finished it (1: no takeover). */
  attempt: number;
  ms: number;
  cpuMs: number;
}

export const planKey = (id: string) => `rebuild.${id}.plan`;
export const claimKey = (id: string, p: number) => `rebuild.${id}.p${p}`;
export const doneKey = (id: string, p: number) => `rebuild.${id}.p${p}.done`;
export const attemptKey = (id: string, p: number) => `rebuild.${id}.p${p}.attempts`;
export const failedKey = (id: string) => `rebuild.${id}.failed`;
/** The partitioned rebuild running now (for `--join` without an id, and `status`). */
export const CURRENT_KEY = 'rebuild.current';

export async function getJson<T>(kv: KV, key: string): Promise<T | undefined> {
  const entry = await kv.get(key);
  return entry?.operation === 'PUT' && entry.length > 0 ? entry.json<T>() : undefined;
}

/** A partition worker or the coordinator gave up: the rebuild fails, the aliases stay. */
export class PartitionError extends PresslogError {
  override name = 'PartitionError';
}

/** What `status` shows of a partitioned rebuild. */
export interface PartitionedRebuildStatus {
  plan: RebuildPlan;
  partitions: {
    partition: number;
    claimedBy?: LeaseValue;
    done?: PartitionDone;
    attempts: number;
  }[];
  failed?: string;
}

/** The partitioned rebuild running now, with each partition's claim and done marker. */
export async function partitionedRebuildStatus(kv: KV): Promise<PartitionedRebuildStatus | undefined> {
  const id = await getJson<string>(kv, CURRENT_KEY).catch(() => undefined);
  const plan = id ? await getJson<RebuildPlan>(kv, planKey(id)).catch(() => undefined) : undefined;
  if (!id || !plan) return undefined;
  const partitions = await Promise.all(
    Array.from({ length: plan.partitions }, async (_, partition) => {
      const [claimedBy, done, attempts] = await Promise.all([
        readLease(kv, claimKey(id, partition)),
        getJson<PartitionDone>(kv, doneKey(id, partition)),
        getJson<number>(kv, attemptKey(id, partition)),
      ]);
      return {
        partition,
        ...(claimedBy ? { claimedBy } : {}),
        ...(done ? { done } : {}),
        attempts: attempts ?? 0,
      };
    }),
  );
  const failed = await getJson<string>(kv, failedKey(id));
  return { plan, partitions, ...(failed ? { failed } : {}) };
}

export interface PartitionWorkerOptions extends ReindexOptions {
  snapshots: StateSnapshotStore;
  /** The rebuild to join (default: the one running now). */
  rebuildId?: string;
  /** Partitions to take at most before returning (default: as many as are left). */
  maxPartitions?: number;
  /** Called when a partition is claimed (tests, the CLI's log). */
  onClaim?: (partition: number, attempt: number) => void;
}

export interface PartitionWorkerReport {
  rebuildId: string;
  partitions: PartitionDone[];
}

/**
 * Take unclaimed partitions of a running partitioned rebuild, one at a time, until none is
 * left (or `maxPartitions` are done). A partition claimed by another worker whose lease
 * runs out is taken over. Returns when every partition is done or the plan is gone (the
 * coordinator finished or failed); throws when a partition fails.
 */
export async function runPartitionWorker(options: PartitionWorkerOptions): Promise<PartitionWorkerReport> {
  const kv = options.leaseBucket;
  const signal = options.signal ?? new AbortController().signal;
  const rebuildId = options.rebuildId ?? (await getJson<string>(kv, CURRENT_KEY));
  if (!rebuildId) throw new PartitionError('no partitioned rebuild is running (nothing to join)');
  const logger = options.logger?.child({ component: 'partition-worker', rebuild: rebuildId });
  const done: PartitionDone[] = [];
  const max = options.maxPartitions ?? Number.POSITIVE_INFINITY;
  while (done.length < max) {
    signal.throwIfAborted();
    const plan = await getJson<RebuildPlan>(kv, planKey(rebuildId));
    if (!plan) {
      if (done.length === 0 && options.rebuildId)
        throw new PartitionError(`no partitioned rebuild ${rebuildId}`);
      break;
    }
    const failed = await getJson<string>(kv, failedKey(rebuildId));
    if (failed) throw new PartitionError(`rebuild ${rebuildId} failed: ${failed}`);
    let open = 0;
    let claimed = false;
    for (let p = 0; p < plan.partitions && !claimed; p++) {
      if (await getJson<PartitionDone>(kv, doneKey(rebuildId, p))) continue;
      open++;
      const lease = createLease({
        kv,
        key: claimKey(rebuildId, p),
        ttlMs: plan.leaseTtlMs,
        purpose: `partition ${p}/${plan.partitions} of rebuild ${rebuildId}`,
        ...(logger ? { logger } : {}),
      });
      try {
        await lease.acquire();
      } catch (err) {
        if (err instanceof LeaseHeldError) continue;
        throw err;
      }
      claimed = true;
      try {
        // Done by a worker that released its claim between our two reads.
        if (await getJson<PartitionDone>(kv, doneKey(rebuildId, p))) continue;
        const attempt = await countAttempt(kv, rebuildId, p);
        if (attempt > 1)
          logger?.warn({ partition: p, attempt }, 'taking over a partition whose worker stopped');
        options.onClaim?.(p, attempt);
        const result = await writePartition(
          options,
          plan,
          p,
          attempt,
          lease,
          AbortSignal.any([signal, lease.lost]),
        );
        await kv.put(doneKey(rebuildId, p), JSON.stringify(result));
        done.push(result);
        logger?.info({ partition: p, articles: result.articles, ms: result.ms }, 'partition done');
      } catch (err) {
        // Lost the claim (someone took it over) or told to stop: not the partition's fault.
        if (!signal.aborted && !lease.lost.aborted) {
          const message = `partition ${p}: ${(err as Error).message}`;
          await kv.put(failedKey(rebuildId), JSON.stringify(message)).catch(() => {});
        }
        throw err;
      } finally {
        await lease.release();
      }
    }
    if (open === 0) break;
    // Every open partition is claimed by a live worker: wait for them, or for a claim to run out.
    if (!claimed) await delay(Math.min(1000, Math.max(100, plan.leaseTtlMs / 3)), undefined, { signal });
  }
  return { rebuildId, partitions: done };
}

/** Count a claim of partition `p`; returns the attempt number (1: first claim). */
async function countAttempt(kv: KV, id: string, p: number): Promise<number> {
  for (;;) {
    const entry = await kv.get(attemptKey(id, p));
    const attempt = (entry?.operation === 'PUT' && entry.length > 0 ? entry.json<number>() : 0) + 1;
    try {
      if (entry && entry.operation === 'PUT')
        await kv.update(attemptKey(id, p), JSON.stringify(attempt), entry.revision);
      else await kv.create(attemptKey(id, p), JSON.stringify(attempt));
      return attempt;
    } catch {
      // Raced with another claim's count: read again.
    }
  }
}

/** How many times a partition is written before its check in the index is taken as failed. */
const PARTITION_WRITES = 2;

/** Write partition `p` of the plan into the new articles index, check it there, and save its state. */
async function writePartition(
  options: PartitionWorkerOptions,
  plan: RebuildPlan,
  p: number,
  attempt: number,
  lease: { setDetail(detail: Record<string, unknown>): void },
  signal: AbortSignal,
): Promise<PartitionDone> {
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  const logger = options.logger?.child({ component: 'partition', partition: p });
  const { log, snapshots } = options;
  const logHead = await log.head();
  const head: LogHead = { ...logHead, firstSeq: plan.head.firstSeq, lastSeq: plan.head.lastSeq };
  let lastDetail = 0;
  for (let write = 1; ; write++) {
    const loaded = await snapshots.load(plan.scanState, { maxPosition: plan.head.lastSeq, head: logHead });
    if (!loaded.state)
      throw new PartitionError(`cannot restore the scanned state ${plan.scanState}: ${loaded.reason}`);
    const progress = createRebuildProgress({
      ...(logger ? { logger } : {}),
      onProgress: (current) => {
        if (Date.now() - lastDetail < 1000) return;
        lastDetail = Date.now();
        lease.setDetail({
          partition: p,
          attempt,
          seq: current.seq,
          events: current.events,
          docs: current.docs,
        });
      },
    });
    const ctx = createRebuildContext(
      { ...options, projections: ['articles'], batchDocs: plan.batchDocs, maxInFlight: plan.maxInFlight },
      { signal, ...(logger ? { logger } : {}), progress, state: loaded.state },
    );
    try {
      ctx.created.set('articles', { index: plan.index, meta: plan.meta });
      ctx.progress.current.targetSeq = plan.head.lastSeq;
      const scanned: ScanResult = { head, lastSeqs: await readLastSequences(ctx, head) };
      const mine = (id: string) => partitionOf(id, plan.partitions) === p;
      const { names } = options;
      const unreadableLast = await writeArticles(ctx, scanned, {
        id: mine,
        // The same id `articleIdOf` reads from an unreadable item's subject.
        subject: (subject) => mine(parseSubject(names, subject)?.id ?? ''),
      });
      scanned.lastSeqs = undefined;
      await writeUnreadableLast(ctx, unreadableLast);
      await ctx.batcher.flush(ctx.position);
      // The partition as the index holds it, against what its state expects.
      const want = createChecksum();
      const ids: string[] = [];
      for (const [id, asOfSeq, ownSeq] of ctx.engine.state.expectedDocs('articles')) {
        want.add(lineageCheck(id, asOfSeq, ownSeq));
        ids.push(id);
      }
      const have = await partitionChecksum(options, plan.index, ids, signal);
      if (have.count === want.count && have.value === want.value) {
        const name = `rebuild.${plan.id}.p${p}.${randomBytes(4).toString('hex')}`;
        await snapshots.save(name, ctx.engine.state, logHead);
        const cpu = process.cpuUsage(cpuAtStart);
        return {
          partition: p,
          articles: want.count,
          checksum: want.value,
          sums: want.sums,
          events: ctx.progress.current.events,
          unreadable: ctx.unreadable,
          stats: ctx.totals,
          position: ctx.position,
          state: name,
          worker: `${hostname()}:${process.pid}`,
          host: hostname(),
          pid: process.pid,
          attempt,
          ms: Date.now() - started,
          cpuMs: Math.round((cpu.user + cpu.system) / 1000),
        };
      }
      const problem =
        `the index holds ${have.count} of the partition's ${want.count} article documents ` +
        `(checksum ${have.value}, expected ${want.value}; ${ctx.totals.deadLettered} dead-lettered)`;
      if (write >= PARTITION_WRITES)
        throw new PartitionError(`partition ${p} incomplete after ${write} writes: ${problem}`);
      logger?.warn({ partition: p, write }, `${problem}; writing the partition again`);
    } finally {
      ctx.engine.close();
    }
  }
}

/** Count and checksum of the documents of `ids` in `index`, after a refresh (ids in chunks). */
async function partitionChecksum(
  options: PartitionWorkerOptions,
  index: string,
  ids: readonly string[],
  signal: AbortSignal,
): Promise<{ count: number; value: string }> {
  const { client } = options;
  await client.indices.refresh({ index }, { signal });
  const sums = { a: 0, b: 0, c: 0 };
  let count = 0;
  const CHUNK = 10_000;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const part = await indexChecksum(client, index, signal, ids.slice(i, i + CHUNK));
    count += part.count;
    sums.a += part.sums.a;
    sums.b += part.sums.b;
    sums.c += part.sums.c;
  }
  return { count, value: checksumOf(sums) };
}
