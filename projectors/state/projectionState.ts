import { setImmediate } from 'node:timers/promises';
import type { ContentEvent } from '../../schemas/catalog.ts';
import type { ArticleDoc, BylineDoc, ImageDoc } from '../../schemas/documents.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import type { ArticleState, BylineState, ImageState } from '../../schemas/state.ts';
import { projectArticle } from '../articles/projectArticle.ts';
import { projectByline } from '../bylines/projectByline.ts';
import { projectImage } from '../images/projectImage.ts';
import { type ArticleEvent, applyArticle, articleRecordAt, articleStateFrom } from './articlePath.ts';
import { createArticleTable } from './articleTable.ts';
import { applyByline, applyImage, latestOf, liveMembers } from './fanOut.ts';
import { createRefStates } from './refStates.ts';
import type { ArticleRecord, Changes, StateContext } from './stateContext.ts';
import { mergeRecord, restoreRecord, type StateRecord, stateRecords } from './stateRecords.ts';
import type { PageFileStats } from './storage/pageFile.ts';
import type { RecordFileOptions } from './storage/recordFile.ts';
import { createSlotLists } from './storage/slotLists.ts';

export type { ArticleRecord, Changes } from './stateContext.ts';
export { type StateRecord, StateRecordError } from './stateRecords.ts';

/** Sizes of the state, for memory accounting. */
export interface StateStats {
  articles: number;
  bylines: number;
  images: number;
  /** Article → byline/image reference pairs held in the reverse indexes. */
  references: number;
  /** Byline and image states: bytes of the current ones, written to their files (garbage included), and cached in memory. */
  stateBytes: { live: number; file: number; cached: number };
  /** Byline and image states read back from their files (cache misses), per type. */
  stateReads: { bylines: number; images: number };
  /** The article table's pages: cached, read from and written to its file (rows and references). */
  articlePages: { rows: PageFileStats; refs: PageFileStats };
}

/**
 * The state all three projections share, fed by one pass over the log: the latest state
 * of every byline and image, a compact record of every article, reverse references
 * (byline → articles, image → articles) for fan-out, and per-byline statistics. It is a
 * pure function of the log prefix applied, which is what lets a live projector rebuild
 * it on start by replaying, and a reindex reproduce the live documents exactly. Only the
 * order within each entity type matters: applying all bylines and images first and then
 * the articles (in stream order) ends in the same state, which a rebuild relies on.
 *
 * It holds temporary files (the article table's pages, the byline and image states):
 * whoever creates or restores one closes it. Every method but `close` throws once closed.
 */
export interface ProjectionState {
  /** Apply the event stored at `seq`; returns the documents whose content may have changed. */
  apply(seq: number, event: ContentEvent): Changes;
  /** Highest sequence applied (0 before the first). */
  readonly position: number;
  article(id: string): ArticleRecord | undefined;
  byline(id: string): BylineState | undefined;
  image(id: string): ImageState | undefined;
  /**
   * The article's full state rebuilt from its record and the event stored at
   * `record.lastSeq` (which must be a Published/Revised event: the article is not retracted).
   */
  articleStateFrom(record: ArticleRecord, event: ContentEvent): ArticleState;
  renderArticle(state: ArticleState): ArticleDoc | null;
  /** The image's document; null when removed, undefined while the image is only referenced. */
  renderImage(id: string): ImageDoc | null | undefined;
  /** The byline's document; undefined while the byline is only referenced. */
  renderByline(id: string): BylineDoc | undefined;
  /** The version (`lineage.asOfSeq`) the document of `id` has at this position, or undefined when there is none. */
  versionOf(projection: ProjectionName, id: string): number | undefined;
  /** Every document the projection holds at this position, as (id, `lineage.asOfSeq`, `lineage.ownSeq`). */
  expectedDocs(projection: ProjectionName): Iterable<[string, number, number]>;
  /** Unretracted article ids, in insertion order (for a final render). */
  articleIds(): Iterable<string>;
  stats(): StateStats;
  /** The state as records, bylines and images first (for a snapshot). */
  records(): Iterable<StateRecord>;
  /**
   * Merge the records of one partition of a partitioned rebuild, whose state was built
   * from this state's scan plus a disjoint share of the articles up to `position` (see
   * `mergeRecord`).
   */
  mergePartition(
    records: AsyncIterable<StateRecord> | Iterable<StateRecord>,
    position: number,
  ): Promise<void>;
  /** Close the state's files (idempotent). */
  close(): void;
}

