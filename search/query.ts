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
  /**
   * The typo-tolerant clause: `corrections` found for the words (see {@link buildSuggestBody});
   * absent or false: the words alone. The searcher never sends the fuzzy clause itself.
   */
  typo?: false | Corrections;
}

/**
 * Per word of the text, in order, index terms within its edit distance (the typo clause's
 * alternatives; a word without any keeps only itself).
 */
export type Corrections = readonly (readonly string[])[];

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

/** Typo-tolerant matches score well below exact ones, so a correctly spelled hit ranks first. */
const TYPO_BOOST = 0.2;

/**
 * The free-text clauses: `exact` (simple_query_string: the user's words and operators) and,
 * for short plain-word queries, `typo` (the same words matched fuzzily: what a saved
 * search's alert matches with; the searcher sends {@link correctedClause} instead).
 * Undefined when the text is empty.
 */
export function textClauses(
  request: SearchRequest,
): { exact: Record<string, unknown>; typo?: Record<string, unknown> } | undefined {
  if (request.q === '') return undefined;
  const fields = [...SEARCH_FIELDS[request.kind]];
  const exact = {
    simple_query_string: {
      query: withPossessives(request.q),
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
    },
  };
  if (!typoWords(request)) return { exact };
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
      boost: TYPO_BOOST,
    },
  };
  return { exact, typo };
}

/** Lucene's English stop words (`_english_`, our analyzers' stop filter): they ask nothing. */
const STOP_WORDS = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(
    ' ',
  ),
);

/**
 * A plain-word text with each word also matching its possessive: `Obama said` as
 * `(Obama | Obama's | Obama’s) (said | said's | said’s)`. The standard tokenizer keeps
 * "Obama's" as one token, and the hunspell dictionary stems the possessive of only the
 * words it flags for it (names, which it no longer finds once lowercased): "nation's" and
 * "Blossfeldt's" stay whole, so `nation` or `Blossfeldt` would not find them. (The full
 * distribution's `english` analyzer strips them with `possessive_english`, a filter of
 * analysis-common, which the build we run does not have.) Only words of letters, not stop
 * words (whose possessive form is not a stop word: the AND would then require it); a
 * possessive typed asks for the word as well. Text with operators is searched as typed.
 */
