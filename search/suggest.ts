import type { estypes } from '@elastic/elasticsearch';
import type { Names } from '../schemas/names.ts';
import { IndexMissingError, InvalidQueryError } from './errors.ts';
import { msearchItemError, translate } from './esErrors.ts';
import type { CallOptions, SearcherContext } from './searcherContext.ts';

export const SUGGEST_LIMITS = Object.freeze({ maxPrefixChars: 100, defaultSize: 6, maxSize: 10 });

/** What `GET /api/suggest` answers: headlines and byline names with a word that starts with what was typed. */
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

/** One search of the `_msearch` behind a suggestion request: its header and body. */
export type SuggestSearch = [{ index: string }, Record<string, unknown>];

/**
 * The two searches behind a suggestion request, for one `_msearch`: a completion
 * suggester on the articles' `suggest` field (headline suffixes) and one on the bylines'
 * (name suffixes, bylines that some article carries). Completion suggesters read an
 * in-memory FST, not the postings: a few milliseconds whatever the archive's size. No
 * hits (`size: 0`); each option brings the few `_source` fields shown. The prefix is
 * data, never syntax.
 */
export function buildSuggestSearches(names: Names, prefix: string, size: number): SuggestSearch[] {
  // No skip_duplicates: the option's text is the input that matched ("Abraham Lincoln"
  // for every Lincoln headline ending so), so it would hide different documents.
  const body = (name: string, source: string[]) => ({
    size: 0,
    _source: source,
    suggest: { [name]: { prefix, completion: { field: 'suggest', size } } },
  });
  return [
    [{ index: names.alias('articles') }, body('headlines', ['id', 'headline', 'publishedAt'])],
    [{ index: names.alias('bylines') }, body('bylines', ['id', 'name'])],
  ];
}

interface SuggestOption {
  text: string;
  _id?: string;
  _source?: { id?: string; headline?: string; publishedAt?: string; name?: string };
}

type SuggestSection = Record<string, { options?: SuggestOption[] }[]> | undefined;

/** Turn the two searches' suggester options into {@link Suggestions}. */
export function toSuggestions(headlineSuggest: SuggestSection, bylineSuggest: SuggestSection): Suggestions {
  const options = (suggest: SuggestSection, name: string) => suggest?.[name]?.[0]?.options ?? [];
  const headlines = options(headlineSuggest, 'headlines').map((o) => ({
    id: o._source?.id ?? o._id ?? '',
    headline: o._source?.headline ?? o.text,
    publishedAt: o._source?.publishedAt ?? null,
  }));
  const bylines = options(bylineSuggest, 'bylines').map((o) => ({
    id: o._source?.id ?? o._id ?? '',
    name: o._source?.name ?? o.text,
  }));
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
    const searches = buildSuggestSearches(ctx.names, prefix, size);
    const response = await ctx.es.msearch(
      { searches: searches.flat() } as estypes.MsearchRequest,
      call.signal ? { signal: call.signal } : undefined,
    );
    const [headlines, bylines] = response.responses.map((r, i) => {
      // A failed search inside the _msearch is an error of the request as a whole.
      if (!('error' in r)) return r.suggest as SuggestSection;
      if (JSON.stringify(r.error).includes('no mapping found for field [suggest]')) {
        // An index built before the `suggest` field: not ready until it is rebuilt.
        throw new IndexMissingError(searches[i]![0].index, { outdated: true, cause: r.error });
      }
      throw msearchItemError(r);
    });
    return toSuggestions(headlines, bylines);
  } catch (err) {
    throw translate(err, { index, cursor: false });
  }
}
