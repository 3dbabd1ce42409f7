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
