import { type Static, Type } from '@sinclair/typebox';
import { envelope, Id, Timestamp } from './envelope.ts';

/**
 * Article bodies travel inside the event. JetStream caps a message at the server's
 * max_payload (1 MiB by default); 512 KiB of body leaves room for the envelope and
 * is far beyond any newspaper article (a State of the Union runs 30-200 KB).
 */
export const MAX_BODY_CHARS = 512 * 1024;

/**
 * Version 2 of an article's full state: several bylines (v1 had one `bylineId`).
 * `bodyHtml`, the source's markup sanitized for display (never searched), is optional:
 * events written before it stay valid as they are (no new version, no upcaster).
 */
export const ArticleFields = Type.Object(
  {
    headline: Type.String({ minLength: 1, maxLength: 1_000 }),
    body: Type.String({ maxLength: MAX_BODY_CHARS }),
    bodyHtml: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_BODY_CHARS })),
    section: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    publishedAt: Timestamp,
    bylineIds: Type.Array(Id, { maxItems: 100 }),
    imageIds: Type.Array(Id, { maxItems: 200 }),
    tags: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type ArticleFields = Static<typeof ArticleFields>;

/** Version 1 of the same state, kept readable forever: a single optional `bylineId`. */
export const ArticleFieldsV1 = Type.Object(
  {
    headline: Type.String({ minLength: 1, maxLength: 1_000 }),
    body: Type.String({ maxLength: MAX_BODY_CHARS }),
    section: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    publishedAt: Timestamp,
    bylineId: Type.Optional(Id),
    imageIds: Type.Array(Id, { maxItems: 200 }),
    tags: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type ArticleFieldsV1 = Static<typeof ArticleFieldsV1>;

export const ArticlePublished = envelope('ArticlePublished', 2, 'article', ArticleFields);
export type ArticlePublished = Static<typeof ArticlePublished>;
export const ArticlePublishedV1 = envelope('ArticlePublished', 1, 'article', ArticleFieldsV1);
export type ArticlePublishedV1 = Static<typeof ArticlePublishedV1>;

export const ArticleRevised = envelope('ArticleRevised', 2, 'article', ArticleFields);
export type ArticleRevised = Static<typeof ArticleRevised>;
export const ArticleRevisedV1 = envelope('ArticleRevised', 1, 'article', ArticleFieldsV1);
export type ArticleRevisedV1 = Static<typeof ArticleRevisedV1>;

export const ArticleRetracted = envelope(
  'ArticleRetracted',
  1,
  'article',
  Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2_000 })) }, { additionalProperties: false }),
);
export type ArticleRetracted = Static<typeof ArticleRetracted>;

/** v1 → v2: the single byline becomes a list. */
export function upcastArticleFieldsV1(v1: ArticleFieldsV1): ArticleFields {
  const { bylineId, ...rest } = v1;
  return { ...rest, bylineIds: bylineId === undefined ? [] : [bylineId] };
}
