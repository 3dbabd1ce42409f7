import type { ArticleDoc, EmbeddedByline, EmbeddedImage } from '../../schemas/documents.ts';
import type { ArticleState, BylineState, ImageState } from '../../schemas/state.ts';
import { renditionInfo } from '../images/renditionInfo.ts';
import { lineageOf } from '../lineage.ts';
import { suggestInputs } from '../suggestInputs.ts';

/**
 * A referenced entity as an article sees it: its state and the sequence of the event
 * that last changed what the article embeds of it (not its last event: a byline's new
 * bio changes nothing in the articles, so it must not change their lineage either).
 */
export interface EmbeddedRef<S> {
  state: S;
  seq: number;
}

/** What projecting an article needs beyond its own state. */
export interface ArticleRefs {
  /** Number of ArticlePublished/ArticleRevised events applied to the article. */
  revisions: number;
  /** The byline's state, or undefined while it has not been seen in the log. */
  byline(id: string): EmbeddedRef<BylineState> | undefined;
  /** The image's state, or undefined while it has not been seen in the log. */
  image(id: string): EmbeddedRef<ImageState> | undefined;
}

/** What an article embeds of a byline: its name, absent while the byline is unknown. */
export function embedByline(id: string, state: BylineState | undefined): EmbeddedByline {
  return state && !state.erasure ? { id, name: state.fields.name } : { id };
}

/**
 * What an article embeds of an image. An image not seen yet and a removed image both
 * embed as the bare id: the article still references it, but nothing about it is
 * searchable or displayable.
 */
export function embedImage(id: string, state: ImageState | undefined): EmbeddedImage {
  if (!state || state.removed) return { id, renditions: [] };
  const embedded: EmbeddedImage = { id, renditions: [] };
  const processed = state.processed;
  // The record's caption and credit win; what the file embeds fills the gaps.
  const caption = state.caption ?? processed?.embedded?.caption;
  const credit = state.credit ?? processed?.embedded?.credit;
  if (caption !== undefined) embedded.caption = caption;
  if (credit !== undefined) embedded.credit = credit;
  if (processed?.embedded?.creator !== undefined) embedded.creator = processed.embedded.creator;
  if (processed?.embedded?.keywords !== undefined) embedded.keywords = processed.embedded.keywords;
  if (processed) {
    embedded.width = processed.width;
    embedded.height = processed.height;
    embedded.placeholder = processed.placeholder;
    embedded.dominantColor = processed.dominantColor;
    embedded.renditions = processed.renditions.map(renditionInfo);
  }
  return embedded;
}

/** The year as the source wrote it (`1863-01-01T00:00:00-05:00` is 1863, whatever UTC says). */
export function yearOf(isoTime: string): number {
  return Number.parseInt(isoTime.slice(0, 4), 10);
}

/**
 * Project an article into its search document, or null when it must not be in the index
 * (a retracted article is removed from the index, not flagged: searches never have to
 * remember to filter it out, and its history stays in the log). Pure: the same state and
 * refs always give the same document, which is what makes a full replay and the live
 * projection agree.
 */
export function projectArticle(state: ArticleState, refs: ArticleRefs): ArticleDoc | null {
  if (state.retracted) return null;
  const fields = state.fields;
  const embeddedSeqs: Record<string, number> = {};
  let asOfSeq = state.lastSeq;
  const bylines = fields.bylineIds.map((id) => {
    const ref = refs.byline(id);
    if (ref) {
      embeddedSeqs[`byline:${id}`] = ref.seq;
      if (ref.seq > asOfSeq) asOfSeq = ref.seq;
    }
    return embedByline(id, ref?.state);
  });
  const images = fields.imageIds.map((id) => {
    const ref = refs.image(id);
    if (ref) {
      embeddedSeqs[`image:${id}`] = ref.seq;
      if (ref.seq > asOfSeq) asOfSeq = ref.seq;
    }
    return embedImage(id, ref?.state);
  });
  const lineage = lineageOf(state.id, asOfSeq, state.lastSeq, embeddedSeqs);
  const doc: ArticleDoc = {
    id: state.id,
    headline: fields.headline,
    suggest: suggestInputs(fields.headline),
    body: fields.body,
    publishedAt: fields.publishedAt,
    year: yearOf(fields.publishedAt),
    tags: fields.tags,
    bylines,
    images,
    revisions: refs.revisions,
    updatedAt: state.updatedAt,
    lineage,
  };
  if (fields.section !== undefined) doc.section = fields.section;
  if (fields.bodyHtml !== undefined) doc.bodyHtml = fields.bodyHtml;
  return doc;
}
