import type { FastifyInstance } from 'fastify';
import { AnyObject } from '../apiSchemas.ts';
import { ALERT_NAME_PATTERN, type SavedSearches } from '../savedSearches.ts';
import { withinDeadline } from './deadline.ts';
import { HttpError } from './errors.ts';

/** `GET /api/alerts/:name`: a saved search and its recent matches (newest first). */
export function alertRoutes(
  api: FastifyInstance,
  alerts: Pick<SavedSearches, 'get' | 'recent'> | undefined,
): void {
  api.get<{ Params: { name: string } }>(
    '/api/alerts/:name',
    {
      schema: {
        summary: 'A saved search (presslog alerts add) and the articles that matched it lately',
        params: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', pattern: ALERT_NAME_PATTERN.source } },
        },
        response: {
          200: AnyObject,
          404: { $ref: 'Error#' },
          501: { $ref: 'Error#' },
          503: { $ref: 'Error#' },
        },
      },
    },
    async (request) => {
      if (!alerts) throw new HttpError(501, 'not_supported', 'this server has no access to saved searches');
      const { name } = request.params;
      const [search, matches] = await withinDeadline(request, () =>
        Promise.all([alerts.get(name), alerts.recent(name)]),
      );
      if (!search) throw new HttpError(404, 'not_found', `no saved search ${name}`);
      return { ...search, matches };
    },
  );
}
