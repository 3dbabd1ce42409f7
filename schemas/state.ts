import type { ArticleFields } from './articleEvents.ts';
import type { BylineFields } from './bylineEvents.ts';
import type { ContentEvent } from './catalog.ts';
import type { BlobRef, ImageProcessed, ImageProcessingFailed } from './imageEvents.ts';

/** Where a piece of state came from: the stream sequence and time of the event that set it. */
export interface Provenance {
  /** Sequence of the first event of the entity. */
  firstSeq: number;
  /** Sequence of the last event applied. */
  lastSeq: number;
  /** `occurredAt` of the last event applied. */
  updatedAt: string;
  /** Number of events applied. */
  events: number;
}

export interface ArticleState extends Provenance {
  entityType: 'article';
  id: string;
  fields: ArticleFields;
  retracted: boolean;
  retractReason?: string;
  /** Erased for good (`presslog erase`): no content left; out of every index like a retraction. */
  erasure?: Erasure;
}

/** What an erased item keeps: the erasure record (who, when, why), never the content. */
export interface Erasure {
  actor: string;
  reason: string;
  ticket?: string;
  publicNote?: string;
  /** `occurredAt` of the erasure. */
  at: string;
}

export interface BylineState extends Provenance {
  entityType: 'byline';
  id: string;
  fields: BylineFields;
  erasure?: Erasure;
}

export interface ImageState extends Provenance {
  entityType: 'image';
  id: string;
  caption?: string;
  credit?: string;
  fileName: string;
  original: BlobRef;
  /** Results of processing the current original; dropped when the original is replaced. */
  processed?: ImageProcessed['payload'] & { seq: number };
  failed?: ImageProcessingFailed['payload'] & { seq: number };
  removed: boolean;
  erasure?: Erasure;
}

export type EntityState = ArticleState | BylineState | ImageState;

function advance<S extends Provenance>(state: S, seq: number, event: ContentEvent): S {
  return { ...state, lastSeq: seq, updatedAt: event.occurredAt, events: state.events + 1 };
}

function start(seq: number, event: ContentEvent): Provenance {
  return { firstSeq: seq, lastSeq: seq, updatedAt: event.occurredAt, events: 1 };
}

/**
 * Apply one event to an entity's state (pure). Events every entity type carries
 * whole state (Published/Revised, Registered/Updated), so applying is replacing;
 * an event that does not fit the state (an update before any registration) still
 * yields a usable state rather than throwing, because the log is history, not a request.
 */
export function applyEvent(state: EntityState | undefined, event: ContentEvent, seq: number): EntityState {
  switch (event.type) {
    case 'ArticlePublished':
    case 'ArticleRevised':
    case 'ArticleRetracted':
      return applyArticleEvent(state, event, seq);
    case 'BylineRegistered':
    case 'BylineUpdated':
      return applyBylineEvent(state, event, seq);
    case 'ImageSubmitted':
    case 'ImageUpdated':
      return applyImageFileEvent(state, event, seq);
    case 'ImageProcessed':
    case 'ImageProcessingFailed':
    case 'ImageRemoved':
      return applyImageOutcomeEvent(state, event, seq);
    case 'ArticleErased':
    case 'ImageErased':
    case 'BylineErased':
      return applyErasure(state, event, seq);
    case 'ArticleHistoryErased':
      // A record only: the restatement that follows it carries the state.
      return state
        ? advance(state, seq, event)
        : applyErasure(state, { ...event, type: 'ArticleErased' }, seq);
  }
}

/** The placeholder for an erased item's name, wherever a name must be shown. */
export const ERASED_NAME = '(erased)';

/**
 * An erasure leaves the item's provenance and the erasure record, and drops every field
 * of content: an erased article is out of the index like a retracted one, an erased image
 * like a removed one (articles keep the bare id), an erased byline keeps a placeholder name
 * (articles embed only its id).
 */
function applyErasure(
  state: EntityState | undefined,
  event: Extract<ContentEvent, { type: 'ArticleErased' | 'ImageErased' | 'BylineErased' }>,
  seq: number,
): EntityState {
  const erasure: Erasure = { ...event.payload, at: event.occurredAt };
  const provenance =
    state && state.entityType === event.entityType
      ? { firstSeq: state.firstSeq, lastSeq: seq, updatedAt: event.occurredAt, events: state.events + 1 }
      : start(seq, event);
  const id = event.entityId;
  switch (event.type) {
    case 'ArticleErased': {
      const publishedAt = state?.entityType === 'article' ? state.fields.publishedAt : event.occurredAt;
      const fields = { headline: ERASED_NAME, body: '', publishedAt, bylineIds: [], imageIds: [], tags: [] };
      return { entityType: 'article', id, fields, retracted: true, erasure, ...provenance };
    }
    case 'ImageErased': {
      const original = {
        digest: `sha256:${'0'.repeat(64)}`,
        bytes: 0,
        mediaType: 'application/octet-stream',
      };
      return { entityType: 'image', id, fileName: '', original, removed: true, erasure, ...provenance };
    }
    case 'BylineErased':
      return { entityType: 'byline', id, fields: { name: ERASED_NAME }, erasure, ...provenance };
  }
}

