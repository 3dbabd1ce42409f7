import { createHash } from 'node:crypto';
import { ID_PATTERN } from '../schemas/names.ts';
import { parseDateBound } from './dates.ts';
import { InvalidQueryError } from './errors.ts';

/**
 * Search parameters in, as the CLI and the HTTP API receive them (strings), a validated
 * {@link SearchRequest} out, with the limits that keep a search affordable. Pure; the
 * request bodies are built from it in `query.ts`.
 */

export const SEARCH_KINDS = ['article', 'image'] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];

export const SEARCH_SORTS = ['relevance', 'date'] as const;
export type SearchSort = (typeof SEARCH_SORTS)[number];

export const SEARCH_LIMITS = Object.freeze({
  /** Longer text is not a search, it is a paste accident or an attack: 400. */
  maxQueryChars: 1_000,
  /** Section and tag values (the event schemas cap them at 100 characters). */
  maxValueChars: 100,
  defaultSize: 10,
  maxSize: 100,
  /** How far `next` cursors go: past this many results the answer has no `next`. */
  maxDepth: 10_000,
  maxCursorChars: 4_096,
  /** Words (terms) in one query: each is a clause per searched field. */
  maxTerms: 32,
  /**
   * Fuzzy (`word~2`) and prefix (`word*`) terms in one query: each expands into up to
   * `fuzzy_max_expansions` terms per field, and 70 of them cost Elasticsearch seconds of CPU.
   */
  maxExpandingTerms: 4,
  /** The automatic typo-tolerant clause is only added to short queries (see buildQuery). */
  maxFuzzyWords: 8,
  /** ...and only when no word is longer than this (a fuzzy automaton grows with the word). */
  maxFuzzyWordChars: 30,
});

/** Raw parameters, as strings from a query string or a command line. Unknown keys are ignored. */
export interface SearchParams {
  q?: string;
  byline?: string;
  section?: string;
  tag?: string;
  from?: string;
  to?: string;
  kind?: string;
  sort?: string;
  size?: string | number;
  after?: string;
  /** Name of an `--as-of` index to search instead of the live alias (see `GET /api/archives`). */
  asOf?: string;
}

/** A validated search. Dates are normalized to the instants that bound the range (inclusive). */
export interface SearchRequest {
  /** Trimmed free text; empty means "everything that passes the filters". */
  q: string;
  byline?: string;
  section?: string;
  tag?: string;
  /** First instant included, ISO 8601 UTC. */
  from?: string;
  /** Last instant included, ISO 8601 UTC (`--to 1865` includes all of 1865). */
  to?: string;
  kind: SearchKind;
  sort: SearchSort;
  size: number;
  /** Opaque cursor from a previous answer's `next`. */
  after?: string;
  /** An `--as-of` index name (checked against the kind's index prefix by the searcher). */
  asOf?: string;
}

export type SortValue = string | number | null;

function text(value: unknown, parameter: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) throw new InvalidQueryError(parameter, 'give it once');
  if (typeof value !== 'string') throw new InvalidQueryError(parameter, 'must be a string');
  return value;
}

function filterValue(value: unknown, parameter: string): string | undefined {
  const raw = text(value, parameter)?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > SEARCH_LIMITS.maxValueChars) {
    throw new InvalidQueryError(parameter, `at most ${SEARCH_LIMITS.maxValueChars} characters`);
  }
  return raw;
}

function oneOf<T extends string>(value: unknown, parameter: string, allowed: readonly T[]): T | undefined {
  const raw = text(value, parameter)?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new InvalidQueryError(
      parameter,
      `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw.slice(0, 40))}`,
    );
  }
  return raw as T;
}

function size(value: unknown): number {
  if (value === undefined || value === null || value === '') return SEARCH_LIMITS.defaultSize;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^-?\d{1,10}$/.test(value.trim())) n = Number(value.trim());
  else throw new InvalidQueryError('size', `must be a whole number from 1 to ${SEARCH_LIMITS.maxSize}`);
  if (!Number.isInteger(n) || n < 1 || n > SEARCH_LIMITS.maxSize) {
    throw new InvalidQueryError(
      'size',
      `must be a whole number from 1 to ${SEARCH_LIMITS.maxSize}, got ${n}`,
    );
  }
  return n;
}

