import { setImmediate } from 'node:timers/promises';
import type { ContentEvent } from '../../schemas/catalog.ts';
import type { ArticleDoc, BylineDoc, ImageDoc } from '../../schemas/documents.ts';
import { canonicalJson } from '../../schemas/eventId.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import { type ArticleState, applyEvent, type BylineState, type ImageState } from '../../schemas/state.ts';
import { embedImage, projectArticle } from '../articles/projectArticle.ts';
import { projectByline } from '../bylines/projectByline.ts';
import { projectImage } from '../images/projectImage.ts';
import { type ArticleFacts, createArticleTable } from './articleTable.ts';
import type { PageFileStats } from './storage/pageFile.ts';
import { createRecordFile, type RecordFileOptions } from './storage/recordFile.ts';
import { createSlotLists, type SlotLists } from './storage/slotLists.ts';

/**
 * What the projection state keeps of an article: everything fan-out and the byline and
 * image statistics need, but not the body, headline or tags. Bodies are the bulk of the
 * log (2-20 KB an article); keeping them would make the state as big as the archive.
 * An article re-projected by fan-out reads its fields back from the log (the event at
 * `lastSeq`, which for an unretracted article always carries the full state).
 */
export interface ArticleRecord extends ArticleFacts {
  readonly id: string;
  bylineIds: readonly string[];
  imageIds: readonly string[];
}

interface RefEntry {
  readonly id: string;
  /** Its number in the article table's references, and where its state is in its record file. */
  readonly slot: number;
  /**
   * Sequence of the entity's last event (its state's `lastSeq`); 0 while the entity is
   * only known from references to it (a dangling reference) and has no state.
   */
  lastSeq: number;
  /** Sequence of the event that last changed what articles embed of the entity. */
  embedSeq: number;
  /** Sequence of the last article event that changed the entity's article statistics. */
  statsSeq: number;
}

interface BylineEntry extends RefEntry {
  liveCount: number;
  latestMs: number | undefined;
  /** The article holding `latestMs` left or moved earlier: recompute on next use. */
  latestStale: boolean;
}

interface ImageEntry extends RefEntry {
  /** Its state says the image was removed. */
  removed: boolean;
}

/** The documents one event may have changed, per projection. */
export interface Changes {
  articles: string[];
  images: string[];
  bylines: string[];
  /** The article's full state after its own event (body included), unless it is retracted. */
  article?: ArticleState;
}

/**
 * One record of a saved state (see `snapshot.ts`), compact and JSON-ready: a byline or
 * image entry (its latest state, null while only referenced, and its bookkeeping), or an
 * article record. The reverse references are not saved: they follow from the articles.
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
}

/** Thrown by {@link restoreProjectionState} for a record it cannot take. */
export class StateRecordError extends Error {
  override name = 'StateRecordError';
}

const NO_IDS: readonly string[] = Object.freeze([]);

function unique(ids: readonly string[]): readonly string[] {
  if (ids.length === 0) return NO_IDS;
  return ids.length === 1 || new Set(ids).size === ids.length ? ids : [...new Set(ids)];
}

export interface ProjectionStateOptions {
  /**
   * Where and how the byline and image states are kept (see recordFile.ts). Without
   * `cacheEntries`, bylines get {@link BYLINE_CACHE_ENTRIES} and images the record file's
   * default (8,192).
   */
  stateFiles?: RecordFileOptions;
}

/**
 * Byline states are small (a name and a bio: ~150 bytes as JSON in the benchmark's log,
 * against ~1.2 KB for a processed image with its renditions), and an article references
 * one or two of them, so they get a cache four times the images': the 1M benchmark's
 * 10,000 bylines no longer collide in 8,192 places (rendering its first 400,000 articles
 * read 82,261 byline states back from the file, of 221,339 state reads; now none).
 */
const BYLINE_CACHE_ENTRIES = 32_768;

/** Create an empty projection state. */
export function createProjectionState(options: ProjectionStateOptions = {}): ProjectionState {
  return createState(0, options).state;
}

/**
 * A projection state rebuilt from saved records (see {@link ProjectionState.records}) at
 * `position`: the same state the replay up to `position` built, without the replay.
 */
