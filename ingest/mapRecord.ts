import { encodeWithPayload } from '../log/codec.ts';
import type { ArticleFields } from '../schemas/articleEvents.ts';
import type { BylineFields } from '../schemas/bylineEvents.ts';
import { CATALOG, type ContentEvent, type EventOf, type EventType } from '../schemas/catalog.ts';
import { canonicalJson, deriveEventIdFromPayload } from '../schemas/eventId.ts';
import type { BlobRef } from '../schemas/imageEvents.ts';
import { applyEvent, type EntityState } from '../schemas/state.ts';
import {
  type ArticleRecord,
  type ArticleRetractionRecord,
  type BylineRecord,
  type ImageRecord,
  type InputRecord,
  isRetraction,
} from './records.ts';

/** What the mapping needs besides the record and the entity's current state. */
export interface MapContext {
  /** The envelope's `source`, e.g. `ingest:cms-export`. */
  source: string;
  /** The envelope's `recordedAt` (ISO), and `occurredAt` when the record says nothing better. */
  now: string;
  /** Ties every event of one ingest run together. */
  correlationId?: string;
  /** For image records: the stored original (digest, size, media type). */
  original?: BlobRef;
  /** Let any changed article record publish a retracted article again (`--allow-unretract`). */
  allowUnretract?: boolean;
}

/** What to do with one record, given the entity's current state. */
export type Decision =
  | {
      action: 'append';
      event: ContentEvent;
      /** The entity's last sequence the decision was based on (0 = new): the append's concurrency guard. */
      expectedLastSeq: number;
    }
  | { action: 'unchanged' }
  | {
      action: 'reject';
      field: string;
      message: string;
      /** Set when the record would publish a retracted article again without saying so. */
      retracted?: true;
    };

/**
 * The event of a decision, with its message bytes: the payload is serialised (canonical
 * JSON) and UTF-8-encoded once, and those bytes are both hashed for the id and put into
 * the message (`encodeWithPayload`).
 */
function makeEvent<T extends EventType>(
  type: T,
  entityId: string,
  payload: EventOf<T>['payload'],
  basisSeq: number,
  occurredAt: string,
  context: MapContext,
): EventOf<T> {
  const entityType = CATALOG[type].entityType;
  const payloadUtf8 = Buffer.from(canonicalJson(payload));
  const event = {
    id: deriveEventIdFromPayload({ type, entityType, entityId, basisSeq }, payloadUtf8),
    type,
    version: CATALOG[type].current,
    entityType,
    entityId,
    occurredAt,
    recordedAt: context.now,
    source: context.source,
    ...(context.correlationId === undefined ? {} : { correlationId: context.correlationId }),
    payload,
  };
  return encodeWithPayload(event as unknown as EventOf<T>, payloadUtf8);
}

/** Drop keys whose value is undefined, so payloads compare (and hash) by what they say. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

function append(event: ContentEvent, current: EntityState | undefined): Decision {
  return { action: 'append', event, expectedLastSeq: current?.lastSeq ?? 0 };
}

function mapByline(record: BylineRecord, current: EntityState | undefined, context: MapContext): Decision {
  const fields: BylineFields = defined({ name: record.name, bio: record.bio });
  const basis = current?.lastSeq ?? 0;
  const occurredAt = record.updatedAt ?? context.now;
  if (current?.entityType !== 'byline') {
    return append(makeEvent('BylineRegistered', record.id, fields, basis, occurredAt, context), current);
  }
  if (same(current.fields, fields)) return { action: 'unchanged' };
  return append(makeEvent('BylineUpdated', record.id, fields, basis, occurredAt, context), current);
}

/** The article's full state as a record states it (the v2 payload of Published/Revised). */
export function articleFieldsOf(record: ArticleRecord): ArticleFields {
  return defined({
    headline: record.headline,
    body: record.body,
    bodyHtml: record.bodyHtml,
    section: record.section,
    publishedAt: record.publishedAt,
    bylineIds: record.bylines ?? [],
    imageIds: record.images ?? [],
    tags: record.tags ?? [],
  });
}

function mapArticle(record: ArticleRecord, current: EntityState | undefined, context: MapContext): Decision {
  const fields = articleFieldsOf(record);
  const basis = current?.lastSeq ?? 0;
  if (current?.entityType !== 'article') {
    const occurredAt = record.updatedAt ?? fields.publishedAt;
    return append(makeEvent('ArticlePublished', record.id, fields, basis, occurredAt, context), current);
  }
  // Equal fields are "unchanged" even when the article is retracted: re-running an export
  // that holds both the article and its retraction must stay a no-op. Only an explicit
  // `"unretract": true` publishes it again with the same content.
  const unretractNow = current.retracted && record.unretract === true;
  if (same(current.fields, fields) && !unretractNow) return { action: 'unchanged' };
  // A revision publishes a retracted article again (per the fold): only on request.
  if (current.retracted && !unretractNow && context.allowUnretract !== true) {
    return {
      action: 'reject',
      field: '',
      message: `article ${record.id} is retracted; set "unretract": true (or --allow-unretract) to publish it again`,
      retracted: true,
    };
  }
  const occurredAt = record.updatedAt ?? context.now;
  return append(makeEvent('ArticleRevised', record.id, fields, basis, occurredAt, context), current);
}

