import { randomBytes } from 'node:crypto';
import { type Client, errors, type estypes } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import type { ArticleDoc, ImageDoc } from '../schemas/documents.ts';
import { TransientError } from '../schemas/errors.ts';
import type { Names, ProjectionName } from '../schemas/names.ts';
import { type Cursor, decodeCursor, encodeCursor } from './cursor.ts';
import { CursorExpiredError, IndexMissingError, InvalidQueryError } from './errors.ts';
import {
  buildSearchBody,
  buildTypoHighlightBody,
  EXACT_CLAUSE,
  parseSearchParams,
  SEARCH_LIMITS,
  type SearchKind,
  type SearchParams,
  type SearchRequest,
  searchFingerprint,
  sortValueCount,
} from './query.ts';
import {
  emptyFacets,
  highlights,
  matchedClauses,
  nameBylines,
  type RawSearchResponse,
  type SearchHit,
  type SearchResult,
  toFacets,
  toHit,
  totalOf,
} from './results.ts';

/** Options of {@link createSearcher}. */
export interface SearcherOptions {
  /** An Elasticsearch client; the searcher never closes it (the caller opened it). */
  es: Client;
  names: Names;
  /**
   * Key that signs the cursors this searcher hands out and checks the ones it gets back
   * (see `deploymentSecret`). Default: a random key, so cursors work only within this
   * process.
   */
  cursorKey?: Uint8Array;
  /** Elasticsearch's own time limit for one search (default `5s`): past it, it returns what it found. */
  searchTimeout?: string;
  /** How long a result list's point in time stays open between two pages (default `2m`). */
  keepAlive?: string;
  logger?: Logger;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ElasticsearchHealth {
  ok: boolean;
  status?: string;
  error?: string;
}

/** The query side over the projections' aliases, shared by the CLI, the HTTP API and the page. */
export interface Searcher {
  /**
   * Run a search (raw parameters are validated first). Throws InvalidQueryError for bad
   * parameters, CursorExpiredError for a stale `after`, IndexMissingError before the
   * first reindex, TransientError when Elasticsearch is unreachable or overloaded.
   */
  search(params: SearchParams | SearchRequest, options?: CallOptions): Promise<SearchResult>;
  /** The article's document from the index, or undefined when there is none. */
  getArticle(id: string, options?: CallOptions): Promise<ArticleDoc | undefined>;
  getImage(id: string, options?: CallOptions): Promise<ImageDoc | undefined>;
  health(options?: CallOptions): Promise<ElasticsearchHealth>;
  /** True when `digest` is a rendition of some image in the images projection (never an original). */
  isRendition(digest: string, options?: CallOptions): Promise<boolean>;
  /** Waits for the points in time being closed; idempotent. The client stays open. */
  close(): Promise<void>;
}

const PROJECTION: Readonly<Record<SearchKind, ProjectionName>> = { article: 'articles', image: 'images' };

function errorType(err: errors.ResponseError): string | undefined {
  const body = err.body as { error?: { type?: string; root_cause?: { type?: string }[] } } | undefined;
  return body?.error?.root_cause?.[0]?.type ?? body?.error?.type;
}

/**
 * Translate client errors into presslog's: what the caller must do, not what the
 * transport saw. `context` says whether a client-supplied cursor was part of the request.
 */
function translate(err: unknown, context: { index: string; cursor: boolean }): unknown {
  if (err instanceof errors.ResponseError) {
    const type = errorType(err);
    const status = err.statusCode ?? 0;
    if (type === 'index_not_found_exception') return new IndexMissingError(context.index, { cause: err });
    if (context.cursor && (type === 'search_context_missing_exception' || status === 404)) {
      return new CursorExpiredError({ cause: err });
    }
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      return new TransientError(`elasticsearch answered ${status}`, { cause: err });
    }
    if (status === 400 || (context.cursor && status === 500)) {
      // The only client input in a request is checked text (q), checked filters and the
      // cursor. A 400 here means the text expanded into too many clauses or the cursor was
      // tampered with; no Elasticsearch internals go back to the caller.
      return context.cursor
        ? new InvalidQueryError('after', 'not a usable cursor (use the `next` value of a previous answer)', {
            cause: err,
          })
        : new InvalidQueryError('q', 'the query is too complex; use fewer words or operators', {
            cause: err,
          });
    }
    return err;
  }
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError
  ) {
    return new TransientError(`elasticsearch unreachable: ${err.message}`, { cause: err });
  }
  return err;
}

