import { SEARCH_LIMITS, type SearchKind, type SearchRequest, type SortValue } from './params.ts';

/**
 * The query layer's pure half: a validated {@link SearchRequest} (see `params.ts`, which
 * checks the parameters as the CLI and the HTTP API receive them) in, Elasticsearch
 * request bodies out. It performs no I/O; `searcher.ts` sends what this builds.
 *
 * User text reaches Elasticsearch only as the `query` string of `simple_query_string`
 * (which never fails on syntax and supports only the operators enabled by
 * {@link QUERY_FLAGS}) and of `multi_match` (which does not parse syntax at all), never
 * as DSL. Every other parameter is validated into a value of a known type first.
 */

/**
 * The `simple_query_string` operators users may type: `"phrase"`, `"phrase"~slop`, `+`/`|`
 * (and/or), `-` (not), `( )`, `word*` (prefix), `word~1` (fuzzy), `\` escapes.
 * Everything else a user types is searched as text.
 */
export const QUERY_FLAGS = 'AND|OR|NOT|PHRASE|PRECEDENCE|PREFIX|FUZZY|SLOP|WHITESPACE|ESCAPE';

/** Options of one page's request body. */
export interface PageOptions {
  /** Point in time id (the search then names no index). */
  pitId: string;
  keepAlive: string;
  /** Sort values of the last hit of the previous page. */
  searchAfter?: readonly SortValue[];
  /**
   * Count the hits in this search (`track_total_hits`). A first page gets its exact total
   * from the facets search ({@link buildFacetsBody}) and a later page from its cursor, so
   * the page of hits itself never counts (default false).
   */
  countTotal?: boolean;
  /** Include the typo-tolerant clause (default true); see {@link hasTypoClause}. */
  typo?: boolean;
}

/** Index fields searched for each kind, with their boosts (headline > captions, bylines, tags > body). */
export const SEARCH_FIELDS: Readonly<Record<SearchKind, readonly string[]>> = Object.freeze({
  article: ['headline^3', 'images.caption^2', 'bylines.name^2', 'tags.text^2', 'body'],
  image: ['caption^2', 'credit', 'creator', 'keywords^2', 'fileName.text'],
});

/** Fields of the returned `_source`: never the article body, which runs to hundreds of KB. */
const SOURCE_FIELDS: Readonly<Record<SearchKind, readonly string[]>> = {
  article: ['id', 'headline', 'publishedAt', 'section', 'tags', 'bylines', 'images'],
  image: [
    'id',
    'caption',
    'credit',
    'creator',
    'keywords',
    'fileName',
    'placeholder',
    'renditions',
    'articleIds',
    'updatedAt',
    'status',
  ],
};

const DATE_FIELD: Readonly<Record<SearchKind, string>> = { article: 'publishedAt', image: 'updatedAt' };

