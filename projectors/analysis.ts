/**
 * Index settings shared by the three projections. The Elasticsearch we run has only the
 * server's built-in analysis (no analysis-common module: no `english` analyzer, no
 * stemmer, no asciifolding, no edge_ngram), so text analysis is built from the parts
 * that are always there: the `standard` tokenizer and the `lowercase`, `stop` and
 * `shingle` token filters, plus a `lowercase` normalizer for keyword sub-fields.
 */

/** Name of the analyzer of every full-text field: standard tokens, lowercased, English stop words removed. */
export const TEXT_ANALYZER = 'presslog_text';
/** Analyzer of the `.shingles` sub-fields: lowercased two-word shingles, for phrase-proximity boosts. */
export const SHINGLE_ANALYZER = 'presslog_shingles';
/** Normalizer of the `.sort` keyword sub-fields: case-insensitive sorting and exact matching. */
export const LOWERCASE_NORMALIZER = 'presslog_lowercase';

/** The `analysis` block every presslog index carries. */
export const ANALYSIS = {
  filter: {
    presslog_english_stop: { type: 'stop', stopwords: '_english_' },
    presslog_two_word_shingles: {
      type: 'shingle',
      min_shingle_size: 2,
      max_shingle_size: 2,
      output_unigrams: false,
    },
  },
  analyzer: {
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

/** Full-text field. */
export function text(extra: MappingProperty = {}): MappingProperty {
  return { type: 'text', analyzer: TEXT_ANALYZER, ...extra };
}

/**
 * Full-text field with a `keyword` sub-field (exact filters and aggregations, values up to
 * 256 characters) and a lowercase-normalized `sort` sub-field.
 */
export function textWithKeyword(extra: MappingProperty = {}): MappingProperty {
  return text({
    fields: {
      keyword: { type: 'keyword', ignore_above: 256 },
      sort: { type: 'keyword', ignore_above: 256, normalizer: LOWERCASE_NORMALIZER },
    },
    ...extra,
  });
}

export const keyword: MappingProperty = { type: 'keyword' };
export const date: MappingProperty = { type: 'date' };
export const long: MappingProperty = { type: 'long' };
export const integer: MappingProperty = { type: 'integer' };
/** Stored in `_source` only: returned with hits, never searched (placeholders, rendition lists). */
export const storedOnly: MappingProperty = { type: 'object', enabled: false };
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
