import {
  date,
  displayOnly,
  integer,
  keyword,
  LINEAGE_MAPPING,
  opaqueKeyword,
  SHINGLE_ANALYZER,
  SUGGEST_FIELD,
  storedOnly,
  subText,
  text,
  textWithKeyword,
} from '../analysis.ts';

/**
 * The `articles` index: one document per unretracted article, denormalized with its
 * bylines' names and its images' captions and credits so a search for an author or a
 * caption word finds the article. `bylines` and `images` are plain objects (not
 * `nested`): queries match "any byline named X", never a combination inside one byline.
 */
export const ARTICLES_MAPPING = {
  dynamic: 'strict',
  properties: {
    id: keyword,
    headline: textWithKeyword({
      fields: {
        shingles: { type: 'text', analyzer: SHINGLE_ANALYZER },
      },
    }),
    // Completions of the headline from any word (projectors/suggestInputs.ts).
    suggest: SUGGEST_FIELD,
    body: text(),
    bodyHtml: displayOnly,
    section: keyword,
    publishedAt: date,
    year: integer,
    tags: { type: 'keyword', fields: { text: subText() } },
    bylines: {
      properties: {
        id: keyword,
        name: textWithKeyword(),
      },
    },
    images: {
      properties: {
        id: keyword,
        caption: text(),
        credit: textWithKeyword(),
        creator: textWithKeyword(),
        keywords: textWithKeyword(),
        width: integer,
        height: integer,
        placeholder: opaqueKeyword,
        dominantColor: keyword,
        renditions: storedOnly,
      },
    },
    revisions: integer,
    updatedAt: date,
    lineage: LINEAGE_MAPPING,
  },
} as const;