// Typed operators switch the typo-tolerant clause off: it does not understand them, and
// matching `-war` fuzzily would bring back exactly the documents the user excluded.
const SYNTAX = /["|+()*~\\]|(^|\s)-/;

/** True when the text uses `simple_query_string` operators rather than plain words. */
export function usesQuerySyntax(q: string): boolean {
  return SYNTAX.test(q);
}

/** Names of the two text clauses, reported per hit in `matched_queries`. */
export const EXACT_CLAUSE = 'exact';
export const TYPO_CLAUSE = 'typo';

function filters(request: SearchRequest): Record<string, unknown>[] {
  const filter: Record<string, unknown>[] = [];
  if (request.byline !== undefined) filter.push({ term: { 'bylines.id': request.byline } });
  if (request.section !== undefined) filter.push({ term: { section: request.section } });
  if (request.tag !== undefined) filter.push({ term: { tags: request.tag } });
  if (request.from !== undefined || request.to !== undefined) {
    const range: Record<string, string> = { format: 'strict_date_optional_time' };
    if (request.from !== undefined) range.gte = request.from;
    if (request.to !== undefined) range.lte = request.to;
    filter.push({ range: { [DATE_FIELD[request.kind]]: range } });
  }
  return filter;
}

/**
 * The free-text clauses: `exact` (simple_query_string: the user's words and operators) and,
 * for short plain-word queries, `typo` (the same words matched fuzzily). Undefined when
 * the text is empty.
 */
export function textClauses(
  request: SearchRequest,
): { exact: Record<string, unknown>; typo?: Record<string, unknown> } | undefined {
  if (request.q === '') return undefined;
  const fields = [...SEARCH_FIELDS[request.kind]];
  const exact = {
    simple_query_string: {
      query: request.q,
      fields,
      default_operator: 'and',
      flags: QUERY_FLAGS,
      lenient: true,
      analyze_wildcard: false,
      auto_generate_synonyms_phrase_query: false,
      fuzzy_max_expansions: 20,
      // Words match stemmed ("railroads" finds "railroad"); "quoted phrases" match the
      // unstemmed `.exact` sub-fields, word for word.
      quote_field_suffix: '.exact',
      _name: EXACT_CLAUSE,
    },
  };
  const words = request.q.split(/\s+/).filter(Boolean);
  const plainWords =
    !usesQuerySyntax(request.q) &&
    words.length <= SEARCH_LIMITS.maxFuzzyWords &&
    words.every((w) => w.length <= SEARCH_LIMITS.maxFuzzyWordChars);
  if (!plainWords) return { exact };
  // Automatic typo tolerance: the same words, each allowed an edit distance by length
  // (AUTO: 0 up to 2 letters, 1 up to 5, else 2), scored well below exact matches so a
  // correctly spelled hit always ranks first. The first letter must match: it keeps
  // the expansion small and misspellings rarely get the first letter wrong.
  const typo = {
    multi_match: {
      query: request.q,
      fields,
      type: 'best_fields',
      operator: 'and',
      fuzziness: 'AUTO',
      prefix_length: 1,
      max_expansions: 20,
      lenient: true,
      boost: 0.2,
      _name: TYPO_CLAUSE,
    },
  };
  return { exact, typo };
}

/** True when the request's text gets the typo-tolerant clause (short plain-word queries). */
export function hasTypoClause(request: SearchRequest): boolean {
  return textClauses(request)?.typo !== undefined;
}

/**
 * The `query` part of the request: free text (or match_all) plus the filters. `typo:
 * false` leaves the typo-tolerant clause out (the searcher first tries without it: the
 * fuzzy clause over every field is most of a search's cost, and only a query whose words
 * fill less than a page needs it).
 */
export function buildQuery(
  request: SearchRequest,
  options: { typo?: boolean } = {},
): Record<string, unknown> {
  const filter = filters(request);
  const text = textClauses(request);
  if (!text) return filter.length === 0 ? { match_all: {} } : { bool: { filter } };
  // Clause names (`_name`) only with both clauses: a hit's `matched_queries` then tells a
  // typo-only hit apart. Named clauses cost a pass over every hit in the fetch phase, and
  // alone the exact clause has nothing to tell apart.
  const should = text.typo && options.typo !== false ? [text.exact, text.typo] : [unnamed(text.exact)];
  return { bool: { should, minimum_should_match: 1, ...(filter.length > 0 ? { filter } : {}) } };
}

function unnamed(clause: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(clause).map(([type, body]) => {
      const { _name, ...rest } = body as Record<string, unknown>;
      return [type, rest];
    }),
  );
}

/**
 * Sort order. With a point in time Elasticsearch appends the `_shard_doc` tiebreaker
 * itself, so every hit's sort values are unique and `search_after` neither skips nor
 * repeats a hit.
 */
export function buildSort(request: SearchRequest): Record<string, unknown>[] {
  const date = { [DATE_FIELD[request.kind]]: { order: 'desc', missing: '_last' } };
  return request.sort === 'relevance' ? [{ _score: { order: 'desc' } }, date] : [date];
}

/** Number of sort values per hit, including the implicit `_shard_doc` tiebreaker. */
export function sortValueCount(request: SearchRequest): number {
  return buildSort(request).length + 1;
}

/**
 * Highlighting. Only the exact clause is highlighted: highlighting a fuzzy query means
 * running its automaton over every token of every returned body (hundreds of KB each),
 * which cost several times the search itself. Hits that matched only through typo
 * tolerance get their highlights from {@link buildTypoHighlightBody}, for them alone.
 */
export function buildHighlight(
  request: SearchRequest,
  options: { typo?: boolean } = {},
): Record<string, unknown> {
  const text = textClauses(request);
  const typo = text?.typo && options.typo !== false;
  return { ...highlightFields(request.kind), ...(typo ? { highlight_query: text.exact } : {}) };
}

