import type { ArticleDoc, EmbeddedImage, ImageDoc, RenditionInfo } from '../schemas/documents.ts';
import type { SearchKind, SortValue } from './params.ts';

/**
 * The answer's shape, identical for `presslog search --json` and `GET /api/search`.
 * Absent values are `null` (not missing) so clients can rely on every key.
 */
export interface SearchResult {
  /** Exact number of matching documents. */
  total: number;
  hits: SearchHit[];
  /** Computed on the first page; `null` on later pages (the first page's facets still hold). */
  facets: Facets | null;
  /** Cursor for the next page, or `null` when this page is the last one. */
  next: string | null;
  /** Hits per year or decade, on the first page of an article search; `null` otherwise. */
  timeline: Timeline | null;
}

/** Hits over time: one bucket per year, or per decade when the hits span more than {@link MAX_YEAR_BARS} years. */
export interface Timeline {
  interval: 'year' | 'decade';
  /** Oldest first; `from` and `to` are years, inclusive (a decade: 1860 to 1869). */
  buckets: { from: number; to: number; count: number }[];
}

/** Widest span of years drawn one bar per year; wider spans get one bar per decade. */
export const MAX_YEAR_BARS = 60;

/** Hits per year from the `timeline` date_histogram (yearly buckets, oldest first, empty years included). */
function yearBuckets(aggs: Record<string, unknown> | undefined): { year: number; count: number }[] {
  return buckets(aggs, 'timeline')
    .map((b) => ({
      year: Number(b.key_as_string ?? new Date(Number(b.key)).getUTCFullYear()),
      count: b.doc_count,
    }))
    .filter((b) => Number.isInteger(b.year));
}

/** The timeline from the `timeline` date_histogram. */
export function toTimeline(aggs: Record<string, unknown> | undefined): Timeline {
  const years = yearBuckets(aggs);
  const first = years[0]?.year;
  const last = years.at(-1)?.year;
  if (first === undefined || last === undefined || last - first < MAX_YEAR_BARS) {
    return { interval: 'year', buckets: years.map((y) => ({ from: y.year, to: y.year, count: y.count })) };
  }
  const decades = new Map<number, number>();
  for (const y of years) {
    const decade = Math.floor(y.year / 10) * 10;
    decades.set(decade, (decades.get(decade) ?? 0) + y.count);
  }
  return {
    interval: 'decade',
    buckets: [...decades].map(([from, count]) => ({ from, to: from + 9, count })),
  };
}

export interface SearchHit {
  id: string;
  kind: SearchKind;
  /** The article's headline; for an image, its caption (or file name). */
  headline: string;
  publishedAt: string | null;
  bylines: { id: string; name: string | null }[];
  score: number | null;
  /** HTML fragments: the document's text escaped by Elasticsearch, matches wrapped in `<mark>`. */
  highlights: Highlights;
  section: string | null;
  tags: string[];
  images: HitImage[];
  /** For an image hit: the articles that use it. */
  articleIds?: string[];
}

export interface Highlights {
  headline?: string[];
  body?: string[];
  captions?: string[];
  /** An image's credit and creator, when the search matched them. */
  credit?: string[];
  creator?: string[];
}

export interface HitImage {
  id: string;
  caption: string | null;
  /** Path of the thumbnail rendition (`/renditions/<digest>`), null until the image is processed. */
  thumbnail: string | null;
  /** Tiny data-URI preview to show while the thumbnail loads. */
  placeholder: string | null;
  /** On image hits, when known: the record's credit, the file's creator (photographer) and keywords. */
  credit?: string;
  creator?: string;
  keywords?: string[];
}

export interface Facets {
  sections: { value: string; count: number }[];
  bylines: { id: string; name: string | null; count: number }[];
  years: { value: number; count: number }[];
}

/** The parts of an Elasticsearch search response this module reads. */
export interface RawSearchResponse {
  pit_id?: string;
  hits: {
    total?: number | { value: number; relation?: string };
    hits: RawHit[];
  };
  aggregations?: Record<string, unknown>;
}

export interface RawHit {
  _id?: string | null;
  _score?: number | null;
  _source?: unknown;
  highlight?: Record<string, string[]>;
  sort?: SortValue[];
}

/** Renditions are named by the image pipeline; the thumbnail is `thumb` (or the smallest one). */
export const THUMBNAIL_NAMES = ['thumb', 'thumbnail'];

export function renditionPath(digest: string): string {
  return `/renditions/${digest}`;
}

export function pickThumbnail(renditions: readonly RenditionInfo[] | undefined): RenditionInfo | undefined {
  if (!renditions || renditions.length === 0) return undefined;
  const named = renditions.find((r) => THUMBNAIL_NAMES.includes(r.name));
  if (named) return named;
  return [...renditions].sort((a, b) => a.width * a.height - b.width * b.height)[0];
}

