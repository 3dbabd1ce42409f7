import type { ArticleState } from '../../schemas/state.ts';
import type { ArticleFacts, ArticleTable } from './articleTable.ts';
import type { RefStates } from './refStates.ts';
import type { SlotLists } from './storage/slotLists.ts';

/**
 * What the projection state's parts share (see projectionState.ts): the article table,
 * the byline and image entries with their states, and the reverse references.
 */
export interface StateContext {
  readonly table: ArticleTable;
  readonly refs: RefStates;
  /**
   * The reverse references, by entry slot: the slots of the articles whose current fields
   * reference the byline or image (retracted ones included).
   */
  readonly bylineArticles: SlotLists;
  readonly imageArticles: SlotLists;
}

/**
 * What the projection state keeps of an article: everything fan-out and the byline and
 * image statistics need, but not the body, headline or tags. Bodies are the bulk of the
 * log (2-20 KB an article); keeping them would make the state as big as the archive.
 * An article re-projected by fan-out reads its fields back from the log (the event at
 * `lastSeq`, which for an unretracted article always carries the full state).
 */
export interface ArticleRecord extends ArticleFacts {
  readonly id: string;
  bylineIds: readonly string[];
  imageIds: readonly string[];
}

/** The documents one event may have changed, per projection. */
export interface Changes {
  articles: string[];
  images: string[];
  bylines: string[];
  /** The article's full state after its own event (body included), unless it is retracted. */
  article?: ArticleState;
}

const NO_IDS: readonly string[] = Object.freeze([]);

/** The ids without repeats, in their first order (the array itself when it has none). */
export function unique(ids: readonly string[]): readonly string[] {
  if (ids.length === 0) return NO_IDS;
  return ids.length === 1 || new Set(ids).size === ids.length ? ids : [...new Set(ids)];
}