export interface ProjectionStateOptions {
  /**
   * Where and how the byline and image states are kept (see recordFile.ts). Without
   * `cacheEntries`, bylines get `BYLINE_CACHE_ENTRIES` (refStates.ts) and images the
   * record file's default (8,192).
   */
  stateFiles?: RecordFileOptions;
}

/** Create an empty projection state. */
export function createProjectionState(options: ProjectionStateOptions = {}): ProjectionState {
  return createState(0, options).state;
}

/**
 * A projection state rebuilt from saved records (see {@link ProjectionState.records}) at
 * `position`: the same state the replay up to `position` built, without the replay.
 * When a record cannot be taken, the state built so far is closed and the error thrown.
 */
export async function restoreProjectionState(
  position: number,
  records: AsyncIterable<StateRecord> | Iterable<StateRecord>,
  options: ProjectionStateOptions = {},
): Promise<ProjectionState> {
  const { state, ctx } = createState(position, options);
  try {
    let count = 0;
    for await (const record of records) {
      restoreRecord(ctx, record);
      // Records already buffered arrive as one long chain of resolved promises: let timers
      // and I/O in now and then, or a million records starve the lease renewals (seen: a
      // 16 s restore lost its projector's leases).
      if (++count % 5000 === 0) await setImmediate();
    }
  } catch (err) {
    state.close();
    throw err;
  }
  return state;
}

/** The version of an article's document: its own last event, or a later change to what it embeds. */
function articleVersion(ctx: StateContext, slot: number): number {
  const { table, refs } = ctx;
  let version = table.lastSeq(slot);
  for (const s of table.bylines(slot)) {
    const entry = refs.bylineAt[s]!;
    if (entry.lastSeq > 0 && entry.embedSeq > version) version = entry.embedSeq;
  }
  for (const s of table.images(slot)) {
    const entry = refs.imageAt[s]!;
    if (entry.lastSeq > 0 && entry.embedSeq > version) version = entry.embedSeq;
  }
  return version;
}

function versionOf(ctx: StateContext, projection: ProjectionName, id: string): number | undefined {
  switch (projection) {
    case 'articles': {
      const slot = ctx.table.slotOf(id);
      return slot !== undefined && !ctx.table.retracted(slot) ? articleVersion(ctx, slot) : undefined;
    }
    case 'images': {
      const entry = ctx.refs.images.get(id);
      return entry && entry.lastSeq > 0 && !entry.removed
        ? Math.max(entry.lastSeq, entry.statsSeq)
        : undefined;
    }
    case 'bylines': {
      const entry = ctx.refs.bylines.get(id);
      return entry && entry.lastSeq > 0 ? Math.max(entry.lastSeq, entry.statsSeq) : undefined;
    }
  }
}

function* expectedDocs(ctx: StateContext, projection: ProjectionName): Generator<[string, number, number]> {
  const { table, refs } = ctx;
  if (projection === 'articles') {
    for (let slot = 0; slot < table.size; slot++) {
      if (!table.retracted(slot)) yield [table.id(slot), articleVersion(ctx, slot), table.lastSeq(slot)];
    }
    return;
  }
  for (const [id, entry] of projection === 'images' ? refs.images : refs.bylines) {
    const version = versionOf(ctx, projection, id);
    if (version !== undefined) yield [id, version, entry.lastSeq];
  }
}

function stats(ctx: StateContext): StateStats {
  const { refs } = ctx;
  const files = [refs.bylineStates.stats(), refs.imageStates.stats()] as const;
  const sum = (key: 'liveBytes' | 'fileBytes' | 'cachedBytes') => files[0][key] + files[1][key];
  return {
    articles: ctx.table.size,
    bylines: refs.bylines.size,
    images: refs.images.size,
    references: ctx.bylineArticles.total + ctx.imageArticles.total,
    stateBytes: { live: sum('liveBytes'), file: sum('fileBytes'), cached: sum('cachedBytes') },
    stateReads: { bylines: files[0].reads, images: files[1].reads },
    articlePages: ctx.table.stats(),
  };
}

