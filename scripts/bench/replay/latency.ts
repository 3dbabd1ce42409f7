import { performance } from 'node:perf_hooks';
import type { Client } from '@elastic/elasticsearch';
import { createCheckpointStore } from '../../../log/checkpoints.ts';
import type { ContentLog } from '../../../log/types.ts';
import { openLeaseBucket } from '../../../projectors/lease.ts';
import { createProjector } from '../../../projectors/live/projector.ts';
import { createStateSnapshotStore } from '../../../projectors/state/stateSnapshots.ts';
import { createDeadLetterStore } from '../../../projectors/write/deadLetters.ts';
import { retryingEs } from '../../../projectors/write/esRetry.ts';
import type { ArticleFields } from '../../../schemas/articleEvents.ts';
import type { EventOf } from '../../../schemas/catalog.ts';
import { deriveEventId } from '../../../schemas/eventId.ts';
import { type Names, PROJECTION_NAMES } from '../../../schemas/names.ts';
import type { ReplayBenchOptions } from './types.ts';

export interface LatencyResult {
  /** Milliseconds append → searchable, sorted. */
  ours: number[];
  /** Milliseconds index + refresh → searchable, sorted. */
  ceiling: number[];
  startupSeconds: number;
  replaySeconds: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Milliseconds from `started` until `id` at `seq` is found in `index`, polling every 2 ms. */
async function searchable(es: Client, index: string, id: string, seq: number, started: number) {
  for (;;) {
    const response = await retryingEs(() =>
      es.count({
        index,
        query: { bool: { filter: [{ ids: { values: [id] } }, { term: { 'lineage.asOfSeq': seq } }] } },
      }),
    );
    if (response.count > 0) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The `i`th probe: a short article appended on its own. */
function latencyProbe(i: number, time: string): EventOf<'ArticlePublished'> {
  const id = `latency-${i}`;
  const payload: ArticleFields = {
    headline: `Latency probe ${i}`,
    body: 'A short article appended on its own to time how soon it can be found.',
    publishedAt: time,
    bylineIds: ['b-0'],
    imageIds: [],
    tags: [],
  };
  return {
    id: deriveEventId({
      type: 'ArticlePublished',
      entityType: 'article',
      entityId: id,
      payload,
      basisSeq: 0,
    }),
    type: 'ArticlePublished',
    version: 2,
    entityType: 'article',
    entityId: id,
    occurredAt: time,
    recordedAt: time,
    source: 'bench',
    payload,
  } as EventOf<'ArticlePublished'>;
}

/**
 * Ceiling: the probe's document written straight to Elasticsearch, then found the same
 * way (an index request followed by a refresh: the fastest way to make it searchable).
 */
async function ceilingProbe(
  es: Client,
  alias: string,
  ceilingId: string,
  probe: EventOf<'ArticlePublished'>,
  seq: number,
): Promise<number> {
  const direct = performance.now();
  const time = probe.occurredAt;
  const doc = {
    id: ceilingId,
    headline: probe.payload.headline,
    body: probe.payload.body,
    publishedAt: time,
    year: 2000,
    tags: [],
    bylines: [],
    images: [],
    revisions: 1,
    updatedAt: time,
    lineage: { asOfSeq: seq, ownSeq: seq, embeddedSeqs: {} },
  };
  await retryingEs(() =>
    es.index({ index: alias, id: ceilingId, document: doc, version: seq, version_type: 'external_gte' }),
  );
  await retryingEs(() => es.indices.refresh({ index: alias }));
  return searchable(es, alias, ceilingId, seq, direct);
}

/**
 * A live projector over the benchmark's log, started now; `caughtUpAt` is set the first
 * time it reports being caught up.
 */
async function startLiveProjector(options: ReplayBenchOptions, names: Names, log: ContentLog) {
  const { nc, es } = options;
  const checkpoints = createCheckpointStore({ nc, names });
  const leaseBucket = await openLeaseBucket(nc, names);
  const controller = new AbortController();
  const caught: { at?: number } = {};
  const projector = createProjector({
    log,
    client: es,
    checkpoints,
    leaseBucket,
    deadLetters: createDeadLetterStore({ client: es, names }),
    names,
    projections: PROJECTION_NAMES,
    // The reindex before left its state here, as `presslog reindex` does.
    snapshots: createStateSnapshotStore({ nc, names, logger: options.log }),
    idlePollMs: 10,
    batchDelayMs: 50,
    logger: options.log,
    onCaughtUp: () => {
      caught.at ??= performance.now();
    },
  });
  // The projector's start: restore its state from the snapshot the reindex saved (or,
  // without one, replay the whole log, writing nothing: its checkpoints are at the head).
  const startup = performance.now();
  const running = projector.run({ signal: controller.signal });
  return { projector, controller, running, startup, caught };
}

/** Append → searchable, one append at a time, with a live projector running. */
export async function measureLatency(
  options: ReplayBenchOptions,
  names: Names,
  log: ContentLog,
  samples: number,
): Promise<LatencyResult> {
  const { es } = options;
  const live = await startLiveProjector(options, names, log);
  const ours: number[] = [];
  let startupSeconds = 0;
  const ceiling: number[] = [];
  const alias = names.alias('articles');
  // The ceiling writes into the same live index (behind the alias), under ids no event
  // uses, so it pays the refresh and the search of the index ours is found in (at 1M,
  // ~800,000 documents), not of an empty one. Its documents are deleted after.
  const ceilingIds: string[] = [];
  try {
    // Let the projector start and catch up before timing anything.
    const head = await log.head();
    options.log?.debug(
      { head: head.lastSeq },
      'waiting for the live projector to restore or rebuild its state',
    );
    while (live.caught.at === undefined) {
      options.signal?.throwIfAborted();
      await Promise.race([live.running, new Promise((resolve) => setTimeout(resolve, 5))]);
    }
    startupSeconds = (live.caught.at - live.startup) / 1000;
    for (let i = 0; i < samples; i++) {
      options.signal?.throwIfAborted();
      const probe = latencyProbe(i, new Date().toISOString());
      const started = performance.now();
      const stats = await log.append([{ event: probe }]);
      ours.push(await searchable(es, alias, probe.entityId, stats.lastSeq, started));
      const ceilingId = `latency-ceiling-${i}`;
      ceilingIds.push(ceilingId);
      ceiling.push(await ceilingProbe(es, alias, ceilingId, probe, stats.lastSeq));
    }
  } finally {
    live.controller.abort();
    await live.running.catch(() => {});
    await live.projector.close();
    // A bulk delete: the integration-test distribution has no `_delete_by_query`.
    if (ceilingIds.length > 0)
      await es.bulk({
        operations: ceilingIds.map((id) => ({ delete: { _index: alias, _id: id } })),
        refresh: true,
      });
  }
  const replaySeconds = await bareReplaySeconds(options, log);
  return {
    ours: ours.sort((a, b) => a - b),
    ceiling: ceiling.sort((a, b) => a - b),
    startupSeconds,
    replaySeconds,
  };
}

/** Ceiling of the start-up: reading the same log with nothing done per event. */
async function bareReplaySeconds(options: ReplayBenchOptions, log: ContentLog): Promise<number> {
  const replayStarted = performance.now();
  let replayed = 0;
  for await (const item of log.replay()) if (item.kind === 'event') replayed++;
  const replaySeconds = (performance.now() - replayStarted) / 1000;
  options.log?.debug({ replayed }, 'raw replay done');
  return replaySeconds;
}
