import type { estypes } from '@elastic/elasticsearch';
import type { ArticleDoc } from '../schemas/documents.ts';
import { InvalidQueryError } from './errors.ts';
import { translate } from './esErrors.ts';
import type { CallOptions, SearcherContext } from './searcherContext.ts';

export const SUGGEST_LIMITS = Object.freeze({ maxPrefixChars: 100, defaultSize: 6, maxSize: 10 });

/** What `GET /api/suggest` answers: headlines and byline names that start with what was typed. */
export interface Suggestions {
  headlines: { id: string; headline: string; publishedAt: string | null }[];
  bylines: { id: string; name: string }[];
}

/** Validated `q` and `size` of a suggestion request; throws {@link InvalidQueryError}. */
export function parseSuggestParams(raw: { q?: unknown; size?: unknown }): { prefix: string; size: number } {
  if (typeof raw.q !== 'string') throw new InvalidQueryError('q', 'required: the text typed so far');
  const prefix = raw.q.trimStart();
  if (prefix.trim() === '') throw new InvalidQueryError('q', 'must contain a letter or digit');
  if (prefix.length > SUGGEST_LIMITS.maxPrefixChars) {
    throw new InvalidQueryError('q', `at most ${SUGGEST_LIMITS.maxPrefixChars} characters`);
  }
  const size = raw.size === undefined || raw.size === '' ? SUGGEST_LIMITS.defaultSize : Number(raw.size);
  if (!Number.isInteger(size) || size < 1 || size > SUGGEST_LIMITS.maxSize) {
    throw new InvalidQueryError('size', `must be a whole number from 1 to ${SUGGEST_LIMITS.maxSize}`);
  }
  return { prefix, size };
}

/**
 * Two completion suggesters over the articles index: headlines (`headline.suggest`) and
 * byline names (`bylines.name.suggest`). Completion suggesters read an in-memory FST, not
 * the postings: a few milliseconds whatever the archive's size. The prefix is data, never syntax.
 */
export function buildSuggestBody(prefix: string, size: number): Record<string, unknown> {
  const completion = (field: string) => ({ field, size, skip_duplicates: true });
  return {
    _source: ['id', 'headline', 'publishedAt', 'bylines'],
    suggest: {
      headlines: { prefix, completion: completion('headline.suggest') },
      bylines: { prefix, completion: completion('bylines.name.suggest') },
    },
  };
}

interface SuggestOption {
  text: string;
  _id?: string;
  _source?: Partial<ArticleDoc>;
}

/** Turn the suggesters' options into {@link Suggestions}. */
export function toSuggestions(
  suggest: Record<string, { options?: SuggestOption[] }[]> | undefined,
): Suggestions {
  const options = (name: string) => suggest?.[name]?.[0]?.options ?? [];
  const headlines = options('headlines').map((o) => ({
    id: o._source?.id ?? o._id ?? '',
    headline: o._source?.headline ?? o.text,
    publishedAt: o._source?.publishedAt ?? null,
  }));
  const bylines: Suggestions['bylines'] = [];
  for (const o of options('bylines')) {
    const byline = o._source?.bylines?.find((b) => b.name === o.text);
    if (byline && !bylines.some((b) => b.id === byline.id)) bylines.push({ id: byline.id, name: o.text });
  }
  return { headlines, bylines };
}

/** Suggestions for what was typed so far (raw parameters are validated first). */
export async function runSuggest(
  ctx: Pick<SearcherContext, 'es' | 'names'>,
  raw: { q?: unknown; size?: unknown },
  call: CallOptions = {},
): Promise<Suggestions> {
  const { prefix, size } = parseSuggestParams(raw);
  const index = ctx.names.alias('articles');
  try {
    const response = await ctx.es.search(
      { index, ...buildSuggestBody(prefix, size) } as estypes.SearchRequest,
      call.signal ? { signal: call.signal } : undefined,
    );
    return toSuggestions(response.suggest as Record<string, { options?: SuggestOption[] }[]> | undefined);
  } catch (err) {
    throw translate(err, { index, cursor: false });
  }
}
