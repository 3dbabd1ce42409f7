import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStore } from '../../log/blobStore.ts';
import type { ContentLog } from '../../log/types.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { applyEvent, type BylineState, type EntityState, type ImageState } from '../../schemas/state.ts';
import { articleToNinjs } from './toNinjs.ts';

export type ExportFormat = 'presslog' | 'ninjs';

export interface ExportOptions {
  log: ContentLog;
  blobs: BlobStore;
  format: ExportFormat;
  /** The archive as the log held it at this time (stored time); default: now. */
  asOf?: Date;
  /** Write one output line (without its newline); awaited, so a slow output slows the export. */
  writeLine(line: string): Promise<void>;
  /** presslog format: where image originals are written (`images/<digest>/<file name>` inside); none: not written. */
  mediaDir?: string;
  signal?: AbortSignal;
}

export interface ExportStats {
  lines: number;
  images: number;
}

const defined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/** The state of the presslog export while it replays the log. */
interface PresslogExport {
  options: ExportOptions;
  stats: ExportStats;
  /** Image id → its last record (file, caption, credit), for ImageUpdated, which may say only what changed. */
  images: Map<string, { file: string; caption?: string; credit?: string }>;
  retracted: Set<string>;
}

async function imageFile(state: PresslogExport, digest: string, fileName: string): Promise<string> {
  const file = `images/${digest.replace(/^sha256:/, '')}/${fileName}`;
  const { mediaDir } = state.options;
  if (mediaDir) {
    await mkdir(join(mediaDir, 'images', digest.replace(/^sha256:/, '')), { recursive: true });
    await writeFile(join(mediaDir, file), await state.options.blobs.read(digest));
    state.stats.images++;
  }
  return file;
}

/** The input record an event's new state is, or undefined for events no record expresses. */
async function recordOf(state: PresslogExport, event: ContentEvent): Promise<object | undefined> {
  const updatedAt = event.occurredAt;
  switch (event.type) {
    case 'BylineRegistered':
    case 'BylineUpdated':
      return defined({ kind: 'byline', id: event.entityId, ...event.payload, updatedAt });
    case 'ImageSubmitted':
    case 'ImageUpdated': {
      const previous = state.images.get(event.entityId);
      const { original, fileName } = event.payload as { original?: { digest: string }; fileName?: string };
      const file = original && fileName ? await imageFile(state, original.digest, fileName) : previous?.file;
      if (!file) return undefined;
      const image = defined({ file, caption: event.payload.caption, credit: event.payload.credit });
      state.images.set(event.entityId, image);
      return { kind: 'image', id: event.entityId, ...image, updatedAt };
    }
    case 'ArticlePublished':
    case 'ArticleRevised': {
      const { bylineIds, imageIds, ...fields } = event.payload;
      const unretract = state.retracted.delete(event.entityId) ? { unretract: true } : {};
      return {
        kind: 'article',
        id: event.entityId,
        ...fields,
        bylines: bylineIds,
        images: imageIds,
        updatedAt,
        ...unretract,
      };
    }
    case 'ArticleRetracted':
      state.retracted.add(event.entityId);
      return defined({
        kind: 'article',
        id: event.entityId,
        retracted: true,
        reason: event.payload.reason,
        updatedAt,
      });
    default:
      // Processing outcomes are redone by the image workers; a removal has no record form.
      return undefined;
  }
}

/**
 * presslog NDJSON: every version of every item as an input record, in log order, with
 * `updatedAt` = the event's `occurredAt`, so ingesting the export into an empty
 * namespace appends the same history (the same versions at the same times). Streams:
 * memory holds only each image's last file and the retracted ids.
 */
async function exportPresslog(options: ExportOptions): Promise<ExportStats> {
  const state: PresslogExport = {
    options,
    stats: { lines: 0, images: 0 },
    images: new Map(),
    retracted: new Set(),
  };
  for await (const item of options.log.replay({ untilTime: options.asOf, signal: options.signal })) {
    if (item.kind !== 'event') continue;
    const record = await recordOf(state, item.stored.event);
    if (!record) continue;
    await options.writeLine(JSON.stringify(record));
    state.stats.lines++;
  }
  return state.stats;
}

/**
 * ninjs 2.x: one text item per unretracted article as it stands (at `asOf`), its bylines
 * and pictures embedded. Bylines and images are folded first (small); articles are then
 * read one at a time, so memory holds their ids, not their bodies.
 */
async function exportNinjs(options: ExportOptions): Promise<ExportStats> {
  const { log, asOf, signal } = options;
  const states = new Map<string, EntityState>();
  for (const entityType of ['byline', 'image'] as const) {
    for await (const item of log.replay({ entityType, untilTime: asOf, signal })) {
      if (item.kind !== 'event') continue;
      const key = `${entityType}:${item.stored.event.entityId}`;
      states.set(key, applyEvent(states.get(key), item.stored.event, item.stored.seq));
    }
  }
  const revisions = new Map<string, number>();
  for await (const item of log.replay({ entityType: 'article', untilTime: asOf, signal })) {
    if (item.kind !== 'event') continue;
    const { type, entityId } = item.stored.event;
    const count = revisions.get(entityId) ?? 0;
    revisions.set(entityId, type === 'ArticleRetracted' ? count : count + 1);
  }
  const stats: ExportStats = { lines: 0, images: 0 };
  const byline = (id: string) => states.get(`byline:${id}`) as BylineState | undefined;
  const image = (id: string) => {
    const s = states.get(`image:${id}`) as ImageState | undefined;
    return s?.removed ? undefined : s;
  };
  for (const [id, count] of revisions) {
    const article = await log.stateAsOf('article', id, asOf);
    if (article?.entityType !== 'article' || article.retracted) continue;
    await options.writeLine(JSON.stringify(articleToNinjs(article, count, byline, image)));
    stats.lines++;
  }
  return stats;
}

/** Stream the archive (or its state at `asOf`) as presslog NDJSON records or ninjs 2.x items. */
export function exportArchive(options: ExportOptions): Promise<ExportStats> {
  return options.format === 'ninjs' ? exportNinjs(options) : exportPresslog(options);
}