function mapRetraction(
  record: ArticleRetractionRecord,
  current: EntityState | undefined,
  context: MapContext,
): Decision {
  if (current?.entityType !== 'article') {
    return {
      action: 'reject',
      field: 'id',
      message: `no article ${JSON.stringify(record.id)} in the log or earlier in this run: nothing to retract`,
    };
  }
  if (current.retracted) return { action: 'unchanged' };
  const payload = defined({ reason: record.reason });
  return append(
    makeEvent(
      'ArticleRetracted',
      record.id,
      payload,
      current.lastSeq,
      record.updatedAt ?? context.now,
      context,
    ),
    current,
  );
}

/** The file name an image event records: the last segment of the record's `file`. */
export function fileNameOf(file: string): string {
  return file.split(/[\\/]/).filter(Boolean).pop() ?? file;
}

function mapImage(record: ImageRecord, current: EntityState | undefined, context: MapContext): Decision {
  const original = context.original;
  if (!original) throw new Error(`mapRecord: image ${record.id} needs context.original (the stored file)`);
  const fileName = fileNameOf(record.file);
  const basis = current?.lastSeq ?? 0;
  const occurredAt = record.updatedAt ?? context.now;
  const submitted = defined({ caption: record.caption, credit: record.credit, fileName, original });
  if (current?.entityType !== 'image') {
    return append(makeEvent('ImageSubmitted', record.id, submitted, basis, occurredAt, context), current);
  }
  const replaced = current.original.digest !== original.digest;
  const renamed = current.fileName !== fileName;
  const unchanged =
    !replaced && !renamed && current.caption === record.caption && current.credit === record.credit;
  if (unchanged) return { action: 'unchanged' };
  // A removed image comes back only through a full submission (the fold clears `removed` there).
  if (current.removed) {
    return append(makeEvent('ImageSubmitted', record.id, submitted, basis, occurredAt, context), current);
  }
  const updated = defined({
    caption: record.caption,
    credit: record.credit,
    fileName: renamed || replaced ? fileName : undefined,
    original: replaced ? original : undefined,
  });
  return append(makeEvent('ImageUpdated', record.id, updated, basis, occurredAt, context), current);
}

/**
 * Map a validated record to the event it means, given the entity's current state
 * (pure). Every event carries the entity's whole editorial state, so "unchanged" is a
 * comparison with the current state; the event id derives from the content and the
 * state's last sequence, so deciding the same thing twice yields the same id.
 */
export function mapRecord(
  record: InputRecord,
  current: EntityState | undefined,
  context: MapContext,
): Decision {
  switch (record.kind) {
    case 'byline':
      return mapByline(record, current, context);
    case 'image':
      return mapImage(record, current, context);
    case 'article':
      return isRetraction(record)
        ? mapRetraction(record, current, context)
        : mapArticle(record, current, context);
  }
}

/** The byline and image ids an article record refers to (empty for other records). */
export function referencesOf(record: InputRecord): { bylines: string[]; images: string[] } {
  if (record.kind !== 'article' || isRetraction(record)) return { bylines: [], images: [] };
  return { bylines: record.bylines ?? [], images: record.images ?? [] };
}

/**
 * True when the record equals a version its entity had before the current one (pure):
 * the record replays history, e.g. the first revision of an article in an export that
 * also holds its second, ingested before. Re-running such an export must append
 * nothing, so callers treat a replay as unchanged. When the record has `updatedAt`,
 * only a version that occurred at that time counts, which is how an input changes an
 * entity back to an earlier content on purpose. `history` is the entity's events in
 * order, all stored before this run; its last element is the current version.
 */
export function isReplayOfHistory(
  record: InputRecord,
  history: readonly { event: ContentEvent; seq: number }[],
  context: MapContext,
): boolean {
  let state: EntityState | undefined;
  for (let i = 0; i < history.length - 1; i++) {
    const { event, seq } = history[i]!;
    state = applyEvent(state, event, seq);
    if (record.updatedAt !== undefined && event.occurredAt !== record.updatedAt) continue;
    if (mapRecord(record, state, context).action === 'unchanged') return true;
  }
  return false;
}
