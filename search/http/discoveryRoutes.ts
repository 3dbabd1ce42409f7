import type { FastifyInstance } from 'fastify';
import { AnyObject, IdParams, RelatedQuerystring, SuggestQuerystring } from '../apiSchemas.ts';
import type { Searcher } from '../searcher.ts';
import { withinDeadline } from './deadline.ts';
import { HttpError } from './errors.ts';

const errorResponses = {
  400: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  503: { $ref: 'Error#' },
};

/**
 * `GET /api/suggest` (completions as you type), `/api/articles/:id/related` (more like
 * this) and `/api/archives` (the as-of indexes `?asOf=` can search).
 */
export function discoveryRoutes(api: FastifyInstance, searcher: Searcher): void {
  api.get<{ Querystring: { q?: string; size?: number } }>(
    '/api/suggest',
    {
      schema: {
        summary: 'Headlines and byline names with a word that starts with what was typed',
        querystring: SuggestQuerystring,
        response: { 200: AnyObject, ...errorResponses },
      },
    },
    (request) => withinDeadline(request, (signal) => searcher.suggest(request.query, { signal })),
  );

  api.get<{ Params: { id: string }; Querystring: { size?: number } }>(
    '/api/articles/:id/related',
    {
      schema: {
        summary: 'Articles like this one (more_like_this over headline and body)',
        params: IdParams,
        querystring: RelatedQuerystring,
        response: { 200: AnyObject, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const hits = await withinDeadline(request, (signal) => searcher.related(id, request.query, { signal }));
      if (!hits) throw new HttpError(404, 'not_found', `no article ${id}`);
      return { id, hits };
    },
  );

  api.get(
    '/api/archives',
    {
      schema: {
        summary: 'The archives as they stood (--as-of indexes), for ?asOf= on /api/search',
        response: { 200: AnyObject, 503: { $ref: 'Error#' } },
      },
    },
    async (request) => ({
      archives: await withinDeadline(request, (signal) => searcher.archives({ signal })),
    }),
  );
}
