import type { BylineState, ImageState } from '../../schemas/state.ts';
import { articleRecordAt } from './articlePath.ts';
import { type StateContext, unique } from './stateContext.ts';

/**
 * One record of a saved state (see `stateSnapshots.ts`), compact and JSON-ready: a byline
 * or image entry (its latest state, null while only referenced, and its bookkeeping), or
 * an article record. The reverse references are not saved: they follow from the articles.
 */
export type StateRecord =
  | [
      kind: 'b',
      id: string,
      state: BylineState | null,
      embedSeq: number,
      statsSeq: number,
      liveCount: number,
      latestMs: number | null,
      latestStale: boolean,
    ]
  | [kind: 'i', id: string, state: ImageState | null, embedSeq: number, statsSeq: number]
  | [
      kind: 'a',
      id: string,
      firstSeq: number,
      lastSeq: number,
      events: number,
      revisions: number,
      retracted: boolean,
      publishedAtMs: number,
      bylineIds: readonly string[],
      imageIds: readonly string[],
    ];

/** Thrown when restoring a record the state cannot take. */
export class StateRecordError extends Error {
  override name = 'StateRecordError';
}

/** The state as records, bylines and images first (for a snapshot). */
export function* stateRecords(ctx: StateContext): Generator<StateRecord> {
  const { refs, table } = ctx;
  for (const [id, e] of refs.bylines) {
    const state = (e.lastSeq > 0 && refs.bylineStates.peek(e.slot)) || null;
    yield ['b', id, state, e.embedSeq, e.statsSeq, e.liveCount, e.latestMs ?? null, e.latestStale];
  }
  for (const [id, e] of refs.images) {
    yield ['i', id, (e.lastSeq > 0 && refs.imageStates.peek(e.slot)) || null, e.embedSeq, e.statsSeq];
  }
  for (let slot = 0; slot < table.size; slot++) {
    const r = articleRecordAt(ctx, slot);
    yield [
      'a',
      r.id,
      r.firstSeq,
      r.lastSeq,
      r.events,
      r.revisions,
      r.retracted,
      r.publishedAtMs,
      r.bylineIds,
      r.imageIds,
    ];
  }
}

const idList = (list: unknown) =>
  Array.isArray(list) && list.every((id) => typeof id === 'string') ? (list as string[]) : undefined;

/** Take one saved record back into the state (records in the order {@link stateRecords} gives them). */
export function restoreRecord(ctx: StateContext, record: StateRecord): void {
  const { refs, table } = ctx;
  switch (record[0]) {
    case 'b': {
      const [, id, saved, embedSeq, statsSeq, liveCount, latestMs, latestStale] = record;
      const entry = refs.bylineEntry(id);
      if (saved) refs.setBylineState(entry, saved);
      Object.assign(entry, { embedSeq, statsSeq, liveCount, latestMs: latestMs ?? undefined, latestStale });
      return;
    }
    case 'i': {
      const [, id, saved, embedSeq, statsSeq] = record;
      const entry = refs.imageEntry(id);
      if (saved) refs.setImageState(entry, saved);
      Object.assign(entry, { embedSeq, statsSeq });
      return;
    }
    case 'a': {
      const [, id, firstSeq, lastSeq, events, revisions, retracted, publishedAtMs] = record;
      const bylineIds = idList(record[8]);
      const imageIds = idList(record[9]);
      if (typeof id !== 'string' || !bylineIds || !imageIds || typeof lastSeq !== 'number') {
        throw new StateRecordError(`malformed article record ${JSON.stringify(record).slice(0, 200)}`);
      }
      const slot = table.intern(id);
      // Entries of the references, created when new: bylines first, then images.
      const bylines = unique(bylineIds).map((bylineId) => refs.bylineEntry(bylineId).slot);
      const images = unique(imageIds).map((imageId) => refs.imageEntry(imageId).slot);
      table.set(slot, { firstSeq, lastSeq, events, revisions, retracted, publishedAtMs, bylines, images });
      for (const s of bylines) ctx.bylineArticles.add(s, slot);
      for (const s of images) ctx.imageArticles.add(s, slot);
      return;
    }
    default:
      throw new StateRecordError(`unknown state record ${JSON.stringify(record).slice(0, 200)}`);
  }
}

/**
 * Take one record of a partition's state into a state built from the same scan (the
 * bylines and images replayed once, by the coordinator of a partitioned rebuild; see
 * `rebuild/partitions.ts`). The partitions hold disjoint sets of articles, so an article
 * record is restored as is; a byline's or image's state is the scan's in every partition,
 * and only the statistics its articles changed are merged (see {@link mergeBylineStats}).
 */
export function mergeRecord(ctx: StateContext, record: StateRecord): void {
  const { refs } = ctx;
  switch (record[0]) {
    case 'b': {
      const [, id, , , statsSeq, liveCount, latestMs, latestStale] = record;
      mergeBylineStats(refs.bylineEntry(id), {
        statsSeq,
        liveCount,
        latestMs: latestMs ?? undefined,
        latestStale,
      });
      return;
    }
    case 'i': {
      const entry = refs.imageEntry(record[1]);
      entry.statsSeq = Math.max(entry.statsSeq, record[4]);
      return;
    }
    default:
      restoreRecord(ctx, record);
  }
}

/** The statistics of a byline that its articles change (the rest of its entry comes from its own events). */
export interface BylineStats {
  statsSeq: number;
  liveCount: number;
  latestMs: number | undefined;
  latestStale: boolean;
}

/**
 * Add one partition's statistics of a byline to `into` (the merge so far, starting from
 * the scan's: no live article, statsSeq 0). Partitions hold disjoint articles, so:
 * live articles add up; the last sequence that changed the statistics is the highest of
 * the partitions'; the latest publication time is the highest, unless a partition could
 * not keep its own current (an article holding it left) — then the merged one is marked
 * stale too and recomputed on first use from the merged reverse references, which is
 * what a single replay would do.
 */
export function mergeBylineStats(into: BylineStats, from: BylineStats): void {
  into.statsSeq = Math.max(into.statsSeq, from.statsSeq);
  into.liveCount += from.liveCount;
  into.latestStale = into.latestStale || from.latestStale;
  if (from.latestMs !== undefined && (into.latestMs === undefined || from.latestMs > into.latestMs))
    into.latestMs = from.latestMs;
}