function renderArticle(ctx: StateContext, full: ArticleState): ArticleDoc | null {
  const { table, refs } = ctx;
  const slot = table.slotOf(full.id);
  return projectArticle(full, {
    revisions: slot === undefined ? 0 : table.revisions(slot),
    byline(id) {
      const entry = refs.bylines.get(id);
      const state = refs.bylineState(entry);
      return state ? { state, seq: entry!.embedSeq } : undefined;
    },
    image(id) {
      const entry = refs.images.get(id);
      const state = refs.imageState(entry);
      return state ? { state, seq: entry!.embedSeq } : undefined;
    },
  });
}

function renderImage(ctx: StateContext, id: string): ImageDoc | null | undefined {
  const entry = ctx.refs.images.get(id);
  const state = ctx.refs.imageState(entry);
  if (!entry || !state) return undefined;
  return projectImage(state, {
    articleIds: liveMembers(ctx, ctx.imageArticles, entry),
    articlesSeq: entry.statsSeq,
  });
}

function renderByline(ctx: StateContext, id: string): BylineDoc | undefined {
  const entry = ctx.refs.bylines.get(id);
  const state = ctx.refs.bylineState(entry);
  if (!entry || !state) return undefined;
  return projectByline(state, {
    articleCount: entry.liveCount,
    latestArticleMs: latestOf(ctx, entry),
    statsSeq: entry.statsSeq,
  });
}

function createState(
  initialPosition: number,
  options: ProjectionStateOptions,
): { state: ProjectionState; ctx: StateContext } {
  const ctx: StateContext = {
    table: createArticleTable(),
    refs: createRefStates(options.stateFiles),
    bylineArticles: createSlotLists(),
    imageArticles: createSlotLists(),
  };
  const { table, refs } = ctx;
  let position = initialPosition;
  let closed = false;
  const open = () => {
    if (closed) throw new Error('projection state is closed');
  };

  // Over 80 lines, but one guard-and-delegate method per member of the interface.
  const state: ProjectionState = {
    apply(seq, event) {
      open();
      position = Math.max(position, seq);
      switch (event.entityType) {
        case 'article':
          // A redaction's record changes nothing projected; the restatement after it does.
          if (event.type === 'ArticleHistoryErased') return { articles: [], images: [], bylines: [] };
          return applyArticle(ctx, seq, event as ArticleEvent);
        case 'byline':
          return applyByline(ctx, seq, event);
        case 'image':
          return applyImage(ctx, seq, event);
      }
    },
    get position() {
      return position;
    },
    article(id) {
      open();
      const slot = table.slotOf(id);
      return slot === undefined ? undefined : articleRecordAt(ctx, slot);
    },
    byline(id) {
      open();
      return refs.bylineState(refs.bylines.get(id));
    },
    image(id) {
      open();
      return refs.imageState(refs.images.get(id));
    },
    articleStateFrom,
    renderArticle(full) {
      open();
      return renderArticle(ctx, full);
    },
    renderImage(id) {
      open();
      return renderImage(ctx, id);
    },
    renderByline(id) {
      open();
      return renderByline(ctx, id);
    },
    versionOf(projection, id) {
      open();
      return versionOf(ctx, projection, id);
    },
    expectedDocs(projection) {
      open();
      return expectedDocs(ctx, projection);
    },
    *articleIds() {
      open();
      for (let slot = 0; slot < table.size; slot++) if (!table.retracted(slot)) yield table.id(slot);
    },
    stats() {
      open();
      return stats(ctx);
    },
    records() {
      open();
      return stateRecords(ctx);
    },
    async mergePartition(records, upTo) {
      open();
      let count = 0;
      for await (const record of records) {
        mergeRecord(ctx, record);
        // As in a restore: let timers (lease renewals) and I/O in now and then.
        if (++count % 5000 === 0) await setImmediate();
      }
      position = Math.max(position, upTo);
    },
    close() {
      if (closed) return;
      closed = true;
      table.close();
      refs.close();
    },
  };
  return { state, ctx };
}