/** An article's events: full state replaces, a retraction keeps the content and marks it. */
function applyArticleEvent(
  state: EntityState | undefined,
  event: Extract<ContentEvent, { type: 'ArticlePublished' | 'ArticleRevised' | 'ArticleRetracted' }>,
  seq: number,
): EntityState {
  switch (event.type) {
    case 'ArticlePublished':
    case 'ArticleRevised': {
      const prev = state?.entityType === 'article' ? state : undefined;
      return prev
        ? { ...advance(prev, seq, event), fields: event.payload, retracted: false, retractReason: undefined }
        : {
            entityType: 'article',
            id: event.entityId,
            fields: event.payload,
            retracted: false,
            ...start(seq, event),
          };
    }
    case 'ArticleRetracted': {
      const prev = state?.entityType === 'article' ? state : undefined;
      const base: ArticleState = prev ?? {
        entityType: 'article',
        id: event.entityId,
        fields: {
          headline: '(retracted)',
          body: '',
          publishedAt: event.occurredAt,
          bylineIds: [],
          imageIds: [],
          tags: [],
        },
        retracted: true,
        ...start(seq, event),
      };
      return {
        ...(prev ? advance(base, seq, event) : base),
        retracted: true,
        retractReason: event.payload.reason,
      };
    }
  }
}

/** A byline's events carry its whole state. */
function applyBylineEvent(
  state: EntityState | undefined,
  event: Extract<ContentEvent, { type: 'BylineRegistered' | 'BylineUpdated' }>,
  seq: number,
): EntityState {
  switch (event.type) {
    case 'BylineRegistered':
    case 'BylineUpdated': {
      const prev = state?.entityType === 'byline' ? state : undefined;
      return prev
        ? { ...advance(prev, seq, event), fields: event.payload }
        : { entityType: 'byline', id: event.entityId, fields: event.payload, ...start(seq, event) };
    }
  }
}

/** An image's file and description; a replaced original forgets the old one's processing outcome. */
function applyImageFileEvent(
  state: EntityState | undefined,
  event: Extract<ContentEvent, { type: 'ImageSubmitted' | 'ImageUpdated' }>,
  seq: number,
): EntityState {
  switch (event.type) {
    case 'ImageSubmitted': {
      const prev = state?.entityType === 'image' ? state : undefined;
      const { caption, credit, fileName, original } = event.payload;
      const replaced = prev && prev.original.digest !== original.digest;
      return prev
        ? {
            ...advance(prev, seq, event),
            caption,
            credit,
            fileName,
            original,
            removed: false,
            processed: replaced ? undefined : prev.processed,
            failed: replaced ? undefined : prev.failed,
          }
        : {
            entityType: 'image',
            id: event.entityId,
            caption,
            credit,
            fileName,
            original,
            removed: false,
            ...start(seq, event),
          };
    }
    case 'ImageUpdated': {
      const prev = state?.entityType === 'image' ? state : undefined;
      if (!prev) {
        // An update for an image never submitted: keep what we can; there is no original.
        return {
          entityType: 'image',
          id: event.entityId,
          caption: event.payload.caption,
          credit: event.payload.credit,
          fileName: event.payload.fileName ?? '',
          original: event.payload.original ?? {
            digest: `sha256:${'0'.repeat(64)}`,
            bytes: 0,
            mediaType: 'application/octet-stream',
          },
          removed: false,
          ...start(seq, event),
        };
      }
      const replaced =
        event.payload.original !== undefined && event.payload.original.digest !== prev.original.digest;
      return {
        ...advance(prev, seq, event),
        caption: event.payload.caption,
        credit: event.payload.credit,
        fileName: event.payload.fileName ?? prev.fileName,
        original: event.payload.original ?? prev.original,
        processed: replaced ? undefined : prev.processed,
        failed: replaced ? undefined : prev.failed,
      };
    }
  }
}

/** What happened to an image: processed, failed, removed. */
function applyImageOutcomeEvent(
  state: EntityState | undefined,
  event: Extract<ContentEvent, { type: 'ImageProcessed' | 'ImageProcessingFailed' | 'ImageRemoved' }>,
  seq: number,
): EntityState {
  switch (event.type) {
    case 'ImageProcessed':
    case 'ImageProcessingFailed': {
      const prev = state?.entityType === 'image' ? state : undefined;
      if (!prev) {
        return {
          entityType: 'image',
          id: event.entityId,
          fileName: '',
          original: { digest: event.payload.original, bytes: 0, mediaType: 'application/octet-stream' },
          removed: false,
          ...(event.type === 'ImageProcessed'
            ? { processed: { ...event.payload, seq } }
            : { failed: { ...event.payload, seq } }),
          ...start(seq, event),
        };
      }
      // Results for an original that has since been replaced are history, not state.
      if (event.payload.original !== prev.original.digest) return advance(prev, seq, event);
      return event.type === 'ImageProcessed'
        ? { ...advance(prev, seq, event), processed: { ...event.payload, seq }, failed: undefined }
        : { ...advance(prev, seq, event), failed: { ...event.payload, seq } };
    }
    case 'ImageRemoved': {
      const prev = state?.entityType === 'image' ? state : undefined;
      if (!prev) {
        return {
          entityType: 'image',
          id: event.entityId,
          fileName: '',
          original: { digest: `sha256:${'0'.repeat(64)}`, bytes: 0, mediaType: 'application/octet-stream' },
          removed: true,
          ...start(seq, event),
        };
      }
      return { ...advance(prev, seq, event), removed: true };
    }
  }
}

/** Fold an entity's events (in sequence order) into its state; undefined when there are none. */
export function foldEntity(events: Iterable<{ event: ContentEvent; seq: number }>): EntityState | undefined {
  let state: EntityState | undefined;
  for (const { event, seq } of events) state = applyEvent(state, event, seq);
  return state;
}
