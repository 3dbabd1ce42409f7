import type { FastifyInstance } from 'fastify';
import type { CheckpointStore } from '../../log/checkpoints.ts';
import type { ContentLog } from '../../log/types.ts';
import { TransientError } from '../../schemas/errors.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import {
  AnyObject,
  ArticleQuerystring,
  HistoryQuerystring,
  IdParams,
  ReadQuerystring,
  SearchQuerystring,
  SearchResponse,
} from '../apiSchemas.ts';
import { articleDocToNinjs } from '../export/toNinjs.ts';
import { toHistory } from '../history.ts';
import type { SearchParams } from '../params.ts';
import type { Searcher } from '../searcher.ts';
import { withinDeadline } from './deadline.ts';
import { HttpError } from './errors.ts';

/** Options of {@link readRoutes}. */
export interface ReadRouteOptions {
  searcher: Searcher;
  log: Pick<ContentLog, 'readEntity'>;
  /** The projections' checkpoints, for read-your-writes (`afterSeq`); without them `afterSeq` gets 501. */
  checkpoints?: Pick<CheckpointStore, 'waitForSeq'>;
  /** How long `afterSeq` waits before answering 503 (default 5 s). */
  readYourWritesTimeoutMs?: number;
}

interface SearchQuery extends SearchParams {
  afterSeq?: number;
}

const errorResponses = {
  400: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  503: { $ref: 'Error#' },
};

/**
 * Read-your-writes: wait until `projection` has applied log sequence `afterSeq` (when
 * given), else answer 503 with the lag.
 */
async function waitForProjection(
  options: ReadRouteOptions,
  projection: ProjectionName,
  afterSeq: number | undefined,
): Promise<void> {
  const { checkpoints } = options;
  const waitMs = options.readYourWritesTimeoutMs ?? 5_000;
  if (afterSeq === undefined) return;
  if (!checkpoints)
    throw new HttpError(501, 'not_supported', 'afterSeq: this server has no access to checkpoints');
  let result: Awaited<ReturnType<typeof checkpoints.waitForSeq>>;
  try {
    result = await checkpoints.waitForSeq(projection, afterSeq, { timeoutMs: waitMs });
  } catch (err) {
    // The checkpoints live in NATS KV: failing to read them is an outage, not a bad request.
    throw new TransientError(`reading the ${projection} checkpoint failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const { reached, visibleSeq } = result;
  if (!reached) {
    throw new HttpError(
      503,
      'projection_lagging',
      `the ${projection} projection has applied log sequence ${visibleSeq}, not yet ${afterSeq}; try again`,
      { lag: Math.max(0, afterSeq - visibleSeq) },
    );
  }
}

/**
 * 410 Gone for an erased article, with the erasure notice (when, and the public note if
 * one was given; never the reason, which is internal). Asked only when the index has no
 * such article, so a found article costs nothing more.
 */
async function throwIfErased(log: Pick<ContentLog, 'readEntity'>, id: string): Promise<void> {
  const events = await log.readEntity('article', id, { onUnreadable: () => {} }).catch(() => []);
  const erasure = events.find((s) => s.event.type === 'ArticleErased');
  if (erasure?.event.type !== 'ArticleErased') return;
  const { publicNote } = erasure.event.payload;
  throw new HttpError(410, 'gone', `article ${id} was removed`, {
    erased: { at: erasure.event.occurredAt, ...(publicNote ? { publicNote } : {}) },
  });
}

/**
 * `GET /api/search`, `/api/articles/:id`, `/api/articles/:id/history`, `/api/images/:id`:
 * every one under the request's deadline, with its abort signal handed to Elasticsearch.
 */
export function readRoutes(api: FastifyInstance, options: ReadRouteOptions): void {
  const { searcher, log } = options;
  api.get<{ Querystring: SearchQuery }>(
    '/api/search',
    {
      schema: {
        summary: 'Search articles (or images)',
        querystring: SearchQuerystring,
        response: { 200: SearchResponse, 410: { $ref: 'Error#' }, ...errorResponses },
      },
    },
    async (request) => {
      const { afterSeq, ...params } = request.query;
      return withinDeadline(request, async (signal) => {
        await waitForProjection(options, params.kind === 'image' ? 'images' : 'articles', afterSeq);
        return searcher.search(params, { signal });
      });
    },
  );

  api.get<{ Params: { id: string }; Querystring: { afterSeq?: number; format?: 'presslog' | 'ninjs' } }>(
    '/api/articles/:id',
    {
      schema: {
        summary: 'An article as indexed (full text, bylines, images with renditions), or as a ninjs 2.x item',
        params: IdParams,
        querystring: ArticleQuerystring,
        response: { 200: AnyObject, 410: { $ref: 'Error#' }, ...errorResponses },
      },
    },
    async (request) => {
      const doc = await withinDeadline(request, async (signal) => {
        await waitForProjection(options, 'articles', request.query.afterSeq);
        return searcher.getArticle(request.params.id, { signal });
      });
      if (!doc) {
        await throwIfErased(log, request.params.id);
        throw new HttpError(404, 'not_found', `no article ${request.params.id}`);
      }
      return request.query.format === 'ninjs' ? articleDocToNinjs(doc) : doc;
    },
  );

  api.get<{ Params: { id: string }; Querystring: { full?: boolean } }>(
    '/api/articles/:id/history',
    {
      schema: {
        summary: "An article's audit trail, read from the log",
        params: IdParams,
        querystring: HistoryQuerystring,
        response: { 200: AnyObject, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const unreadable: number[] = [];
      const events = await withinDeadline(request, () =>
        log.readEntity('article', id, { onUnreadable: (u) => unreadable.push(u.seq) }),
      );
      if (events.length === 0 && unreadable.length === 0)
        throw new HttpError(404, 'not_found', `no article ${id} in the log`);
      return {
        ...toHistory('article', id, events, { full: request.query.full }),
        unreadableSeqs: unreadable,
      };
    },
  );

  api.get<{ Params: { id: string }; Querystring: { afterSeq?: number } }>(
    '/api/images/:id',
    {
      schema: {
        summary: 'An image as indexed (caption, status, renditions, articles using it)',
        params: IdParams,
        querystring: ReadQuerystring,
        response: { 200: AnyObject, ...errorResponses },
      },
    },
    async (request) => {
      const doc = await withinDeadline(request, async (signal) => {
        await waitForProjection(options, 'images', request.query.afterSeq);
        return searcher.getImage(request.params.id, { signal });
      });
      if (!doc) throw new HttpError(404, 'not_found', `no image ${request.params.id}`);
      return doc;
    },
  );
}
