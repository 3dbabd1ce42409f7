import { ConfigError } from '../../schemas/errors.ts';
import { catchUp } from './catchUp.ts';
import { writePartitioned } from './partitionCoordinator.ts';
import { prepare } from './prepare.ts';
import { createRebuildContext, type RebuildContext } from './rebuildContext.ts';
import { createRebuildLocks } from './rebuildLocks.ts';
import { createRebuildProgress, watchLiveLag } from './rebuildProgress.ts';
import { saveSnapshot } from './saveSnapshot.ts';
import { scan } from './scan.ts';
import { swap } from './swap.ts';
import type { ReindexOptions, ReindexReport } from './types.ts';
import { verifyBuilt } from './verifyBuilt.ts';
import { write } from './write.ts';

export type {
  ReindexedIndex,
  ReindexOptions,
  ReindexPhase,
  ReindexProgress,
  ReindexReport,
} from './types.ts';
export { VerificationError } from './verifyBuilt.ts';

/**
 * Rebuild projections from the whole log into new versioned indexes and swap the aliases.
 *
 * 1. Take the reindex lock of every projection (a second reindex is refused, naming the
 *    holder); delete stale partial indexes an interrupted run left behind.
 * 2. Create `<ns>-<projection>-<timestamp>` indexes with bulk settings (no refresh, no
 *    replicas, async translog).
 * 3. Scan: replay the byline and image subjects (a small share of the log) up to the
 *    head H1 into the projection state, so their states are final.
 * 4. Write: replay the article subjects up to H1 once; every article is written at its
 *    last event (as-of: at each of its events, last write wins), rendered with the final
 *    bylines and images, so it is written as its final document. No fan-out during a
 *    rebuild and no article read back: that is what lets a rebuild run close to the speed
 *    Elasticsearch takes documents. Then bylines and images from the state (write.ts).
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
 *
 * Each step is a function over a {@link RebuildContext}, in a file of its own.
 */
export async function reindex(options: ReindexOptions): Promise<ReindexReport> {
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  const signal = options.signal ?? new AbortController().signal;
  const logger = options.logger?.child({ component: 'reindex', projections: options.projections.join(',') });
  const progress = createRebuildProgress({
    logger,
    onProgress: options.onProgress,
    onPhase: options.onPhase,
  });
  const locks = createRebuildLocks(options, logger);
  const stopLiveLag = watchLiveLag(progress.current, options);
  let ctx: RebuildContext | undefined;
  try {
    for (const lock of locks) await lock.acquire({ wait: options.wait, signal, onWait: options.onWait });
    const lockLost = AbortSignal.any([signal, ...locks.map((l) => l.lost)]);
    ctx = createRebuildContext(options, { signal: lockLost, logger, progress });
    const { enter } = progress;

    const { creating } = await prepare(ctx);
    await enter('scan');
    const scanned = await scan(ctx);
    await enter('write');
    let partitioned: ReindexReport['partitioned'];
    if (options.partitions !== undefined && ctx.created.has('articles') && !ctx.asOf) {
      if (!options.snapshots || !options.spawnWorker)
        throw new ConfigError(
          'partitions',
          'a partitioned rebuild needs the state store and a way to start workers',
        );
      partitioned = await writePartitioned(ctx, scanned, creating, {
        partitions: options.partitions,
        snapshots: options.snapshots,
        spawnWorker: options.spawnWorker,
      });
    } else {
      await write(ctx, scanned, creating);
    }
    if (!ctx.asOf) await enter('catch-up');
    await catchUp(ctx);
    await enter('verify');
    const verifications = await verifyBuilt(ctx);
    await enter('swap');
    const indexes = await swap(ctx, verifications);
    const snapshotWanted = options.snapshots !== undefined && !ctx.asOf;
    if (snapshotWanted) await enter('snapshot');
    const snapshot = snapshotWanted ? await saveSnapshot(ctx) : undefined;
    await enter('done');
    return finalReport(ctx, {
      indexes,
      started,
      cpuAtStart,
      ...(snapshot ? { snapshot } : {}),
      ...(partitioned ? { partitioned } : {}),
    });
  } finally {
    stopLiveLag();
    ctx?.engine.close();
    await Promise.all(locks.map((l) => l.release()));
  }
}

function finalReport(
  ctx: RebuildContext,
  parts: Pick<ReindexReport, 'indexes' | 'snapshot' | 'partitioned'> & {
    started: number;
    cpuAtStart: NodeJS.CpuUsage;
  },
): ReindexReport {
  const { totals, progress, asOf } = ctx;
  const usage = process.resourceUsage();
  const cpu = process.cpuUsage(parts.cpuAtStart);
  return {
    indexes: parts.indexes,
    seq: ctx.position,
    ...(asOf ? { asOf: asOf.toISOString() } : {}),
    events: progress.current.events,
    unreadable: ctx.unreadable,
    docsWritten: totals.indexed + totals.deleted,
    stats: totals,
    articlesLoaded: ctx.articlesLoaded,
    durationMs: Date.now() - parts.started,
    phasesMs: progress.phasesMs,
    peakRssByPhase: progress.peakRssByPhase,
    state: ctx.engine.state.stats(),
    peakRssBytes: Math.max(progress.peakRss, usage.maxRSS * 1024),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    ...(parts.snapshot ? { snapshot: parts.snapshot } : {}),
    ...(parts.partitioned ? { partitioned: parts.partitioned } : {}),
  };
}
