import type { ImageDoc } from '../../schemas/documents.ts';
import type { ImageState } from '../../schemas/state.ts';
import { lineageOf } from '../lineage.ts';
import { renditionInfo } from './renditionInfo.ts';

/** What projecting an image needs beyond its own state: the articles that use it. */
export interface ImageRefs {
  /** Ids of the unretracted articles referencing the image, in any order (sorted here). */
  articleIds: Iterable<string>;
  /** Sequence of the last article event that changed that list (0 when none did). */
  articlesSeq: number;
}

/** Project an image into its search document, or null once it has been removed. Pure. */
export function projectImage(state: ImageState, refs: ImageRefs): ImageDoc | null {
  if (state.removed) return null;
  const embeddedSeqs: Record<string, number> = {};
  if (refs.articlesSeq > 0) embeddedSeqs.articles = refs.articlesSeq;
  const lineage = lineageOf(state.id, Math.max(state.lastSeq, refs.articlesSeq), state.lastSeq, embeddedSeqs);
  const processed = state.processed;
  const failed = state.failed;
  const doc: ImageDoc = {
    id: state.id,
    fileName: state.fileName,
    original: {
      digest: state.original.digest,
      bytes: state.original.bytes,
      mediaType: state.original.mediaType,
    },
    status: processed ? 'processed' : failed ? 'failed' : 'submitted',
    renditions: [],
    articleIds: [...refs.articleIds].sort(),
    updatedAt: state.updatedAt,
    lineage,
  };
  // The record's caption and credit win; what the file embeds fills the gaps.
  const embedded = processed?.embedded;
  const caption = state.caption ?? embedded?.caption;
  const credit = state.credit ?? embedded?.credit;
  if (caption !== undefined) doc.caption = caption;
  if (credit !== undefined) doc.credit = credit;
  if (embedded?.creator !== undefined) doc.creator = embedded.creator;
  if (embedded?.copyright !== undefined) doc.copyright = embedded.copyright;
  if (embedded?.dateCreated !== undefined) doc.dateCreated = embedded.dateCreated;
  if (embedded?.keywords !== undefined) doc.keywords = embedded.keywords;
  if (embedded?.gps !== undefined) doc.gps = embedded.gps;
  if (!processed && failed) doc.failureReason = failed.reason;
  if (processed) {
    doc.width = processed.width;
    doc.height = processed.height;
    doc.format = processed.format;
    if (processed.orientation !== undefined) doc.orientation = processed.orientation;
    doc.hasAlpha = processed.hasAlpha;
    doc.dominantColor = processed.dominantColor;
    doc.placeholder = processed.placeholder;
    doc.renditions = processed.renditions.map(renditionInfo);
  }
  return doc;
}
