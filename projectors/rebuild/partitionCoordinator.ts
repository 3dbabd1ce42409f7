import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { KV } from '@nats-io/kv';
import { lineageCheck } from '../lineage.ts';
import type { StateSnapshotStore } from '../state/stateSnapshots.ts';
import { addBulkStats } from '../write/bulkWriter.ts';
import {
  attemptKey,
  CURRENT_KEY,
  doneKey,
  failedKey,
  getJson,
  type PartitionDone,
  PartitionError,
  planKey,
  type RebuildPlan,
  runPartitionWorker,
} from './partitions.ts';
import { indexOf, type RebuildContext } from './rebuildContext.ts';
import type { ScanResult } from './scan.ts';
import { checksumOf, createChecksum } from './verify.ts';
import { writeReferences } from './write.ts';

/**
 * The coordinator's side of a partitioned rebuild (`reindex all --partitions K`; the plan,
 * the workers and the keys they share are in `partitions.ts`): it publishes the plan,
 * starts the workers, waits for every partition (writing the open ones itself when no
 * worker is left), merges their states and writes the byline and image documents once.
 */

/** How the coordinator starts a worker process (the CLI: `presslog reindex --join <id>`). */
export type SpawnWorker = (rebuildId: string, partitions: number) => ChildProcess;

export interface PartitionedWriteOptions {
  partitions: number;
  spawnWorker: SpawnWorker;
  snapshots: StateSnapshotStore;
}

/**
 * The coordinator's write phase of a partitioned rebuild (see `partitions.ts`): the
 * articles by K workers, merged, then bylines and images from the merged state.
 */
export async function writePartitioned(
  ctx: RebuildContext,
  scanned: ScanResult,
  creating: Promise<void>,
  options: PartitionedWriteOptions,
): Promise<{ rebuildId: string; partitions: PartitionDone[] }> {
  const { leaseBucket: kv } = ctx.options;
  const { snapshots, partitions: k } = options;
  const logger = ctx.logger?.child({ component: 'partitioned-write' });
  await creating;
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const created = ctx.created.get('articles')!;
  const scanState = `rebuild.${id}.scan`;
  await snapshots.save(scanState, ctx.engine.state, scanned.head);
  scanned.lastSeqs = undefined;
  const plan: RebuildPlan = {
    id,
    partitions: k,
    index: indexOf(ctx, 'articles'),
    meta: created.meta,
    head: { firstSeq: scanned.head.firstSeq, lastSeq: scanned.head.lastSeq },
    scanState,
    leaseTtlMs: ctx.options.leaseTtlMs ?? 15_000,
    batchDocs: ctx.options.batchDocs ?? 1000,
    maxInFlight: ctx.options.maxInFlight ?? 3,
    coordinator: { host: hostname(), pid: process.pid },
    createdAt: new Date().toISOString(),
  };
  await kv.put(planKey(id), JSON.stringify(plan));
  await kv.put(CURRENT_KEY, JSON.stringify(id));
  logger?.info(
    { rebuild: id, partitions: k, index: plan.index, head: plan.head.lastSeq },
    'partitioned write started',
  );
  const children = Array.from({ length: k }, () => options.spawnWorker(id, k));
  const exited = children.map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', (code, signal) => {
          if (code !== 0) logger?.warn({ pid: child.pid, code, signal }, 'a partition worker ended');
          resolve();
        });
        // Could not be started: its partitions are the others' (or the coordinator's).
        child.once('error', (err) => {
          logger?.error({ err }, 'a partition worker could not be started');
          resolve();
        });
      }),
  );
  let allExited = false;
  void Promise.all(exited).then(() => {
    allExited = true;
  });
  const dones: PartitionDone[] = [];
  try {
    for (;;) {
      ctx.signal.throwIfAborted();
      const failed = await getJson<string>(kv, failedKey(id));
      if (failed) throw new PartitionError(`partitioned write failed: ${failed}`);
      const found = await Promise.all(
        Array.from({ length: k }, (_, p) => getJson<PartitionDone>(kv, doneKey(id, p))),
      );
      const finished = found.filter((d): d is PartitionDone => d !== undefined);
      ctx.progress.current.docs = finished.reduce((n, d) => n + d.stats.indexed, ctx.totals.indexed);
      ctx.progress.report();
      if (finished.length === k) {
        dones.push(...finished);
        break;
      }
      if (allExited) {
        // Every worker it started is gone with partitions left (killed, or failed to
        // start): the coordinator takes them over itself.
        logger?.warn(
          { left: k - finished.length },
          'no worker left; the coordinator writes the open partitions',
        );
        await runPartitionWorker({ ...ctx.options, snapshots, rebuildId: id, signal: ctx.signal });
        continue;
      }
      await delay(250, undefined, { signal: ctx.signal });
    }
    // Merge the partitions' states into the coordinator's, in partition order.
    for (const done of dones.sort((a, b) => a.partition - b.partition)) {
      const { records } = await snapshots.readRecords(done.state);
      await ctx.engine.state.mergePartition(records, done.position);
      if (done.position > ctx.position) ctx.position = done.position;
      addBulkStats(ctx.totals, done.stats);
      ctx.progress.current.events += done.events;
      ctx.unreadable += done.unreadable;
    }
    // The merged state must expect exactly what the partitions wrote and checked.
    const merged = createChecksum();
    for (const [docId, asOfSeq, ownSeq] of ctx.engine.state.expectedDocs('articles'))
      merged.add(lineageCheck(docId, asOfSeq, ownSeq));
    const sums = dones.reduce((s, d) => ({ a: s.a + d.sums.a, b: s.b + d.sums.b, c: s.c + d.sums.c }), {
      a: 0,
      b: 0,
      c: 0,
    });
    const total = dones.reduce((n, d) => n + d.articles, 0);
    if (merged.count !== total || merged.value !== checksumOf(sums)) {
      throw new PartitionError(
        `merged state expects ${merged.count} articles (${merged.value}); the partitions wrote ${total} (${checksumOf(sums)})`,
      );
    }
    logger?.info(
      { rebuild: id, articles: total, takeovers: dones.filter((d) => d.attempt > 1).length },
      'partitions merged',
    );
    ctx.progress.current.targetSeq = ctx.position;
    await writeReferences(ctx, ctx.position);
    await ctx.batcher.flush(ctx.position);
    return { rebuildId: id, partitions: dones };
  } catch (err) {
    await kv.put(failedKey(id), JSON.stringify((err as Error).message)).catch(() => {});
    throw err;
  } finally {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([Promise.all(exited), delay(5000)]);
    await cleanUp(kv, snapshots, plan, dones).catch((err) =>
      logger?.warn({ err }, 'cleaning up the partition keys failed'),
    );
  }
}

/** Delete the plan, markers and saved states of a partitioned rebuild (its leases run out by themselves). */
async function cleanUp(kv: KV, snapshots: StateSnapshotStore, plan: RebuildPlan, dones: PartitionDone[]) {
  const { id } = plan;
  const current = await getJson<string>(kv, CURRENT_KEY);
  if (current === id) await kv.delete(CURRENT_KEY);
  await kv.delete(planKey(id));
  for (let p = 0; p < plan.partitions; p++) {
    const done = dones.find((d) => d.partition === p) ?? (await getJson<PartitionDone>(kv, doneKey(id, p)));
    if (done) await snapshots.remove(done.state);
    await kv.delete(doneKey(id, p));
    await kv.delete(attemptKey(id, p));
  }
  await kv.delete(failedKey(id));
  await snapshots.remove(plan.scanState);
}
