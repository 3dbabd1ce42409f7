import type { ContentEvent } from '../../schemas/catalog.ts';
import { canonicalJson } from '../../schemas/eventId.ts';
import { applyEvent, type BylineState, type ImageState } from '../../schemas/state.ts';
import { embedImage } from '../articles/projectArticle.ts';
import type { BylineEntry, RefEntry } from './refStates.ts';
import type { Changes, StateContext } from './stateContext.ts';
import type { SlotLists } from './storage/slotLists.ts';

/**
 * An article event's effect on the article's references: the byline and image slots it
 * referenced before and references after, whether it was and is live (unretracted), and
 * its publication time before and after (for the bylines' latest-article statistic).
 */
export interface ReferenceChange {
  /** The article's slot, and the sequence of its event. */
  slot: number;
  seq: number;
  wasLive: boolean;
  isLive: boolean;
  fromMs: number;
  toMs: number;
  oldBylines: Int32Array;
  newBylines: Int32Array;
  oldImages: Int32Array;
  newImages: Int32Array;
}

/**
 * Update the reverse references and the byline and image statistics for one article
 * event, adding to `changes` every byline and image whose document it changed (those it
 * referenced first, in their order, then those it newly references).
 */
export function updateReferences(ctx: StateContext, change: ReferenceChange, changes: Changes): void {
  const { oldBylines, newBylines, oldImages, newImages } = change;
  for (const s of oldBylines) bylineReference(ctx, change, s, true, newBylines.includes(s), changes);
  for (const s of newBylines)
    if (!oldBylines.includes(s)) bylineReference(ctx, change, s, false, true, changes);
  for (const s of oldImages) imageReference(ctx, change, s, true, newImages.includes(s), changes);
  for (const s of newImages) if (!oldImages.includes(s)) imageReference(ctx, change, s, false, true, changes);
}

function bylineReference(
  ctx: StateContext,
  change: ReferenceChange,
  s: number,
  inOld: boolean,
  inNew: boolean,
  changes: Changes,
): void {
  const entry = ctx.refs.bylineAt[s]!;
  if (inNew) ctx.bylineArticles.add(s, change.slot);
  else ctx.bylineArticles.delete(s, change.slot);
  const was = change.wasLive && inOld;
  const is = change.isLive && inNew;
  const { fromMs, toMs } = change;
  const moved = was && is && fromMs !== toMs;
  if (was === is && !moved) return;
  entry.statsSeq = change.seq;
  if (was && !is) entry.liveCount--;
  if (!was && is) entry.liveCount++;
  if (was && entry.latestMs === fromMs && (!is || toMs < fromMs)) entry.latestStale = true;
  if (is && !entry.latestStale && (entry.latestMs === undefined || toMs > entry.latestMs)) {
    entry.latestMs = toMs;
  }
  changes.bylines.push(entry.id);
}

function imageReference(
  ctx: StateContext,
  change: ReferenceChange,
  s: number,
  inOld: boolean,
  inNew: boolean,
  changes: Changes,
): void {
  const entry = ctx.refs.imageAt[s]!;
  if (inNew) ctx.imageArticles.add(s, change.slot);
  else ctx.imageArticles.delete(s, change.slot);
  if ((change.wasLive && inOld) === (change.isLive && inNew)) return;
  entry.statsSeq = change.seq;
  changes.images.push(entry.id);
}

/** Ids of the live (unretracted) articles in the entry's reverse references. */
export function liveMembers(ctx: StateContext, lists: SlotLists, entry: RefEntry): string[] {
  const out: string[] = [];
  for (const slot of lists.members(entry.slot)) if (!ctx.table.retracted(slot)) out.push(ctx.table.id(slot));
  return out;
}

/** The publication time of the byline's latest live article, recomputed when stale. */
export function latestOf(ctx: StateContext, entry: BylineEntry): number | undefined {
  if (entry.latestStale) {
    let latest: number | undefined;
    for (const slot of ctx.bylineArticles.members(entry.slot)) {
      const publishedAtMs = ctx.table.publishedAtMs(slot);
      if (!ctx.table.retracted(slot) && (latest === undefined || publishedAtMs > latest)) {
        latest = publishedAtMs;
      }
    }
    entry.latestMs = latest;
    entry.latestStale = false;
  }
  return entry.latestMs;
}

/** Apply a byline event; a new name fans out to the live articles that reference it. */
export function applyByline(ctx: StateContext, seq: number, event: ContentEvent): Changes {
  const entry = ctx.refs.bylineEntry(event.entityId);
  const previous = ctx.refs.bylineState(entry);
  const next = applyEvent(previous, event, seq) as BylineState;
  ctx.refs.setBylineState(entry, next);
  const changes: Changes = { articles: [], images: [], bylines: [next.id] };
  if (!previous || next.fields.name !== previous.fields.name) {
    entry.embedSeq = seq;
    changes.articles = liveMembers(ctx, ctx.bylineArticles, entry);
  }
  return changes;
}

/** Apply an image event; a change to what articles embed fans out to those that reference it. */
export function applyImage(ctx: StateContext, seq: number, event: ContentEvent): Changes {
  const entry = ctx.refs.imageEntry(event.entityId);
  const previous = ctx.refs.imageState(entry);
  const next = applyEvent(previous, event, seq) as ImageState;
  ctx.refs.setImageState(entry, next);
  const changes: Changes = { articles: [], images: [next.id], bylines: [] };
  if (
    !previous ||
    canonicalJson(embedImage(next.id, next)) !== canonicalJson(embedImage(previous.id, previous))
  ) {
    entry.embedSeq = seq;
    changes.articles = liveMembers(ctx, ctx.imageArticles, entry);
  }
  return changes;
}