function hitImage(
  image: Pick<
    EmbeddedImage,
    'id' | 'caption' | 'credit' | 'creator' | 'keywords' | 'placeholder' | 'renditions'
  >,
): HitImage {
  const thumb = pickThumbnail(image.renditions);
  return {
    id: image.id,
    caption: image.caption ?? null,
    thumbnail: thumb ? renditionPath(thumb.digest) : null,
    placeholder: image.placeholder ?? null,
    ...(image.credit !== undefined ? { credit: image.credit } : {}),
    ...(image.creator !== undefined ? { creator: image.creator } : {}),
    ...(image.keywords !== undefined ? { keywords: image.keywords } : {}),
  };
}

export function highlights(raw: Record<string, string[]> | undefined): Highlights {
  const out: Highlights = {};
  if (!raw) return out;
  if (raw.headline) out.headline = raw.headline;
  if (raw.body) out.body = raw.body;
  const captions = raw['images.caption'] ?? raw.caption;
  if (captions) out.captions = captions;
  if (raw.credit) out.credit = raw.credit;
  if (raw.creator) out.creator = raw.creator;
  return out;
}

export function toHit(kind: SearchKind, raw: RawHit): SearchHit {
  const score = typeof raw._score === 'number' && Number.isFinite(raw._score) ? raw._score : null;
  if (kind === 'image') {
    const doc = (raw._source ?? {}) as Partial<ImageDoc>;
    return {
      id: doc.id ?? raw._id ?? '',
      kind,
      headline: doc.caption || doc.fileName || doc.id || '',
      publishedAt: null,
      bylines: [],
      score,
      highlights: highlights(raw.highlight),
      section: null,
      tags: [],
      images: [
        hitImage({
          id: doc.id ?? raw._id ?? '',
          caption: doc.caption,
          credit: doc.credit,
          creator: doc.creator,
          keywords: doc.keywords,
          placeholder: doc.placeholder,
          renditions: doc.renditions ?? [],
        }),
      ],
      articleIds: doc.articleIds ?? [],
    };
  }
  const doc = (raw._source ?? {}) as Partial<ArticleDoc>;
  return {
    id: doc.id ?? raw._id ?? '',
    kind,
    headline: doc.headline ?? '',
    publishedAt: doc.publishedAt ?? null,
    bylines: (doc.bylines ?? []).map((b) => ({ id: b.id, name: b.name ?? null })),
    score,
    highlights: highlights(raw.highlight),
    section: doc.section ?? null,
    tags: doc.tags ?? [],
    // An article hit's pictures: what the result list shows (who took them is on the article page).
    images: (doc.images ?? []).map(({ id, caption, placeholder, renditions }) =>
      hitImage({ id, caption, placeholder, renditions }),
    ),
  };
}

interface TermsBucket {
  key: string | number;
  key_as_string?: string;
  doc_count: number;
}

function buckets(aggs: Record<string, unknown> | undefined, name: string): TermsBucket[] {
  const agg = aggs?.[name] as { buckets?: TermsBucket[] } | undefined;
  return Array.isArray(agg?.buckets) ? agg.buckets : [];
}

/** Facets from the aggregations; byline names are null here (see {@link nameBylines}). */
export function toFacets(aggs: Record<string, unknown> | undefined): Facets {
  return {
    sections: buckets(aggs, 'sections').map((b) => ({ value: String(b.key), count: b.doc_count })),
    bylines: buckets(aggs, 'bylines').map((b) => ({ id: String(b.key), name: null, count: b.doc_count })),
    // From the timeline's yearly buckets (newest first, years with hits only): a second,
    // terms aggregation per year cost 5-10% of a first page's _msearch at 8 clients.
    years: yearBuckets(aggs)
      .filter((y) => y.count > 0)
      .reverse()
      .map((y) => ({ value: y.year, count: y.count })),
  };
}

export function totalOf(response: RawSearchResponse): number {
  const total = response.hits.total;
  if (typeof total === 'number') return total;
  return total?.value ?? 0;
}

const EMPTY_FACETS: Facets = Object.freeze({ sections: [], bylines: [], years: [] }) as Facets;

/** Facets for a kind that has none (images): the same keys, empty lists. */
export function emptyFacets(): Facets {
  return { ...EMPTY_FACETS, sections: [], bylines: [], years: [] };
}

/**
 * Fill in byline facet names: first from the page's own hits (they embed their bylines'
 * names), then from `lookup` (the bylines index) for the rest. Unknown names stay null.
 */
export async function nameBylines(
  facets: Facets,
  hits: readonly SearchHit[],
  lookup: (ids: string[]) => Promise<Map<string, string>>,
): Promise<Facets> {
  const known = new Map<string, string>();
  for (const hit of hits) for (const b of hit.bylines) if (b.name !== null) known.set(b.id, b.name);
  const missing = facets.bylines.filter((b) => !known.has(b.id)).map((b) => b.id);
  if (missing.length > 0) for (const [id, name] of await lookup(missing)) known.set(id, name);
  return { ...facets, bylines: facets.bylines.map((b) => ({ ...b, name: known.get(b.id) ?? null })) };
}