/** The shape of an as-of index name, `<ns>-<projection>-asof-<stamp>` (see projectors/indexes.ts). */
export const AS_OF_PATTERN = /^[a-z0-9][a-z0-9_-]{0,80}-asof-[0-9t]{8,24}$/;

/**
 * Validate raw parameters into a {@link SearchRequest}; throws {@link InvalidQueryError}
 * naming the parameter at fault. An empty `q` is allowed: it browses everything that passes
 * the filters, newest first unless `sort=relevance` is asked for.
 */
export function parseSearchParams(params: SearchParams | Record<string, unknown>): SearchRequest {
  const raw = params as Record<string, unknown>;
  const qRaw = text(raw.q, 'q') ?? '';
  if (qRaw.length > SEARCH_LIMITS.maxQueryChars) {
    throw new InvalidQueryError('q', `at most ${SEARCH_LIMITS.maxQueryChars} characters, got ${qRaw.length}`);
  }
  const q = qRaw.trim();
  checkQueryCost(q);
  const kind = oneOf(raw.kind, 'kind', SEARCH_KINDS) ?? 'article';
  const sort = oneOf(raw.sort, 'sort', SEARCH_SORTS) ?? (q === '' ? 'date' : 'relevance');
  const byline = filterValue(raw.byline, 'byline');
  if (byline !== undefined && !ID_PATTERN.test(byline)) {
    throw new InvalidQueryError('byline', 'must be a byline id (letters, digits, - and _)');
  }
  const section = filterValue(raw.section, 'section');
  const tag = filterValue(raw.tag, 'tag');
  const fromRaw = filterValue(raw.from, 'from');
  const toRaw = filterValue(raw.to, 'to');
  const from = fromRaw === undefined ? undefined : parseDateBound(fromRaw, 'start');
  const to = toRaw === undefined ? undefined : parseDateBound(toRaw, 'end');
  if (from !== undefined && to !== undefined && from > to) {
    throw new InvalidQueryError('from', `${fromRaw} is after to=${toRaw}`);
  }
  if (kind === 'image') {
    // Images carry no bylines, sections, tags or publication dates of their own.
    const articleOnly = Object.entries({ byline, section, tag, from, to }).find(([, v]) => v !== undefined);
    if (articleOnly)
      throw new InvalidQueryError(articleOnly[0], 'filters articles only; it cannot be used with kind=image');
  }
  const after = text(raw.after, 'after')?.trim() || undefined;
  if (after !== undefined && after.length > SEARCH_LIMITS.maxCursorChars) {
    throw new InvalidQueryError('after', 'not a cursor from this API');
  }
  const asOf = filterValue(raw.asOf, 'asOf');
  if (asOf !== undefined && !AS_OF_PATTERN.test(asOf)) {
    throw new InvalidQueryError('asOf', 'must be the name of an archive index (see GET /api/archives)');
  }
  return { q, byline, section, tag, from, to, kind, sort, size: size(raw.size), after, asOf };
}

/**
 * Refuse text that would cost far more to run than any search a person types: too many
 * terms, or too many that expand (fuzzy `~`, prefix `*`). Counted on the raw text, the way
 * `simple_query_string` splits it on whitespace; quoted phrases count once per word.
 */
export function checkQueryCost(q: string): void {
  const words = q.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length > SEARCH_LIMITS.maxTerms) {
    throw new InvalidQueryError('q', `at most ${SEARCH_LIMITS.maxTerms} words, got ${words.length}`);
  }
  // `word~N` is fuzzy, `"a phrase"~N` is a slop (cheap): only a tilde right after a word counts.
  const expanding = words.filter((w) => /[^"\s]~\d*\)*$/.test(w) || /[^\s\\]\*\)*$/.test(w)).length;
  if (expanding > SEARCH_LIMITS.maxExpandingTerms) {
    throw new InvalidQueryError(
      'q',
      `at most ${SEARCH_LIMITS.maxExpandingTerms} fuzzy (word~) or prefix (word*) terms, got ${expanding}`,
    );
  }
}

/**
 * A short hash of everything that defines a result list (not the page size), stored in
 * cursors so a cursor cannot be replayed against a different search.
 */
export function searchFingerprint(request: SearchRequest): string {
  const { q, byline, section, tag, from, to, kind, sort, asOf } = request;
  const canonical = JSON.stringify([
    asOf ?? null,
    q,
    byline ?? null,
    section ?? null,
    tag ?? null,
    from ?? null,
    to ?? null,
    kind,
    sort,
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}
