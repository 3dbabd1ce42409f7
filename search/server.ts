import { readFileSync } from 'node:fs';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { BlobStore } from '../log/blobStore.ts';
import type { CheckpointStore } from '../log/checkpoints.ts';
import type { ContentLog } from '../log/types.ts';
import { TransientError } from '../schemas/errors.ts';
import type { ProjectionName } from '../schemas/names.ts';
import {
  AnyObject,
  ErrorBody,
  HealthResponse,
  HistoryQuerystring,
  IdParams,
  ReadQuerystring,
  SearchQuerystring,
  SearchResponse,
} from './apiSchemas.ts';
import { toHistory } from './history.ts';
import { addDeadlines, ClientGoneError, withinDeadline } from './http/deadline.ts';
import { answerFor, clientErrorHandler, HttpError, sendError } from './http/errors.ts';
import { renditionRoute } from './http/renditions.ts';
import type { SearchParams } from './query.ts';
import type { Searcher } from './searcher.ts';

/** Options of {@link buildServer}. */
export interface ServerOptions {
  searcher: Searcher;
  /** The content log, for histories and the health check. */
  log: Pick<ContentLog, 'readEntity' | 'head'>;
  /** Where rendition bytes live. */
  blobs: Pick<BlobStore, 'size' | 'pathOf' | 'stream'>;
  /** The projections' checkpoints, for read-your-writes (`afterSeq`); without them `afterSeq` gets 501. */
  checkpoints?: Pick<CheckpointStore, 'waitForSeq'>;
  logger?: Logger;
  /** How long `afterSeq` waits before answering 503 (default 5 s). */
  readYourWritesTimeoutMs?: number;
  /** Largest request line plus headers accepted (default 128 KiB); larger gets a JSON 431. */
  maxHeaderBytes?: number;
  /** Longest a request may take before it is answered 504 (default 10 s). */
  timeoutMs?: number;
  /** Requests one client (IP address) may make per minute; 0 is no limit (default 600). */
  rateLimitPerMinute?: number;
}

const WEB_FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
} as const;

// The page renders highlight HTML; the policy makes sure nothing but our own script and
// styles could ever run or load, even if a highlight were not what we expect.
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface SearchQuery extends SearchParams {
  afterSeq?: number;
}