export function withPossessives(q: string): string {
  if (usesQuerySyntax(q)) return q;
  const words = q.split(/\s+/).filter(Boolean);
  const expand = (w: string) => {
    // A possessive typed finds the word too, as `english` would have it: Britain's, Britain.
    const base = /^(\p{L}+)['’]s$/u.exec(w)?.[1] ?? w;
    return /^\p{L}+$/u.test(base) && !STOP_WORDS.has(base.toLowerCase())
      ? `(${base} | ${base}'s | ${base}’s)`
      : w;
  };
  const expanded = words.map(expand);
  return expanded.some((e, i) => e !== words[i]) ? expanded.join(' ') : q;
}

/** The words of a short plain-word text (the ones typo tolerance applies to), else undefined. */
export function typoWords(request: SearchRequest): string[] | undefined {
  const words = request.q.split(/\s+/).filter(Boolean);
  const plain =
    words.length > 0 &&
    !usesQuerySyntax(request.q) &&
    words.length <= SEARCH_LIMITS.maxFuzzyWords &&
    words.every((w) => w.length <= SEARCH_LIMITS.maxFuzzyWordChars);
  return plain ? words : undefined;
}

/**
 * The searcher's typo-tolerant clause: every word must match (in any searched field) itself
 * or one of its corrections, scored like the fuzzy clause below the exact one. Concrete
 * terms rather than a fuzzy query: the search costs what a plain one does, and the
 * highlighter finds them through the indexed offsets (highlighting a fuzzy query made it
 * scan the field's whole term dictionary per hit: 44-82 ms for a page of long speeches,
 * against 5-6 ms for its corrections). Undefined when no word has a correction.
 */
export function correctedClause(
  request: SearchRequest,
  corrections: Corrections,
): Record<string, unknown> | undefined {
  const words = typoWords(request);
  if (!words || !corrections.some((c) => c.length > 0)) return undefined;
  const fields = [...SEARCH_FIELDS[request.kind]];
  return {
    bool: {
      must: words.map((word, i) => ({
        multi_match: {
          query: [word, ...(corrections[i] ?? [])].join(' '),
          fields,
          operator: 'or',
          lenient: true,
          // A word the analyzer drops (a stop word: "the") asks nothing, as in the exact clause.
          zero_terms_query: 'all',
        },
      })),
      boost: TYPO_BOOST,
    },
  };
}

/** Fields whose terms a misspelled word is corrected to: the searched fields, unstemmed where they can be. */
const CORRECTION_FIELDS: Readonly<Record<SearchKind, readonly string[]>> = {
  article: ['headline.exact', 'images.caption.exact', 'bylines.name.exact', 'tags.text', 'body.exact'],
  image: ['caption.exact', 'credit.exact', 'creator.exact', 'keywords.exact', 'fileName.text'],
};

/**
 * Corrections kept per word: the best by similarity, then frequency ("tarrif" is "tariff",
 * not also "terrify": an alternative's rarity would otherwise make it rank first).
 */
export const MAX_CORRECTIONS = 1;

/**
 * A `size: 0` search asking the term suggester (core Elasticsearch) for each word's
 * corrections in each field, with the fuzzy clause's edit distance (AUTO: none up to 2
 * letters, 1 up to 5, else 2) and first letter, and counting the documents with the word
 * itself (a word any searched field has is not corrected). Undefined when no word is long
 * enough to correct.
 */
export function buildSuggestBody(
  request: SearchRequest,
  page: Pick<PageOptions, 'pitId' | 'keepAlive'>,
): Record<string, unknown> | undefined {
  const words = typoWords(request);
  if (!words) return undefined;
  const fields = CORRECTION_FIELDS[request.kind];
  const suggest: Record<string, unknown> = {};
  const aggs: Record<string, unknown> = {};
  words.forEach((word, w) => {
    const edits = word.length <= 2 ? 0 : word.length <= 5 ? 1 : 2;
    if (edits === 0) return;
    // Documents having the word itself, or its possessive (which the search found too).
    const having = { query: withPossessives(word), fields: [...fields], flags: QUERY_FLAGS, lenient: true };
    aggs[`w${w}`] = { filter: { simple_query_string: having } };
    fields.forEach((field, f) => {
      suggest[`w${w}f${f}`] = {
        text: word,
        term: {
          field,
          suggest_mode: 'always',
          max_edits: edits,
          prefix_length: 1,
          min_word_length: 3,
          size: 3,
        },
      };
    });
  });
  if (Object.keys(suggest).length === 0) return undefined;
  return { size: 0, suggest, aggs, pit: { id: page.pitId, keep_alive: page.keepAlive } };
}

interface SuggestOption {
  text: string;
  score: number;
  freq?: number;
}

/** The parts of a {@link buildSuggestBody} answer that {@link correctionsOf} reads. */
export interface SuggestAnswer {
  suggest?: Record<string, readonly { options?: readonly SuggestOption[] }[]>;
  aggregations?: Record<string, { doc_count?: number } | undefined>;
}

/** Each word's corrections from a {@link buildSuggestBody} answer (none: `[]`). */
export function correctionsOf(request: SearchRequest, answer: SuggestAnswer): Corrections {
  const words = typoWords(request) ?? [];
  return words.map((word, w) => {
    if ((answer.aggregations?.[`w${w}`]?.doc_count ?? 0) > 0) return [];
    const options: SuggestOption[] = [];
    for (const [name, entries] of Object.entries(answer.suggest ?? {})) {
      if (!name.startsWith(`w${w}f`)) continue;
      for (const entry of entries) options.push(...(entry.options ?? []));
    }
    options.sort((a, b) => b.score - a.score || (b.freq ?? 0) - (a.freq ?? 0));
    const lower = word.toLowerCase();
    const texts = [...new Set(options.map((o) => o.text))].filter((t) => t !== lower);
    return texts.slice(0, MAX_CORRECTIONS);
  });
}

/**
 * The `query` part of the request: free text (or match_all) plus the filters. `typo`:
 * `true` (the default) adds the fuzzy clause (saved searches' alerts), `false` leaves it
 * out, {@link Corrections} add the {@link correctedClause} (the searcher: first without,
 * then, when the words fill less than a page, with the corrections the suggester found).
 */
export function buildQuery(
  request: SearchRequest,
  options: { typo?: boolean | Corrections } = {},
): Record<string, unknown> {
  const filter = filters(request);
  const text = textClauses(request);
  if (!text) return filter.length === 0 ? { match_all: {} } : { bool: { filter } };
  const { typo = true } = options;
  const tolerant = typo === true ? text.typo : typo === false ? undefined : correctedClause(request, typo);
  const should = tolerant ? [text.exact, tolerant] : [text.exact];
  return { bool: { should, minimum_should_match: 1, ...(filter.length > 0 ? { filter } : {}) } };
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
 * Highlighting: the search's own query (the exact clause and any corrections: concrete
 * terms, found through the indexed offsets). With the fuzzy clause (`typo: true`) only the
 * exact clause is highlighted: highlighting a fuzzy query scans the field's term
 * dictionary for every returned body, several times the search itself.
 */
export function buildHighlight(
  request: SearchRequest,
  options: { typo?: boolean | Corrections } = {},
): Record<string, unknown> {
  const text = textClauses(request);
  const fuzzy = text?.typo && (options.typo ?? true) === true;
  const phrases = request.q.includes('"');
  return { ...highlightFields(request.kind, phrases), ...(fuzzy ? { highlight_query: text.exact } : {}) };
}

function highlightFields(kind: SearchKind, phrases: boolean): Record<string, unknown> {
  // encoder html: ES escapes the document text (&, <, >, ", ', /) and adds only our
  // <mark> tags, so a highlight is safe HTML with exactly one kind of element in it.
  const common = { encoder: 'html', pre_tags: ['<mark>'], post_tags: ['</mark>'], require_field_match: true };
  // matched_fields: a quoted phrase matches the unstemmed `.exact` sub-field; its matches
  // are marked in the field's own text. Only then: the highlighter reads the offsets of both
  // fields for every hit (a page of the bench mix ~1 ms slower).
  const exact = (field: string) => (phrases ? { matched_fields: [`${field}.exact`] } : {});
  if (kind === 'image') {
    // The credit and creator too: a search for a photographer or an agency shows why it matched.
    const whole = (field: string) => ({ number_of_fragments: 0, ...exact(field) });
    return {
      ...common,
      fields: { caption: whole('caption'), credit: whole('credit'), creator: whole('creator') },
    };
  }
  return {
    ...common,
    fields: {
      headline: { number_of_fragments: 0, ...exact('headline') },
      // no_match_size: an article that matched elsewhere (or a browse without text) still
      // gets the start of its body as a snippet.
      body: { fragment_size: 180, number_of_fragments: 2, no_match_size: 180, ...exact('body') },
      'images.caption': { number_of_fragments: 0, ...exact('images.caption') },
    },
  };
}

export const FACET_SIZES = Object.freeze({ sections: 50, bylines: 50 });

export function buildAggregations(kind: SearchKind): Record<string, unknown> | undefined {
  if (kind === 'image') return undefined;
  return {
    sections: { terms: { field: 'section', size: FACET_SIZES.sections } },
    // Names are not read here: a top_hits per bucket would load whole articles (bodies of
    // hundreds of KB) from _source. The searcher fills them in from the bylines index.
    bylines: { terms: { field: 'bylines.id', size: FACET_SIZES.bylines } },
    // The timeline: hits per year from the first to the last (empty years included), folded
    // into decades by the searcher when the span is too wide for one bar per year; the
    // years facet is its years with hits (UTC years, as the date filters count them).
    timeline: {
      date_histogram: { field: 'publishedAt', calendar_interval: 'year', format: 'yyyy', min_doc_count: 0 },
    },
  };
}

/** The `_search` body for one page of hits, to be sent with the point in time it names. */
export function buildSearchBody(request: SearchRequest, page: PageOptions): Record<string, unknown> {
  return {
    size: request.size,
    query: buildQuery(request, { typo: page.typo ?? false }),
    sort: buildSort(request),
    track_scores: true,
    // Counting every match makes Elasticsearch visit every one of them; the count comes
    // from elsewhere (PageOptions.countTotal).
    track_total_hits: page.countTotal === true,
    _source: { includes: SOURCE_FIELDS[request.kind] },
    highlight: buildHighlight(request, { typo: page.typo ?? false }),
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
    query: buildQuery(request, { typo: page.typo ?? false }),
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