export async function restoreProjectionState(
  position: number,
  records: AsyncIterable<StateRecord> | Iterable<StateRecord>,
  options: ProjectionStateOptions = {},
): Promise<ProjectionState> {
  const { state, restore } = createState(position, options);
  let count = 0;
  for await (const record of records) {
    restore(record);
    // Records already buffered arrive as one long chain of resolved promises: let timers
    // and I/O in now and then, or a million records starve the lease renewals (seen: a
    // 16 s restore lost its projector's leases).
    if (++count % 5000 === 0) await setImmediate();
  }
  return state;
}

function createState(
  initialPosition: number,
  options: ProjectionStateOptions,
): {
  state: ProjectionState;
  restore: (record: StateRecord) => void;
} {
  const table = createArticleTable();
  // The bylines' and images' latest states, by entry slot, out of the heap (see recordFile.ts).
  const bylineStates = createRecordFile<BylineState>({
    cacheEntries: BYLINE_CACHE_ENTRIES,
    ...options.stateFiles,
  });
  const imageStates = createRecordFile<ImageState>(options.stateFiles);
  // The reverse references, by entry slot: the slots of the articles whose current fields
  // reference the byline or image (retracted ones included).
  const bylineArticles = createSlotLists();
  const imageArticles = createSlotLists();
  const bylines = new Map<string, BylineEntry>();
  const images = new Map<string, ImageEntry>();
  const bylineAt: BylineEntry[] = [];
  const imageAt: ImageEntry[] = [];
  let position = initialPosition;

  function bylineEntry(id: string): BylineEntry {
    let entry = bylines.get(id);
    if (!entry) {
      entry = {
        id,
        slot: bylineAt.length,
        lastSeq: 0,
        embedSeq: 0,
        statsSeq: 0,
        liveCount: 0,
        latestMs: undefined,
        latestStale: false,
      };
      bylines.set(id, entry);
      bylineAt.push(entry);
    }
    return entry;
  }

  function imageEntry(id: string): ImageEntry {
    let entry = images.get(id);
    if (!entry) {
      entry = {
        id,
        slot: imageAt.length,
        lastSeq: 0,
        removed: false,
        embedSeq: 0,
        statsSeq: 0,
      };
      images.set(id, entry);
      imageAt.push(entry);
    }
    return entry;
  }

  const bylineState = (entry: BylineEntry | undefined) =>
    entry && entry.lastSeq > 0 ? bylineStates.get(entry.slot) : undefined;
  const imageState = (entry: ImageEntry | undefined) =>
    entry && entry.lastSeq > 0 ? imageStates.get(entry.slot) : undefined;

  function setBylineState(entry: BylineEntry, state: BylineState): void {
    bylineStates.set(entry.slot, state);
    entry.lastSeq = state.lastSeq;
  }

  function setImageState(entry: ImageEntry, state: ImageState): void {
    imageStates.set(entry.slot, state);
    entry.lastSeq = state.lastSeq;
    entry.removed = state.removed;
  }

  function liveMembers(lists: SlotLists, entry: RefEntry): string[] {
    const out: string[] = [];
    for (const slot of lists.members(entry.slot)) if (!table.retracted(slot)) out.push(table.id(slot));
    return out;
  }

  /** The article's record as an object (a copy: the table holds it in columns). */
  function recordAt(slot: number): ArticleRecord {
    return {
      id: table.id(slot),
      firstSeq: table.firstSeq(slot),
      lastSeq: table.lastSeq(slot),
      events: table.events(slot),
      revisions: table.revisions(slot),
      retracted: table.retracted(slot),
      publishedAtMs: table.publishedAtMs(slot),
      bylineIds: Array.from(table.bylines(slot), (s) => bylineAt[s]!.id),
      imageIds: Array.from(table.images(slot), (s) => imageAt[s]!.id),
    };
  }

  function articleRecord(id: string): ArticleRecord | undefined {
    const slot = table.slotOf(id);
    return slot === undefined ? undefined : recordAt(slot);
  }

  /** Store a record; creates the entries it references (bylines first, then images). */
  function setArticle(record: ArticleRecord): number {
    const slot = table.intern(record.id);
    storeRow(slot, record, record.bylineIds.map(bylineEntry), record.imageIds.map(imageEntry));
    return slot;
  }

  /** Write an article's row, its references as the slots of their entries. */
  function storeRow(
    slot: number,
    record: ArticleRecord,
    bylineRefs: readonly BylineEntry[],
    imageRefs: readonly ImageEntry[],
  ): void {
    table.set(slot, {
      firstSeq: record.firstSeq,
      lastSeq: record.lastSeq,
      events: record.events,
      revisions: record.revisions,
      retracted: record.retracted,
      publishedAtMs: record.publishedAtMs,
      bylines: bylineRefs.map((entry) => entry.slot),
      images: imageRefs.map((entry) => entry.slot),
    });
  }

  /** The article state `applyEvent` needs as "previous": provenance is real, fields only fill the type. */
  function pseudoState(record: ArticleRecord): ArticleState {
    return {
      entityType: 'article',
      id: record.id,
      fields: {
        headline: '-',
        body: '',
        publishedAt: new Date(record.publishedAtMs).toISOString(),
        bylineIds: [...record.bylineIds],
        imageIds: [...record.imageIds],
        tags: [],
      },
      retracted: record.retracted,
      firstSeq: record.firstSeq,
      lastSeq: record.lastSeq,
      updatedAt: '',
      events: record.events,
    };
  }

  function applyArticle(seq: number, event: ContentEvent): Changes {
    const id = event.entityId;
    const known = table.slotOf(id);
    const prev = known === undefined ? undefined : recordAt(known);
    const full = applyEvent(prev ? pseudoState(prev) : undefined, event, seq) as ArticleState;
    const carriesFields = event.type === 'ArticlePublished' || event.type === 'ArticleRevised';
    const record: ArticleRecord = {
      id: prev?.id ?? id,
      firstSeq: full.firstSeq,
      lastSeq: full.lastSeq,
      events: full.events,
      revisions: (prev?.revisions ?? 0) + (carriesFields ? 1 : 0),
      retracted: full.retracted,
      publishedAtMs: carriesFields || !prev ? Date.parse(full.fields.publishedAt) : prev.publishedAtMs,
      bylineIds: carriesFields || !prev ? unique(full.fields.bylineIds) : prev.bylineIds,
      imageIds: carriesFields || !prev ? unique(full.fields.imageIds) : prev.imageIds,
    };
    // Entries of the references, created when new (bylines first, then images, as `setArticle`).
    const bylineRefs = record.bylineIds.map(bylineEntry);
    const imageRefs = record.imageIds.map(imageEntry);
    const slot = known ?? table.intern(id);
    storeRow(slot, record, bylineRefs, imageRefs);

    const isLive = !record.retracted;
    const changes: Changes = { articles: [record.id], images: [], bylines: [] };

    if (!prev) {
      // A new article (most events of a rebuild): every reference is added, none removed.
      for (const entry of bylineRefs) {
        bylineArticles.add(entry.slot, slot);
        if (!isLive) continue;
        entry.statsSeq = seq;
        entry.liveCount++;
        if (!entry.latestStale && (entry.latestMs === undefined || record.publishedAtMs > entry.latestMs)) {
          entry.latestMs = record.publishedAtMs;
        }
        changes.bylines.push(entry.id);
      }
      for (const entry of imageRefs) {
        imageArticles.add(entry.slot, slot);
        if (!isLive) continue;
        entry.statsSeq = seq;
        changes.images.push(entry.id);
      }
      if (isLive) changes.article = full;
      return changes;
    }

    const wasLive = !prev.retracted;
    const oldBylines = prev.bylineIds;
    for (const bylineId of new Set([...oldBylines, ...record.bylineIds])) {
      const was = wasLive && oldBylines.includes(bylineId);
      const is = isLive && record.bylineIds.includes(bylineId);
      const entry = bylineEntry(bylineId);
      if (record.bylineIds.includes(bylineId)) bylineArticles.add(entry.slot, slot);
      else bylineArticles.delete(entry.slot, slot);
      const moved = was && is && prev.publishedAtMs !== record.publishedAtMs;
      if (was === is && !moved) {
        continue;
      }
      entry.statsSeq = seq;
      if (was && !is) entry.liveCount--;
      if (!was && is) entry.liveCount++;
      if (
        was &&
        entry.latestMs === prev.publishedAtMs &&
        (!is || record.publishedAtMs < prev.publishedAtMs)
      ) {
        entry.latestStale = true;
      }
      if (
        is &&
        !entry.latestStale &&
        (entry.latestMs === undefined || record.publishedAtMs > entry.latestMs)
      ) {
        entry.latestMs = record.publishedAtMs;
      }
      changes.bylines.push(bylineId);
    }

    const oldImages = prev.imageIds;
    for (const imageId of new Set([...oldImages, ...record.imageIds])) {
      const was = wasLive && oldImages.includes(imageId);
      const is = isLive && record.imageIds.includes(imageId);
      const entry = imageEntry(imageId);
      if (record.imageIds.includes(imageId)) imageArticles.add(entry.slot, slot);
      else imageArticles.delete(entry.slot, slot);
      if (was === is) {
        continue;
      }
      entry.statsSeq = seq;
      changes.images.push(imageId);
    }

    if (isLive) changes.article = full;
    return changes;
  }

  function applyByline(seq: number, event: ContentEvent): Changes {
    const entry = bylineEntry(event.entityId);
    const previous = bylineState(entry);
    const next = applyEvent(previous, event, seq) as BylineState;
    setBylineState(entry, next);
    const changes: Changes = { articles: [], images: [], bylines: [next.id] };
    if (!previous || next.fields.name !== previous.fields.name) {
      entry.embedSeq = seq;
      changes.articles = liveMembers(bylineArticles, entry);
    }
    return changes;
  }

  function applyImage(seq: number, event: ContentEvent): Changes {
    const entry = imageEntry(event.entityId);
    const previous = imageState(entry);
    const next = applyEvent(previous, event, seq) as ImageState;
    setImageState(entry, next);
    const changes: Changes = { articles: [], images: [next.id], bylines: [] };
    if (
      !previous ||
      canonicalJson(embedImage(next.id, next)) !== canonicalJson(embedImage(previous.id, previous))
    ) {
      entry.embedSeq = seq;
      changes.articles = liveMembers(imageArticles, entry);
    }
    return changes;
  }

  function latestOf(entry: BylineEntry): number | undefined {
    if (entry.latestStale) {
      let latest: number | undefined;
      for (const slot of bylineArticles.members(entry.slot)) {
        const publishedAtMs = table.publishedAtMs(slot);
        if (!table.retracted(slot) && (latest === undefined || publishedAtMs > latest)) {
          latest = publishedAtMs;
        }
      }
      entry.latestMs = latest;
      entry.latestStale = false;
    }
    return entry.latestMs;
  }

  function articleVersion(slot: number): number {
    let version = table.lastSeq(slot);
    for (const s of table.bylines(slot)) {
      const entry = bylineAt[s]!;
      if (entry.lastSeq > 0 && entry.embedSeq > version) version = entry.embedSeq;
    }
    for (const s of table.images(slot)) {
      const entry = imageAt[s]!;
      if (entry.lastSeq > 0 && entry.embedSeq > version) version = entry.embedSeq;
    }
    return version;
  }

  function versionOf(projection: ProjectionName, id: string): number | undefined {
    switch (projection) {
      case 'articles': {
        const slot = table.slotOf(id);
        return slot !== undefined && !table.retracted(slot) ? articleVersion(slot) : undefined;
      }
      case 'images': {
        const entry = images.get(id);
        return entry && entry.lastSeq > 0 && !entry.removed
          ? Math.max(entry.lastSeq, entry.statsSeq)
          : undefined;
      }
      case 'bylines': {
        const entry = bylines.get(id);
        return entry && entry.lastSeq > 0 ? Math.max(entry.lastSeq, entry.statsSeq) : undefined;
      }
    }
  }

  function restore(record: StateRecord) {
    const ids = (list: unknown) =>
      Array.isArray(list) && list.every((id) => typeof id === 'string') ? (list as string[]) : undefined;
    switch (record[0]) {
      case 'b': {
        const [, id, saved, embedSeq, statsSeq, liveCount, latestMs, latestStale] = record;
        const entry = bylineEntry(id);
        if (saved) setBylineState(entry, saved);
        Object.assign(entry, {
          embedSeq,
          statsSeq,
          liveCount,
          latestMs: latestMs ?? undefined,
          latestStale,
        });
        return;
      }
      case 'i': {
        const [, id, saved, embedSeq, statsSeq] = record;
        const entry = imageEntry(id);
        if (saved) setImageState(entry, saved);
        Object.assign(entry, { embedSeq, statsSeq });
        return;
      }
      case 'a': {
        const [, id, firstSeq, lastSeq, events, revisions, retracted, publishedAtMs] = record;
        const bylineIds = ids(record[8]);
        const imageIds = ids(record[9]);
        if (typeof id !== 'string' || !bylineIds || !imageIds || typeof lastSeq !== 'number') {
          throw new StateRecordError(`malformed article record ${JSON.stringify(record).slice(0, 200)}`);
        }
        const slot = setArticle({
          id,
          firstSeq,
          lastSeq,
          events,
          revisions,
          retracted,
          publishedAtMs,
          bylineIds: unique(bylineIds),
          imageIds: unique(imageIds),
        });
        for (const bylineId of bylineIds) bylineArticles.add(bylineEntry(bylineId).slot, slot);
        for (const imageId of imageIds) imageArticles.add(imageEntry(imageId).slot, slot);
        return;
      }
      default:
        throw new StateRecordError(`unknown state record ${JSON.stringify(record).slice(0, 200)}`);
    }
  }

  const state: ProjectionState = {
    apply(seq, event) {
      position = Math.max(position, seq);
      switch (event.entityType) {
        case 'article':
          return applyArticle(seq, event);
        case 'byline':
          return applyByline(seq, event);
        case 'image':
          return applyImage(seq, event);
      }
    },
    get position() {
      return position;
    },
    article: articleRecord,
    byline: (id) => bylineState(bylines.get(id)),
    image: (id) => imageState(images.get(id)),
    articleStateFrom(record, event) {
      if (event.type !== 'ArticlePublished' && event.type !== 'ArticleRevised') {
        throw new TypeError(
          `article ${record.id}: event at ${record.lastSeq} is ${event.type}, not a full state`,
        );
      }
      return {
        entityType: 'article',
        id: record.id,
        fields: event.payload,
        retracted: false,
        firstSeq: record.firstSeq,
        lastSeq: record.lastSeq,
        updatedAt: event.occurredAt,
        events: record.events,
      };
    },
    renderArticle(state) {
      const slot = table.slotOf(state.id);
      return projectArticle(state, {
        revisions: slot === undefined ? 0 : table.revisions(slot),
        byline(id) {
          const entry = bylines.get(id);
          const state = bylineState(entry);
          return state ? { state, seq: entry!.embedSeq } : undefined;
        },
        image(id) {
          const entry = images.get(id);
          const state = imageState(entry);
          return state ? { state, seq: entry!.embedSeq } : undefined;
        },
      });
    },
    renderImage(id) {
      const entry = images.get(id);
      const state = imageState(entry);
      if (!state) return undefined;
      return projectImage(state, {
        articleIds: liveMembers(imageArticles, entry!),
        articlesSeq: entry!.statsSeq,
      });
    },
    renderByline(id) {
      const entry = bylines.get(id);
      const state = bylineState(entry);
      if (!entry || !state) return undefined;
      return projectByline(state, {
        articleCount: entry.liveCount,
        latestArticleMs: latestOf(entry),
        statsSeq: entry.statsSeq,
      });
    },
    versionOf,
    *expectedDocs(projection) {
      if (projection === 'articles') {
        for (let slot = 0; slot < table.size; slot++) {
          if (!table.retracted(slot)) yield [table.id(slot), articleVersion(slot), table.lastSeq(slot)];
        }
        return;
      }
      for (const [id, entry] of projection === 'images' ? images : bylines) {
        const version = versionOf(projection, id);
        if (version !== undefined) yield [id, version, entry.lastSeq];
      }
    },
    *articleIds() {
      for (let slot = 0; slot < table.size; slot++) if (!table.retracted(slot)) yield table.id(slot);
    },
    stats() {
      const references = bylineArticles.total + imageArticles.total;
      const files = [bylineStates.stats(), imageStates.stats()];
      const sum = (key: 'liveBytes' | 'fileBytes' | 'cachedBytes') => files[0]![key] + files[1]![key];
      return {
        articles: table.size,
        bylines: bylines.size,
        images: images.size,
        references,
        stateBytes: { live: sum('liveBytes'), file: sum('fileBytes'), cached: sum('cachedBytes') },
        stateReads: { bylines: files[0]!.reads, images: files[1]!.reads },
        articlePages: table.stats(),
      };
    },
    *records() {
      for (const [id, e] of bylines) {
        yield [
          'b',
          id,
          (e.lastSeq > 0 && bylineStates.peek(e.slot)) || null,
          e.embedSeq,
          e.statsSeq,
          e.liveCount,
          e.latestMs ?? null,
          e.latestStale,
        ];
      }
      for (const [id, e] of images) {
        yield ['i', id, (e.lastSeq > 0 && imageStates.peek(e.slot)) || null, e.embedSeq, e.statsSeq];
      }
      for (let slot = 0; slot < table.size; slot++) {
        const r = recordAt(slot);
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
    },
  };
  return { state, restore };
}
