/**
 * Index settings shared by the three projections. The Elasticsearch we run has only the
 * server's built-in analysis (no analysis-common module: no `english` analyzer, no
 * stemmer, no asciifolding, no edge_ngram), so text analysis is built from the parts
 * that are always there: the `standard` tokenizer and the `lowercase`, `stop`,
 * `shingle` and `hunspell` token filters, plus a `lowercase` normalizer for keyword
 * sub-fields. English stemming is `hunspell` over Debian's en_US dictionary plus
 * presslog's own stem exceptions, installed into the node's config by `services up`
 * (see scripts/services/hunspell.ts).
 */

/**
 * The hunspell locale: a directory under the node's `config/hunspell/`. Not `en_US`: a node
 * caches a dictionary on first use, so presslog's own (Debian's en_US plus our stem
 * exceptions) has a name of its own that nothing else loads first.
 */
export const HUNSPELL_LOCALE = 'presslog_en_US';
/** Analyzer of the stemmed full-text fields: standard tokens, lowercased, stop words removed, hunspell stems. */
export const STEMMED_ANALYZER = 'presslog_english';
/** Sub-field of every full-text field indexed without stemming: quoted phrases search it. */
export const EXACT_SUFFIX = '.exact';

/** Name of the analyzer of every full-text field: standard tokens, lowercased, English stop words removed. */
export const TEXT_ANALYZER = 'presslog_text';
/** Analyzer of the `.shingles` sub-fields: lowercased two-word shingles, for phrase-proximity boosts. */
export const SHINGLE_ANALYZER = 'presslog_shingles';
/** Normalizer of the `.sort` keyword sub-fields: case-insensitive sorting and exact matching. */
export const LOWERCASE_NORMALIZER = 'presslog_lowercase';

/** The `analysis` block every presslog index carries. */
export const ANALYSIS = {
  filter: {
    // dedup: a word with two stems ("taxation": itself and "tax") indexes each once.
    presslog_hunspell: { type: 'hunspell', locale: HUNSPELL_LOCALE, dedup: true },
    presslog_english_stop: { type: 'stop', stopwords: '_english_' },
    presslog_two_word_shingles: {
      type: 'shingle',
      min_shingle_size: 2,
      max_shingle_size: 2,
      output_unigrams: false,
    },
  },
  analyzer: {
    [STEMMED_ANALYZER]: {
      type: 'custom',
      tokenizer: 'standard',
      filter: ['lowercase', 'presslog_english_stop', 'presslog_hunspell'],
    },
    [TEXT_ANALYZER]: {
      type: 'custom',
      tokenizer: 'standard',
      filter: ['lowercase', 'presslog_english_stop'],
    },
    [SHINGLE_ANALYZER]: {
      type: 'custom',
      tokenizer: 'standard',
      filter: ['lowercase', 'presslog_two_word_shingles'],
    },
  },
  normalizer: {
    [LOWERCASE_NORMALIZER]: { type: 'custom', filter: ['lowercase'] },
  },
} as const;

/** A plain-object mapping property (kept free of client-library types: this module is pure). */
export type MappingProperty = Record<string, unknown>;

/**
 * Full-text field: stemmed, with an unstemmed `exact` sub-field that quoted phrases search
 * (`quote_field_suffix`). Offsets in the postings let the unified highlighter find matches
 * without re-analyzing the text (what made highlighting long bodies slow).
 */
export function text(extra: MappingProperty = {}): MappingProperty {
  const { fields, ...rest } = extra as { fields?: MappingProperty };
  return {
    type: 'text',
    analyzer: STEMMED_ANALYZER,
    index_options: 'offsets',
    fields: { exact: { type: 'text', analyzer: TEXT_ANALYZER, index_options: 'offsets' }, ...fields },
    ...rest,
  };
}

/**
 * Full-text field with a `keyword` sub-field (exact filters and aggregations, values up to
 * 256 characters) and a lowercase-normalized `sort` sub-field.
 */
/** A stemmed full-text sub-field of a keyword (sub-fields cannot have sub-fields of their own). */
export function subText(): MappingProperty {
  return { type: 'text', analyzer: STEMMED_ANALYZER };
}

export function textWithKeyword(extra: MappingProperty = {}): MappingProperty {
  const { fields, ...rest } = extra as { fields?: MappingProperty };
  return text({
    fields: {
      keyword: { type: 'keyword', ignore_above: 256 },
      sort: { type: 'keyword', ignore_above: 256, normalizer: LOWERCASE_NORMALIZER },
      ...fields,
    },
    ...rest,
  });
}

/**
 * The `completion` field for suggestions as you type (`suggest` of articles and bylines,
 * filled with the text's word suffixes by `projectors/suggestInputs.ts`): the `standard`
 * analyzer (words and numbers, lowercased, no stop words) so "abra" completes "Abraham
 * Lincoln", "linc" its "Lincoln" input and "the st" "The State of the Union".
 */
export const SUGGEST_FIELD: MappingProperty = {
  type: 'completion',
  analyzer: 'standard',
  preserve_separators: true,
  preserve_position_increments: true,
  max_input_length: 100,
};

export const keyword: MappingProperty = { type: 'keyword' };
export const date: MappingProperty = { type: 'date' };
export const long: MappingProperty = { type: 'long' };
export const integer: MappingProperty = { type: 'integer' };
/** Stored in `_source` only: returned with hits, never searched (placeholders, rendition lists). */
export const storedOnly: MappingProperty = { type: 'object', enabled: false };
/** Text kept in `_source` for display only (an article's markup): not indexed, no doc values. */
export const displayOnly: MappingProperty = { type: 'text', index: false };
/** A keyword kept in `_source` but neither indexed nor aggregatable. */
export const opaqueKeyword: MappingProperty = { type: 'keyword', index: false, doc_values: false };

/** A number kept for aggregations only (doc values), never searched. */
const aggregatedInteger: MappingProperty = { type: 'integer', index: false };

/**
 * Lineage of every document: `asOfSeq` is also its external version; embedded sequences
 * are kept, not indexed; the check values are summed by the reindex's verification.
 */
export const LINEAGE_MAPPING: MappingProperty = {
  properties: {
    asOfSeq: long,
    ownSeq: long,
    embeddedSeqs: storedOnly,
    check: { properties: { a: aggregatedInteger, b: aggregatedInteger, c: aggregatedInteger } },
  },
};

export const RENDITIONS_MAPPING: MappingProperty = {
  properties: {
    name: keyword,
    digest: keyword,
    mediaType: keyword,
    width: integer,
    height: integer,
    bytes: long,
  },
};
