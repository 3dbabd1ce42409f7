import {
  date,
  integer,
  keyword,
  LINEAGE_MAPPING,
  long,
  opaqueKeyword,
  RENDITIONS_MAPPING,
  subText,
  text,
  textWithKeyword,
} from '../analysis.ts';

/** The `images` index: one document per image that has not been removed. */
export const IMAGES_MAPPING = {
  dynamic: 'strict',
  properties: {
    id: keyword,
    caption: text(),
    credit: textWithKeyword(),
    fileName: { type: 'keyword', fields: { text: subText() } },
    original: { properties: { digest: keyword, bytes: long, mediaType: keyword } },
    status: keyword,
    failureReason: text(),
    width: integer,
    height: integer,
    format: keyword,
    orientation: integer,
    hasAlpha: { type: 'boolean' },
    dominantColor: keyword,
    placeholder: opaqueKeyword,
    renditions: RENDITIONS_MAPPING,
    articleIds: keyword,
    updatedAt: date,
    lineage: LINEAGE_MAPPING,
  },
} as const;
