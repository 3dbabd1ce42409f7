import {
  date,
  integer,
  keyword,
  LINEAGE_MAPPING,
  SUGGEST_FIELD,
  text,
  textWithKeyword,
} from '../analysis.ts';

/** The `bylines` index: one document per registered byline, with its article statistics. */
export const BYLINES_MAPPING = {
  dynamic: 'strict',
  properties: {
    id: keyword,
    name: textWithKeyword(),
    // Completions of the name from any word (projectors/suggestInputs.ts).
    suggest: SUGGEST_FIELD,
    bio: text(),
    articleCount: integer,
    latestArticleAt: date,
    updatedAt: date,
    lineage: LINEAGE_MAPPING,
  },
} as const;
