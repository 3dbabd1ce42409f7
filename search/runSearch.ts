import type { estypes } from '@elastic/elasticsearch';
import type { ProjectionName } from '../schemas/names.ts';
import { type Cursor, decodeCursor, encodeCursor } from './cursor.ts';
import { IndexMissingError, InvalidQueryError } from './errors.ts';
import { msearchItemError, translate } from './esErrors.ts';
import {
  parseSearchParams,
  SEARCH_LIMITS,
  type SearchKind,
  type SearchParams,
  type SearchRequest,
  searchFingerprint,
} from './params.ts';
import {
  buildFirstPageSearches,
  buildSearchBody,
  buildSuggestBody,
  type Corrections,
  correctionsOf,
  type SuggestAnswer,
  sortValueCount,
} from './query.ts';
import {
  emptyFacets,
  nameBylines,
  type RawSearchResponse,
  type SearchResult,
  toFacets,
  toHit,
  toTimeline,
  totalOf,
} from './results.ts';
import type { CallOptions, SearcherContext } from './searcherContext.ts';

const PROJECTION: Readonly<Record<SearchKind, ProjectionName>> = { article: 'articles', image: 'images' };

/**
 * One page of a search. Every result list lives in a point in time opened on the alias:
 * the first page opens it, `next` carries it, the last page closes it; pages in between
 * use `search_after`, so deep pages cost what the first one does and never skip or
 * repeat a hit even while the projector keeps writing.
 */
export async function runSearch(
  ctx: SearcherContext,
  params: SearchParams | SearchRequest,
  call: CallOptions = {},
): Promise<SearchResult> {
  const { es, names, keepAlive, cursorKey, searchTimeout } = ctx;
  const request = parseSearchParams(params as Record<string, unknown>);
  const fingerprint = searchFingerprint(request);
  const projection = PROJECTION[request.kind];
  const index = searchedIndex(ctx, request);
  let cursor: Cursor | undefined;
  if (request.after !== undefined) {
    cursor = decodeCursor(request.after, { fingerprint, sortValues: sortValueCount(request) }, cursorKey);
    if (cursor.seen >= SEARCH_LIMITS.maxDepth) {
      throw new InvalidQueryError(
        'after',
        `results go no deeper than ${SEARCH_LIMITS.maxDepth}; narrow the search`,
      );
    }
  }
  const transport = call.signal ? { signal: call.signal } : undefined;
  let pitId = cursor?.pit;
  if (pitId === undefined) {
    try {
      pitId = (await es.openPointInTime({ index, keep_alive: keepAlive }, transport)).id;
    } catch (err) {
      const translated = translate(err, { index, cursor: false });
      if (request.asOf !== undefined && translated instanceof IndexMissingError) {
        throw new InvalidQueryError('asOf', `no archive ${request.asOf} (GET /api/archives lists them)`);
      }
      throw translated;
    }
  }
  let typo: false | Corrections = cursor?.typo ?? false;
  let response: RawSearchResponse;
  let total: number;
  let aggregations: RawSearchResponse['aggregations'];
  try {
    if (cursor === undefined) {
      // First page: the hits and, in the same _msearch, a size-0 search for the exact total,
      // facets and timeline (the shard request cache answers it again for free).
      const send = async (corrections: false | Corrections) => {
        const searches = buildFirstPageSearches(
          request,
          { pitId: pitId as string, keepAlive, typo: corrections },
          { timeout: searchTimeout },
        );
        const { responses } = await es.msearch({ searches } as estypes.MsearchRequest, transport);
        const [hits, facets] = responses.map((r) => {
          if ('error' in r) throw msearchItemError(r);
          return r as unknown as RawSearchResponse;
        });
        return { hits: hits!, facets: facets! };
      };
      // The words alone first; when they find less than a page, once more with the words'
      // corrections (typo tolerance). The cursor keeps the corrections for the later pages.
      let answer = await send(false);
      if (totalOf(answer.facets) < request.size) {
        const corrections = await findCorrections(ctx, request, pitId, transport);
        if (corrections) {
          answer = await send(corrections);
          typo = corrections;
        }
      }
      response = answer.hits;
      total = totalOf(answer.facets);
      aggregations = answer.facets.aggregations;
    } else {
      const body = buildSearchBody(request, {
        pitId,
        keepAlive,
        searchAfter: cursor.after,
        typo,
        countTotal: cursor.total === undefined,
      });
      response = (await es.search(
        { ...body, timeout: searchTimeout } as estypes.SearchRequest,
        transport,
      )) as RawSearchResponse;
      total = cursor.total ?? totalOf(response);
    }
  } catch (err) {
    if (cursor === undefined) ctx.closePit(pitId);
    throw translate(err, { index, cursor: cursor !== undefined });
  }
  const prefix = names.indexPrefix(projection);
  if (cursor && response.hits.hits.some((h) => !(h as { _index?: string })._index?.startsWith(prefix))) {
    // A forged cursor can name any point in time; only this alias's indexes are served.
    throw new InvalidQueryError('after', 'this cursor belongs to a different search');
  }
  const hits = response.hits.hits.map((h) => toHit(request.kind, h));
  const seen = (cursor?.seen ?? 0) + hits.length;
  const pit = response.pit_id ?? pitId;
  const last = response.hits.hits.at(-1);
  const more = hits.length === request.size && seen < total && seen < SEARCH_LIMITS.maxDepth && last?.sort;
  const next =
    more && last?.sort
      ? encodeCursor(
          { pit, after: last.sort, seen, fingerprint, total, ...(typo ? { typo } : {}) },
          cursorKey,
        )
      : null;
  const facets =
    cursor !== undefined
      ? null
      : request.kind === 'article'
        ? await nameBylines(toFacets(aggregations), hits, (ids) =>
            ctx.bylineNames
              ? ctx.bylineNames.names(ids, (missing) => bylineNames(ctx, missing, transport))
              : bylineNames(ctx, ids, transport),
          )
        : emptyFacets();
  if (!next) ctx.closePit(pit);
  const timeline = cursor === undefined && request.kind === 'article' ? toTimeline(aggregations) : null;
  return { total, hits, facets, next, timeline };
}

