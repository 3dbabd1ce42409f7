import type { ContentEvent, EventOf } from '../../schemas/catalog.ts';
import type { ArticleState } from '../../schemas/state.ts';
import type { ArticleFacts, ArticleTable } from './articleTable.ts';
import { updateReferences } from './fanOut.ts';
import { type ArticleRecord, type Changes, type StateContext, unique } from './stateContext.ts';

export type ArticleEvent = EventOf<
  'ArticlePublished' | 'ArticleRevised' | 'ArticleRetracted' | 'ArticleErased'
>;

/** What one article event makes of an article's row. */
export interface ArticleFold {
  facts: ArticleFacts;
  /** The references the event sets (without repeats), or undefined when it keeps the row's. */
  refs: { bylineIds: readonly string[]; imageIds: readonly string[] } | undefined;
  /** The article's full state (body included) when the event carries it: Published/Revised. */
  state: ArticleState | undefined;
}

/**
 * Fold an article event into the article's row (`prev`, undefined for an article never
 * seen): pure, and only over the numbers the row keeps. The same result as
 * `applyEvent` over the article's full state, which the row does not have: a
 * Published/Revised event carries every field, and a retraction changes none but its
 * provenance (a first event that is a retraction gets no references, and its time as
 * its publication time, as `applyEvent`'s placeholder state has).
 */
export function foldArticle(
  id: string,
  prev: ArticleFacts | undefined,
  event: ArticleEvent,
  seq: number,
): ArticleFold {
  const firstSeq = prev ? prev.firstSeq : seq;
  const events = prev ? prev.events + 1 : 1;
  // An erasure takes the article out of the index as a retraction does (its content is
  // gone from the log; the row never held any).
  if (event.type === 'ArticleRetracted' || event.type === 'ArticleErased') {
    return {
      facts: {
        firstSeq,
        lastSeq: seq,
        events,
        revisions: prev ? prev.revisions : 0,
        retracted: true,
        publishedAtMs: prev ? prev.publishedAtMs : Date.parse(event.occurredAt),
      },
      refs: prev ? undefined : { bylineIds: unique([]), imageIds: unique([]) },
      state: undefined,
    };
  }
  const fields = event.payload;
  return {
    facts: {
      firstSeq,
      lastSeq: seq,
      events,
      revisions: (prev ? prev.revisions : 0) + 1,
      retracted: false,
      publishedAtMs: Date.parse(fields.publishedAt),
    },
    refs: { bylineIds: unique(fields.bylineIds), imageIds: unique(fields.imageIds) },
    state: {
      entityType: 'article',
      id,
      fields,
      retracted: false,
      firstSeq,
      lastSeq: seq,
      updatedAt: event.occurredAt,
      events,
    },
  };
}

/** The numbers of the article's row. */
export function factsAt(table: ArticleTable, slot: number): ArticleFacts {
  return {
    firstSeq: table.firstSeq(slot),
    lastSeq: table.lastSeq(slot),
    events: table.events(slot),
    revisions: table.revisions(slot),
    retracted: table.retracted(slot),
    publishedAtMs: table.publishedAtMs(slot),
  };
}

const NO_SLOTS = new Int32Array(0);

/** Apply an article event: fold it into the row, then update the references it changed. */
export function applyArticle(ctx: StateContext, seq: number, event: ArticleEvent): Changes {
  const { table, refs } = ctx;
  const id = event.entityId;
  const known = table.slotOf(id);
  const prev = known === undefined ? undefined : factsAt(table, known);
  const fold = foldArticle(id, prev, event, seq);
  // The references before (copies: the table's are views of its pages) and after, as
  // entry slots; new entries are created bylines first, then images (snapshots rely on it).
  const oldBylines = known === undefined ? NO_SLOTS : table.bylines(known).slice();
  const oldImages = known === undefined ? NO_SLOTS : table.images(known).slice();
  let newBylines = oldBylines;
  let newImages = oldImages;
  if (fold.refs) {
    newBylines = Int32Array.from(fold.refs.bylineIds, (bylineId) => refs.bylineEntry(bylineId).slot);
    newImages = Int32Array.from(fold.refs.imageIds, (imageId) => refs.imageEntry(imageId).slot);
  }
  const slot = known ?? table.intern(id);
  table.set(slot, { ...fold.facts, bylines: newBylines, images: newImages });

  const changes: Changes = { articles: [id], images: [], bylines: [] };
  const change = {
    slot,
    seq,
    wasLive: prev !== undefined && !prev.retracted,
    isLive: !fold.facts.retracted,
    fromMs: prev ? prev.publishedAtMs : fold.facts.publishedAtMs,
    toMs: fold.facts.publishedAtMs,
    oldBylines,
    newBylines,
    oldImages,
    newImages,
  };
  updateReferences(ctx, change, changes);
  if (fold.state) changes.article = fold.state;
  return changes;
}

/** The article's record as an object (a copy: the table holds it in columns). */
export function articleRecordAt(ctx: StateContext, slot: number): ArticleRecord {
  const { table, refs } = ctx;
  return {
    id: table.id(slot),
    ...factsAt(table, slot),
    bylineIds: Array.from(table.bylines(slot), (s) => refs.bylineAt[s]!.id),
    imageIds: Array.from(table.images(slot), (s) => refs.imageAt[s]!.id),
  };
}

/**
 * The article's full state rebuilt from its record and the event stored at
 * `record.lastSeq` (which must be a Published/Revised event: the article is not retracted).
 */
export function articleStateFrom(record: ArticleRecord, event: ContentEvent): ArticleState {
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
}
