import type { estypes } from '@elastic/elasticsearch';
import { InvalidQueryError } from './errors.ts';
import { translate } from './esErrors.ts';
import { type RawSearchResponse, type SearchHit, toHit } from './results.ts';
import type { CallOptions, SearcherContext } from './searcherContext.ts';

export const RELATED_LIMITS = Object.freeze({ defaultSize: 5, maxSize: 20 });

/**
 * `more_like_this` on the article's own headline and body: the terms that weigh most in it
 * (tf-idf over the index, stemmed) become the query. The article itself is left out.
 */
export function buildRelatedBody(index: string, id: string, size: number): Record<string, unknown> {
  return {
    size,
    _source: { includes: ['id', 'headline', 'publishedAt', 'section', 'tags', 'bylines', 'images'] },
    query: {
      more_like_this: {
        fields: ['headline', 'body'],
        like: [{ _index: index, _id: id }],
        min_term_freq: 2,
        min_doc_freq: 2,
        max_query_terms: 25,
        minimum_should_match: '30%',
      },
    },
  };
}

function relatedSize(raw: unknown): number {
  if (raw === undefined || raw === '') return RELATED_LIMITS.defaultSize;
  const size = Number(raw);
  if (!Number.isInteger(size) || size < 1 || size > RELATED_LIMITS.maxSize) {
    throw new InvalidQueryError('size', `must be a whole number from 1 to ${RELATED_LIMITS.maxSize}`);
  }
  return size;
}

/** Articles like the one with `id`, best first; undefined when there is no such article. */
export async function runRelated(
  ctx: Pick<SearcherContext, 'es' | 'names'>,
  id: string,
  raw: { size?: unknown },
  call: CallOptions = {},
): Promise<SearchHit[] | undefined> {
  const size = relatedSize(raw.size);
  const index = ctx.names.alias('articles');
  const transport = call.signal ? { signal: call.signal } : undefined;
  try {
    const exists = await ctx.es.exists({ index, id }, transport);
    if (!exists) return undefined;
    const response = (await ctx.es.search(
      { index, ...buildRelatedBody(index, id, size) } as estypes.SearchRequest,
      transport,
    )) as RawSearchResponse;
    return response.hits.hits.map((h) => toHit('article', h));
  } catch (err) {
    throw translate(err, { index, cursor: false });
  }
}