/** The live alias of the kind's projection, or the as-of index the request names (of that projection only). */
function searchedIndex(ctx: SearcherContext, request: SearchRequest): string {
  const projection = PROJECTION[request.kind];
  if (request.asOf === undefined) return ctx.names.alias(projection);
  if (!request.asOf.startsWith(`${ctx.names.indexPrefix(projection)}asof-`)) {
    throw new InvalidQueryError('asOf', `not an archive of ${projection} (GET /api/archives lists them)`);
  }
  return request.asOf;
}

/**
 * Each word's corrections (see buildSuggestBody), or undefined when there are none (no
 * word long enough, nothing close in the index); a failure only costs typo tolerance.
 */
async function findCorrections(
  ctx: SearcherContext,
  request: SearchRequest,
  pit: string,
  transport?: { signal: AbortSignal },
): Promise<Corrections | undefined> {
  const body = buildSuggestBody(request, { pitId: pit, keepAlive: ctx.keepAlive });
  if (!body) return undefined;
  try {
    const response = await ctx.es.search(
      { ...body, timeout: ctx.searchTimeout } as estypes.SearchRequest,
      transport,
    );
    const corrections = correctionsOf(request, response as SuggestAnswer);
    return corrections.some((c) => c.length > 0) ? corrections : undefined;
  } catch (err) {
    if (transport?.signal.aborted) throw err;
    ctx.log?.debug({ err }, 'corrections unavailable');
    return undefined;
  }
}

/** Current names of bylines from the bylines projection; a failure only costs the names. */
async function bylineNames(
  ctx: SearcherContext,
  ids: string[],
  transport?: { signal: AbortSignal },
): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  try {
    const response = await ctx.es.mget<{ name?: string }>(
      { index: ctx.names.alias('bylines'), ids, _source_includes: ['name'] },
      transport,
    );
    for (const doc of response.docs) {
      if ('found' in doc && doc.found && typeof doc._source?.name === 'string')
        names.set(doc._id, doc._source.name);
    }
  } catch (err) {
    ctx.log?.debug({ err }, 'byline names unavailable');
  }
  return names;
}