function highlightFields(kind: SearchKind): Record<string, unknown> {
  // encoder html: ES escapes the document text (&, <, >, ", ', /) and adds only our
  // <mark> tags, so a highlight is safe HTML with exactly one kind of element in it.
  const common = { encoder: 'html', pre_tags: ['<mark>'], post_tags: ['</mark>'], require_field_match: true };
  if (kind === 'image') {
    return { ...common, fields: { caption: { number_of_fragments: 0, matched_fields: ['caption.exact'] } } };
  }
  // matched_fields: a quoted phrase matches the unstemmed `.exact` sub-field; its matches
  // are marked in the field's own text.
  return {
    ...common,
    fields: {
      headline: { number_of_fragments: 0, matched_fields: ['headline.exact'] },
      // no_match_size: an article that matched elsewhere (or a browse without text) still
      // gets the start of its body as a snippet.
      body: {
        fragment_size: 180,
        number_of_fragments: 2,
        no_match_size: 180,
        matched_fields: ['body.exact'],
      },
      'images.caption': { number_of_fragments: 0, matched_fields: ['images.caption.exact'] },
    },
  };
}

/**
 * Highlights for the hits (by id) that matched only through typo tolerance, so "Nagasakki"
 * shows "<mark>Nagasaki</mark>": the fuzzy clause highlighted, on those documents only.
 */
export function buildTypoHighlightBody(
  request: SearchRequest,
  ids: readonly string[],
  page: Pick<PageOptions, 'pitId' | 'keepAlive'>,
): Record<string, unknown> | undefined {
  const typo = textClauses(request)?.typo;
  if (!typo || ids.length === 0) return undefined;
  return {
    size: ids.length,
    query: { ids: { values: [...ids] } },
    _source: false,
    highlight: { ...highlightFields(request.kind), highlight_query: typo },
    pit: { id: page.pitId, keep_alive: page.keepAlive },
  };
}

export const FACET_SIZES = Object.freeze({ sections: 50, bylines: 50, years: 400 });

export function buildAggregations(kind: SearchKind): Record<string, unknown> | undefined {
  if (kind === 'image') return undefined;
  return {
    sections: { terms: { field: 'section', size: FACET_SIZES.sections } },
    // Names are not read here: a top_hits per bucket would load whole articles (bodies of
    // hundreds of KB) from _source. The searcher fills them in from the bylines index.
    bylines: { terms: { field: 'bylines.id', size: FACET_SIZES.bylines } },
    years: { terms: { field: 'year', size: FACET_SIZES.years, order: { _key: 'desc' } } },
    // The timeline: hits per year from the first to the last (empty years included), folded
    // into decades by the searcher when the span is too wide for one bar per year.
    timeline: {
      date_histogram: { field: 'publishedAt', calendar_interval: 'year', format: 'yyyy', min_doc_count: 0 },
    },
  };
}

/** The `_search` body for one page of hits, to be sent with the point in time it names. */
export function buildSearchBody(request: SearchRequest, page: PageOptions): Record<string, unknown> {
  return {
    size: request.size,
    query: buildQuery(request, { typo: page.typo }),
    sort: buildSort(request),
    track_scores: true,
    // Counting every match makes Elasticsearch visit every one of them; the count comes
    // from elsewhere (PageOptions.countTotal).
    track_total_hits: page.countTotal === true,
    _source: { includes: SOURCE_FIELDS[request.kind] },
    highlight: buildHighlight(request, { typo: page.typo }),
    pit: { id: page.pitId, keep_alive: page.keepAlive },
    ...(page.searchAfter ? { search_after: [...page.searchAfter] } : {}),
  };
}

/**
 * The first page's second search: no hits (`size: 0`), the exact total, the facets and
 * the timeline, in the same point in time. A `size: 0` request is what Elasticsearch's
 * shard request cache keeps, keyed by the request and the index's searcher (a new point
 * in time on unchanged segments shares it): the same search's facets cost nothing the
 * second time, until a refresh that changed the index.
 */
export function buildFacetsBody(
  request: SearchRequest,
  page: Pick<PageOptions, 'pitId' | 'keepAlive' | 'typo'>,
): Record<string, unknown> {
  const aggs = buildAggregations(request.kind);
  return {
    size: 0,
    query: buildQuery(request, { typo: page.typo }),
    track_total_hits: true,
    pit: { id: page.pitId, keep_alive: page.keepAlive },
    ...(aggs ? { aggs } : {}),
  };
}

/**
 * The first page as one `_msearch`: the page of hits ({@link buildSearchBody}, not
 * counting) and the facets search ({@link buildFacetsBody}, request cache on). `extra`
 * goes into both bodies (the searcher's `timeout`).
 */
export function buildFirstPageSearches(
  request: SearchRequest,
  page: Omit<PageOptions, 'searchAfter' | 'countTotal'>,
  extra: Record<string, unknown> = {},
): Record<string, unknown>[] {
  return [
    {},
    { ...buildSearchBody(request, { ...page, countTotal: false }), ...extra },
    { request_cache: true },
    { ...buildFacetsBody(request, page), ...extra },
  ];
}
