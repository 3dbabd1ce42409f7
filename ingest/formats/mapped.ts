import { createHash } from 'node:crypto';
import { Parser } from 'htmlparser2';
import { normalizeDate } from '../records.ts';
import { joinParagraphs } from './xmlTree.ts';

/** The formats `presslog ingest` reads; `presslog` is its own NDJSON/JSON records. */
export const SOURCE_FORMATS = ['presslog', 'nitf', 'newsml', 'ninjs', 'wxr'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/** A byline, image or article record as a format maps it (validated later like any record). */
export type MappedRecord = { kind: 'byline' | 'image' | 'article'; id: string } & Record<string, unknown>;

/** What one source item (a document, an export's item) maps to. */
export interface MappedItem {
  /** Bylines and images first, then the article that refers to them. */
  records: MappedRecord[];
  /** Why the item cannot be ingested: the source field it lacks or has wrong. */
  reject?: { field: string; reason: string };
  /** Why the item is left out on purpose (a draft, a video): reported as a warning. */
  skipped?: string;
}

export const rejected = (field: string, reason: string): MappedItem => ({
  records: [],
  reject: { field, reason },
});

const ID_MAX = 128;

/**
 * A presslog id from a source's own identifier (pure, stable across runs): `prefix-`
 * and the identifier with characters outside A-Z a-z 0-9 _ - replaced, plus a short
 * hash of the exact identifier whenever anything was replaced or cut, so two source
 * ids never meet in one presslog id.
 */
export function stableId(prefix: string, ...parts: string[]): string {
  const source = parts.join(' ');
  const slug = source.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  if (slug === source && prefix.length + 1 + slug.length <= ID_MAX) return `${prefix}-${slug}`;
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const room = ID_MAX - prefix.length - hash.length - 2;
  return `${prefix}-${slug.slice(0, room).replace(/-+$/, '')}-${hash}`.replace(/--+/g, '-');
}

/** A byline id from a display name: the same person under the same name is one byline. */
export function bylineIdOf(prefix: string, name: string): string {
  return stableId(`${prefix}-by`, name.trim().toLowerCase().replace(/\s+/g, ' '));
}

/** Result of reading a source date: the ISO form, or why it is not usable. */
export type DateResult = { iso: string } | { error: string };

const BASIC =
  /^(\d{4})-?(\d{2})-?(\d{2})(?:T(\d{2}):?(\d{2})(?::?(\d{2}(?:\.\d+)?))?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * An ISO 8601 date in basic (`20020226T000000-0500`, NITF) or extended form, as the
 * records take it. A time without a zone is refused: it would mean the ingesting
 * machine's local time, a guess.
 */
export function isoDate(value: string | undefined): DateResult | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const m = BASIC.exec(value.trim());
  if (!m) return { error: `${JSON.stringify(value)} is not an ISO 8601 date` };
  const [, y, mo, d, h, mi, s, zone] = m;
  if (h === undefined) return checked(`${y}-${mo}-${d}`, value);
  if (zone === undefined) return { error: `${JSON.stringify(value)} has a time but no time zone` };
  const z = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  return checked(`${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${z}`, value);
}

function checked(iso: string, value: string): DateResult {
  const normalized = normalizeDate(iso);
  return normalized ? { iso: normalized } : { error: `${JSON.stringify(value)} is not a valid date` };
}

/** The first usable date among candidates `[field, value]`, or a reject naming the field. */
export function firstDate(
  candidates: ReadonlyArray<readonly [string, string | undefined]>,
): { iso: string } | { field: string; reason: string } {
  for (const [field, value] of candidates) {
    const result = isoDate(value);
    if (result === undefined) continue;
    if ('error' in result) return { field, reason: result.error };
    return result;
  }
  const names = candidates.map(([f]) => f).join(', ');
  return { field: candidates[0]![0], reason: `no publish date (looked at ${names})` };
}

const HTML_BLOCKS = new Set([
  'p',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'li',
  'dt',
  'dd',
  'tr',
  'pre',
  'blockquote',
  'div',
  'section',
  'article',
  'table',
  'ul',
  'ol',
  'dl',
  'figure',
  'figcaption',
  'br',
  'hr',
]);
const HTML_SKIPPED = new Set(['script', 'style', 'iframe', 'object', 'embed', 'template']);

/**
 * The clean text of an HTML body (ninjs `body_html`, WordPress `content:encoded`), with a
 * blank line between paragraphs: block elements end a paragraph, and so does a blank
 * line in the text (WordPress stores paragraphs that way and adds the `<p>`s when it
 * renders). Comments, among them Gutenberg's `<!-- wp:paragraph -->` block markers,
 * and scripts are dropped; entities are decoded.
 */
export function htmlText(html: string | undefined): string {
  if (!html) return '';
  const paragraphs: string[] = [];
  // The text arrives in pieces (entities split it): collected, joined once per paragraph.
  let current: string[] = [];
  let skipping = 0;
  const breakParagraph = () => {
    if (current.length > 0) paragraphs.push(current.length === 1 ? current[0]! : current.join(''));
    current = [];
  };
  const parser = new Parser(
    {
      onopentag(name) {
        if (HTML_SKIPPED.has(name)) skipping++;
        else if (HTML_BLOCKS.has(name)) breakParagraph();
      },
      ontext(text) {
        if (skipping > 0) return;
        if (!text.includes('\n')) {
          current.push(text);
          return;
        }
        const pieces = text.split(/\n[ \t\r]*\n/);
        current.push(pieces[0]!);
        for (const piece of pieces.slice(1)) {
          breakParagraph();
          current.push(piece);
        }
      },
      onclosetag(name) {
        if (HTML_SKIPPED.has(name)) skipping = Math.max(0, skipping - 1);
        else if (HTML_BLOCKS.has(name)) breakParagraph();
      },
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  breakParagraph();
  return joinParagraphs(paragraphs);
}

/** The last segment of a path or URL (query and fragment dropped), for an image file name. */
export function fileNameOf(href: string): string {
  const path = href.replace(/[?#].*$/, '');
  return decodeURIComponent(path.split('/').filter(Boolean).pop() ?? path);
}

/** A tag for a coded subject: its label and its code, e.g. `Weather (subj:17000000)`. */
export function subjectTag(code: string | undefined, label: string | undefined): string | undefined {
  const text = label && code ? `${label} (${code})` : (label ?? code);
  return text?.trim().slice(0, 100) || undefined;
}

/** Distinct, non-empty strings in order. */
export function distinct(values: Iterable<string | undefined>): string[] {
  return [...new Set([...values].filter((v): v is string => v !== undefined && v.trim() !== ''))];
}
