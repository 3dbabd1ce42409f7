import { type Static, Type } from '@sinclair/typebox';
import { envelope } from './envelope.ts';

/**
 * The record of an erasure: who, why, under which ticket, and what the public may be told.
 * Never the content: these events are stored in plaintext (they must stay readable after
 * the item's keys are gone), so `reason` and `publicNote` must not repeat what was erased.
 */
export const ErasureFields = Type.Object(
  {
    /** `PRESSLOG_ACTOR`, or the OS user who ran `presslog erase`. */
    actor: Type.String({ minLength: 1, maxLength: 200 }),
    reason: Type.String({ minLength: 1, maxLength: 2_000 }),
    ticket: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** Shown to readers where the item was (the API's 410 answer, the web page). */
    publicNote: Type.Optional(Type.String({ minLength: 1, maxLength: 2_000 })),
  },
  { additionalProperties: false },
);
export type ErasureFields = Static<typeof ErasureFields>;

export const ArticleErased = envelope('ArticleErased', 1, 'article', ErasureFields);
export type ArticleErased = Static<typeof ArticleErased>;
export const ImageErased = envelope('ImageErased', 1, 'image', ErasureFields);
export type ImageErased = Static<typeof ImageErased>;
export const BylineErased = envelope('BylineErased', 1, 'byline', ErasureFields);
export type BylineErased = Static<typeof BylineErased>;

/**
 * A redaction (`erase article <id> --history-only`): every earlier version is unreadable
 * for good. The current version is restated (an ArticleRevised under a fresh key) right
 * after this record, so the article's last event is still a full state.
 */
export const ArticleHistoryErased = envelope('ArticleHistoryErased', 1, 'article', ErasureFields);
export type ArticleHistoryErased = Static<typeof ArticleHistoryErased>;

/** The erasure event type of each entity type. */
export const ERASURE_TYPES = {
  article: 'ArticleErased',
  image: 'ImageErased',
  byline: 'BylineErased',
} as const;