/**
 * Create the searcher. Every result list lives in a point in time opened on the alias:
 * the first page opens it, `next` carries it, the last page closes it; pages in between
 * use `search_after`, so deep pages cost what the first one does and never skip or
 * repeat a hit even while the projector keeps writing.
 */
export function createSearcher(options: SearcherOptions): Searcher {
  const { es, names } = options;
  const keepAlive = options.keepAlive ?? '2m';
  const cursorKey = options.cursorKey ?? randomBytes(32);
  const searchTimeout = options.searchTimeout ?? '5s';
  const log = options.logger?.child({ component: 'searcher' });
  const closing = new Set<Promise<unknown>>();
  let closed = false;
  let closePromise: Promise<void> | undefined;

  const closePit = (id: string) => {
    // Fire and forget: an unclosed point in time only lives until its keep_alive runs out.
    const p = es
      .closePointInTime({ id })
      .catch((err) => log?.debug({ err }, 'closing a point in time failed'))
      .finally(() => closing.delete(p));
    closing.add(p);
  };

  async function search(params: SearchParams | SearchRequest, call: CallOptions = {}): Promise<SearchResult> {
    if (closed) throw new Error('searcher is closed');
    const request = parseSearchParams(params as Record<string, unknown>);
    const fingerprint = searchFingerprint(request);
    const projection = PROJECTION[request.kind];
    const index = names.alias(projection);
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
        throw translate(err, { index, cursor: false });
      }
    }
    const body = buildSearchBody(request, {
      pitId,
      keepAlive,
      searchAfter: cursor?.after,
      facets: cursor === undefined,
    });
    let response: RawSearchResponse;
    try {
      response = (await es.search(
        { ...body, timeout: searchTimeout } as estypes.SearchRequest,
        transport,
      )) as RawSearchResponse;
    } catch (err) {
      if (cursor === undefined) closePit(pitId);
      throw translate(err, { index, cursor: cursor !== undefined });
    }
    const prefix = names.indexPrefix(projection);
    if (cursor && response.hits.hits.some((h) => !(h as { _index?: string })._index?.startsWith(prefix))) {
      // A forged cursor can name any point in time; only this alias's indexes are served.
      throw new InvalidQueryError('after', 'this cursor belongs to a different search');
    }
    const hits = response.hits.hits.map((h) => toHit(request.kind, h));
    const total = totalOf(response);
    const seen = (cursor?.seen ?? 0) + hits.length;
    const pit = response.pit_id ?? pitId;
    const last = response.hits.hits.at(-1);
    const more = hits.length === request.size && seen < total && seen < SEARCH_LIMITS.maxDepth && last?.sort;
    const next =
      more && last?.sort ? encodeCursor({ pit, after: last.sort, seen, fingerprint }, cursorKey) : null;
    const typoOnly = response.hits.hits.filter((h) => !matchedClauses(h).includes(EXACT_CLAUSE) && h._id);
    const [facets] = await Promise.all([
      cursor !== undefined
        ? null
        : request.kind === 'article'
          ? nameBylines(toFacets(response.aggregations), hits, (ids) => bylineNames(ids, transport))
          : emptyFacets(),
      highlightTypos(
        request,
        typoOnly.map((h) => h._id as string),
        pit,
        hits,
        transport,
      ),
    ]);
    if (!next) closePit(pit);
    return { total, hits, facets, next };
  }

  /** Replace the highlights of hits that matched only through typo tolerance; a failure only costs them. */
  async function highlightTypos(
    request: SearchRequest,
    ids: string[],
    pit: string,
    hits: SearchHit[],
    transport?: { signal: AbortSignal },
  ): Promise<void> {
    const body = buildTypoHighlightBody(request, ids, { pitId: pit, keepAlive });
    if (!body) return;
    try {
      const response = (await es.search(
        { ...body, timeout: searchTimeout } as estypes.SearchRequest,
        transport,
      )) as RawSearchResponse;
      const byId = new Map(response.hits.hits.map((h) => [h._id, h.highlight]));
      for (const hit of hits) {
        if (byId.has(hit.id)) hit.highlights = highlights(byId.get(hit.id));
      }
    } catch (err) {
      log?.debug({ err }, 'typo highlights unavailable');
    }
  }

  /** Current names of bylines from the bylines projection; a failure only costs the names. */
  async function bylineNames(
    ids: string[],
    transport?: { signal: AbortSignal },
  ): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    try {
      const response = await es.mget<{ name?: string }>(
        { index: options.names.alias('bylines'), ids, _source_includes: ['name'] },
        transport,
      );
      for (const doc of response.docs) {
        if ('found' in doc && doc.found && typeof doc._source?.name === 'string')
          names.set(doc._id, doc._source.name);
      }
    } catch (err) {
      log?.debug({ err }, 'byline names unavailable');
    }
    return names;
  }

  async function getDoc<T>(
    projection: ProjectionName,
    id: string,
    call: CallOptions,
  ): Promise<T | undefined> {
    const index = names.alias(projection);
    try {
      const doc = await es.get<T>({ index, id }, call.signal ? { signal: call.signal } : undefined);
      return doc.found ? doc._source : undefined;
    } catch (err) {
      if (
        err instanceof errors.ResponseError &&
        err.statusCode === 404 &&
        errorType(err) !== 'index_not_found_exception'
      ) {
        return undefined;
      }
      throw translate(err, { index, cursor: false });
    }
  }

  // Renditions are immutable and named by their bytes: once seen listed, a digest stays a
  // rendition. A bounded set, so a flood of random digests cannot grow it.
  const knownRenditions = new Set<string>();
  async function isRendition(digest: string, call: CallOptions = {}): Promise<boolean> {
    if (knownRenditions.has(digest)) return true;
    const index = names.alias('images');
    let found: boolean;
    try {
      const response = await es.search(
        { index, size: 0, track_total_hits: 1, query: { term: { 'renditions.digest': digest } } },
        call.signal ? { signal: call.signal } : undefined,
      );
      found = totalOf(response as RawSearchResponse) > 0;
    } catch (err) {
      throw translate(err, { index, cursor: false });
    }
    if (found) {
      if (knownRenditions.size >= 10_000) knownRenditions.clear();
      knownRenditions.add(digest);
    }
    return found;
  }

  return {
    search,
    isRendition,
    getArticle: (id, call = {}) => getDoc<ArticleDoc>('articles', id, call),
    getImage: async (id, call = {}) => {
      const doc = await getDoc<ImageDoc>('images', id, call);
      if (!doc) return undefined;
      // The original's digest is its address in the blob store: not for the public.
      const { original, ...rest } = doc as ImageDoc & { original?: { digest?: string } };
      if (!original) return doc;
      const { digest: _digest, ...about } = original;
      return { ...rest, original: about } as ImageDoc;
    },
    async health(call = {}) {
      try {
        const health = await es.cluster.health(
          { timeout: '2s' },
          { requestTimeout: 3_000, maxRetries: 0, ...(call.signal ? { signal: call.signal } : {}) },
        );
        return { ok: health.status !== 'red', status: health.status };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    },
    close() {
      closed = true;
      closePromise ??= Promise.allSettled([...closing]).then(() => undefined);
      return closePromise;
    },
  };
}