/**
 * Build the HTTP API and the web page on Fastify: `GET /api/search`, `/api/articles/:id`,
 * `/api/articles/:id/history`, `/api/images/:id`, `/renditions/:digest`, `/healthz`,
 * `/openapi.json` and the page at `/`. Every error is JSON `{ error: { code, message } }`
 * with a 4xx that fits, or 503 when a backing service is down; a stack trace never
 * leaves the process. The instance is not listening: call `listen()`, or `inject()` in tests.
 */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { searcher, log, blobs, checkpoints } = options;
  const waitMs = options.readYourWritesTimeoutMs ?? 5_000;
  const maxHeaderBytes = options.maxHeaderBytes ?? 128 * 1024;
  const rateLimitPerMinute = options.rateLimitPerMinute ?? 600;
  const logger = options.logger?.child({ component: 'http' });
  const web = Object.fromEntries(
    Object.entries(WEB_FILES).map(([path, { file, type }]) => [
      path,
      { type, body: readFileSync(new URL(`./web/${file}`, import.meta.url)) },
    ]),
  );

  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    // Requests are logged at debug level by the onResponse hook below, not at info per request.
    logController: new LogController({ disableRequestLogging: true }),
    // A 100 KB query string must reach validation (and get a clear 400), not die in the parser.
    http: { maxHeaderSize: maxHeaderBytes },
    clientErrorHandler: clientErrorHandler(maxHeaderBytes),
    routerOptions: { maxParamLength: 200 },
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    frameworkErrors: (err, _request, reply) => {
      sendError(reply, answerFor(err));
    },
  });

  app.addSchema(ErrorBody);
  addDeadlines(app, options.timeoutMs ?? 10_000);
  app.setErrorHandler((err, request, reply) => {
    // Nobody is left to answer; the abort has already stopped the work behind the request.
    if (err instanceof ClientGoneError || request.work?.reason instanceof ClientGoneError) return reply;
    const answer = answerFor(err);
    if (answer.status >= 500) request.log.error({ err, url: request.url }, 'request failed');
    else request.log.debug({ err, url: request.url, status: answer.status }, 'request refused');
    return sendError(reply, answer);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, {
      status: 404,
      code: 'not_found',
      message: `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`,
    }),
  );
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  const waitForProjection = async (projection: ProjectionName, afterSeq: number | undefined) => {
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
  };

  const errorResponses = {
    400: { $ref: 'Error#' },
    404: { $ref: 'Error#' },
    503: { $ref: 'Error#' },
  };

  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'presslog',
        version: '1',
        description: 'Search the presslog archive; read articles, images, their history and renditions.',
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  if (rateLimitPerMinute > 0) {
    app.register(rateLimit, {
      max: rateLimitPerMinute,
      timeWindow: 60_000,
      // The health check is for load balancers and monitors, which poll it on their own schedule.
      allowList: (request) => request.url === '/healthz',
      errorResponseBuilder: (_request, context) =>
        new HttpError(
          429,
          'rate_limited',
          `more than ${context.max} requests a minute from this client; retry after ${context.after}`,
          {},
          { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
        ),
    });
  }

  app.register(async (api) => {
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
          await waitForProjection(params.kind === 'image' ? 'images' : 'articles', afterSeq);
          return searcher.search(params, { signal });
        });
      },
    );

    api.get<{ Params: { id: string }; Querystring: { afterSeq?: number } }>(
      '/api/articles/:id',
      {
        schema: {
          summary: 'An article as indexed (full text, bylines, images with renditions)',
          params: IdParams,
          querystring: ReadQuerystring,
          response: { 200: AnyObject, ...errorResponses },
        },
      },
      async (request) => {
        const doc = await withinDeadline(request, async (signal) => {
          await waitForProjection('articles', request.query.afterSeq);
          return searcher.getArticle(request.params.id, { signal });
        });
        if (!doc) throw new HttpError(404, 'not_found', `no article ${request.params.id}`);
        return doc;
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
          await waitForProjection('images', request.query.afterSeq);
          return searcher.getImage(request.params.id, { signal });
        });
        if (!doc) throw new HttpError(404, 'not_found', `no image ${request.params.id}`);
        return doc;
      },
    );

    renditionRoute(api, {
      blobs,
      isRendition: (digest, signal) => searcher.isRendition(digest, { signal }),
    });

    api.get(
      '/healthz',
      {
        schema: {
          summary: 'Elasticsearch and NATS reachable',
          response: { 200: HealthResponse, 503: HealthResponse },
        },
      },
      async (_request, reply) => {
        const [elasticsearch, nats] = await Promise.all([searcher.health(), natsHealth(log)]);
        const ok = elasticsearch.ok && nats.ok;
        reply.code(ok ? 200 : 503);
        const failed = [!elasticsearch.ok && 'elasticsearch', !nats.ok && 'nats']
          .filter(Boolean)
          .join(' and ');
        return {
          status: ok ? 'ok' : 'unavailable',
          elasticsearch,
          nats,
          ...(ok ? {} : { error: { code: 'unavailable', message: `${failed} not reachable` } }),
        };
      },
    );

    api.get('/openapi.json', { schema: { hide: true } }, async () => api.swagger());

    for (const [path, file] of Object.entries(web)) {
      api.get(path, { schema: { hide: true } }, async (_request, reply) => {
        reply.type(file.type).header('cache-control', 'no-cache');
        if (path === '/')
          reply.header('content-security-policy', PAGE_POLICY).header('referrer-policy', 'no-referrer');
        return reply.send(file.body);
      });
    }
  });

  return app;
}

async function natsHealth(
  log: Pick<ContentLog, 'head'>,
): Promise<{ ok: boolean; lastSeq?: number; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3_000);
    });
    const head = await Promise.race([log.head(), timeout]);
    return { ok: true, lastSeq: head.lastSeq };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
