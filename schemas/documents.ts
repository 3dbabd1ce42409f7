/**
 * The shapes of the documents the projectors write to Elasticsearch, shared by the
 * projectors (which build them) and the query side (which reads them). Field names
 * are the index's field names.
 */

/** Why a document looks the way it does: the log sequences it was built from. */
export interface Lineage {
  /** The highest stream sequence this document reflects (also its external version). */
  asOfSeq: number;
  /** Sequence of the entity's own last event. */
  ownSeq: number;
  /** Sequences of the embedded entities' last events, e.g. `{ "byline:b-1": 12, "image:img-2": 40 }`. */
  embeddedSeqs: Record<string, number>;
  /** Digest of (id, asOfSeq, ownSeq) that a reindex sums over an index to verify it (see `projectors/lineage.ts`). */
  check: LineageCheck;
}

/** Three 20-bit slices of a document's lineage digest. */
export interface LineageCheck {
  a: number;
  b: number;
  c: number;
}

export interface EmbeddedByline {
  id: string;
  /** Absent while the byline has not been seen in the log yet (a dangling reference). */
  name?: string;
}

export interface RenditionInfo {
  name: string;
  digest: string;
  mediaType: string;
  width: number;
  height: number;
  bytes: number;
}

export interface EmbeddedImage {
  id: string;
  caption?: string;
  credit?: string;
  /** From the file's own metadata (ImageProcessed `embedded`). */
  creator?: string;
  keywords?: string[];
  width?: number;
  height?: number;
  placeholder?: string;
  dominantColor?: string;
  renditions: RenditionInfo[];
}

/**
 * One group of inputs of a `completion` field, with the weight its matches rank by (see
 * `projectors/suggestInputs.ts`).
 */
export interface SuggestInput {
  input: string[];
  weight: number;
}

export interface ArticleDoc {
  id: string;
  headline: string;
  /** Completions of the headline from the start of any of its words (`GET /api/suggest`). */
  suggest: SuggestInput[];
  body: string;
  /** The source's markup, sanitized at ingest, for display: in `_source`, not indexed. */
  bodyHtml?: string;
  section?: string;
  publishedAt: string;
  year: number;
  tags: string[];
  bylines: EmbeddedByline[];
  images: EmbeddedImage[];
  /** Number of Published/Revised events applied. */
  revisions: number;
  updatedAt: string;
  lineage: Lineage;
}

export type ImageStatus = 'submitted' | 'processed' | 'failed';

export interface ImageDoc {
  id: string;
  /** The record's caption and credit, else what the file embeds (IPTC/XMP/EXIF). */
  caption?: string;
  credit?: string;
  /** From the file's own metadata (ImageProcessed `embedded`). */
  creator?: string;
  copyright?: string;
  dateCreated?: string;
  keywords?: string[];
  gps?: { lat: number; lon: number };
  fileName: string;
  original: { digest: string; bytes: number; mediaType: string };
  status: ImageStatus;
  failureReason?: string;
  width?: number;
  height?: number;
  format?: string;
  orientation?: number;
  hasAlpha?: boolean;
  dominantColor?: string;
  placeholder?: string;
  renditions: RenditionInfo[];
  /** Ids of the (unretracted) articles that use this image. */
  articleIds: string[];
  updatedAt: string;
  lineage: Lineage;
}

export interface BylineDoc {
  id: string;
  name: string;
  /** Completions of the name from the start of any of its words; absent while no article carries the byline. */
  suggest?: SuggestInput[];
  bio?: string;
  /** Unretracted articles carrying this byline. */
  articleCount: number;
  latestArticleAt?: string;
  updatedAt: string;
  lineage: Lineage;
}
