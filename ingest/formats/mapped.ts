import { createHash } from 'node:crypto';
import { normalizeDate } from '../records.ts';

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

/**
 * Byline ids made so far, by prefix and name: a name recurs in every item of its author,
 * and its id (a sha256 when the name has a space) was ~0.1 s of a `--cpu-prof` profile
 * of 5,000 NITF files. Emptied when full, so it stays small.
 */
const bylineIds = new Map<string, string>();
const BYLINE_IDS_MAX = 10_000;

/** A byline id from a display name: the same person under the same name is one byline. */
export function bylineIdOf(prefix: string, name: string): string {
  const key = `${prefix}\u0000${name}`;
  let id = bylineIds.get(key);
  if (id === undefined) {
    if (bylineIds.size >= BYLINE_IDS_MAX) bylineIds.clear();
    id = stableId(`${prefix}-by`, name.trim().toLowerCase().replace(/\s+/g, ' '));
    bylineIds.set(key, id);
  }
  return id;
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
