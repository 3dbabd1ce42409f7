import { randomBytes } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import type { ArticleDoc, ImageDoc } from '../schemas/documents.ts';
import { type Names, PROJECTION_NAMES } from '../schemas/names.ts';
import { type Archive, listArchives } from './archives.ts';
import { createBylineNameCache } from './bylineNameCache.ts';
import { getDoc, isRendition } from './documents.ts';
import type { SearchParams, SearchRequest } from './params.ts';
import { runRelated } from './related.ts';
import type { SearchHit, SearchResult } from './results.ts';
import { runSearch } from './runSearch.ts';
import type { CallOptions, SearcherContext } from './searcherContext.ts';
import { runSuggest, type Suggestions } from './suggest.ts';

export type { CallOptions } from './searcherContext.ts';

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
  /** Health of this namespace's indexes (`ok` unless red); another archive's indexes on the cluster do not count. */
  health(options?: CallOptions): Promise<ElasticsearchHealth>;
  /** Headlines and byline names with a word starting with what was typed (`q`); InvalidQueryError for bad input. */
  suggest(params: { q?: unknown; size?: unknown }, options?: CallOptions): Promise<Suggestions>;
  /** Articles like the article `id` (more_like_this); undefined when there is no such article. */
  related(id: string, params?: { size?: unknown }, options?: CallOptions): Promise<SearchHit[] | undefined>;
  /** The `--as-of` indexes that `search({ asOf })` can search. */
  archives(options?: CallOptions): Promise<Archive[]>;
  /** True when `digest` is a rendition of some image in the images projection (never an original). */
  isRendition(digest: string, options?: CallOptions): Promise<boolean>;
  /** Waits for the points in time being closed; idempotent. The client stays open. */
  close(): Promise<void>;
}

/** Create the searcher: {@link runSearch} and the document reads over one {@link SearcherContext}. */
export function createSearcher(options: SearcherOptions): Searcher {
  const { es } = options;
  const log = options.logger?.child({ component: 'searcher' });
  const closing = new Set<Promise<unknown>>();
  const knownRenditions = new Set<string>();
  let closed = false;
  let closePromise: Promise<void> | undefined;
  const ctx: SearcherContext = {
    es,
    names: options.names,
    keepAlive: options.keepAlive ?? '2m',
    cursorKey: options.cursorKey ?? randomBytes(32),
    searchTimeout: options.searchTimeout ?? '5s',
    log,
    bylineNames: createBylineNameCache(),
    closePit(id) {
      // Fire and forget: an unclosed point in time only lives until its keep_alive runs out.
      const p = es
        .closePointInTime({ id })
        .catch((err) => log?.debug({ err }, 'closing a point in time failed'))
        .finally(() => closing.delete(p));
      closing.add(p);
    },
  };

  return {
    search(params, call) {
      if (closed) return Promise.reject(new Error('searcher is closed'));
      return runSearch(ctx, params, call);
    },
    suggest: (params, call) => runSuggest(ctx, params, call),
    related: (id, params = {}, call = {}) => runRelated(ctx, id, params, call),
    archives: (call) => listArchives(ctx, call),
    isRendition: (digest, call) => isRendition(ctx, knownRenditions, digest, call),
    getArticle: (id, call = {}) => getDoc<ArticleDoc>(ctx, 'articles', id, call),
    getImage: async (id, call = {}) => {
      const doc = await getDoc<ImageDoc>(ctx, 'images', id, call);
      if (!doc) return undefined;
      // The original's digest is its address in the blob store: not for the public.
      const { original, ...rest } = doc as ImageDoc & { original?: { digest?: string } };
      if (!original) return doc;
      const { digest: _digest, ...about } = original;
      return { ...rest, original: about } as ImageDoc;
    },
    async health(call = {}) {
      try {
        // The health of this namespace's own indexes (live, kept, as-of), not of the whole
        // cluster: on a shared cluster another tenant's index waiting for a replica (yellow)
        // or a primary being allocated (red for a moment) says nothing about this archive.
        // A pattern that matches no index yet is green.
        const index = PROJECTION_NAMES.map((p) => `${options.names.indexPrefix(p)}*`);
        const health = await es.cluster.health(
          { index, timeout: '2s' },
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
