import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { BlobStore } from '../log/blobStore.ts';
import type { CheckpointStore } from '../log/checkpoints.ts';
import type { ContentLog } from '../log/types.ts';
import { PresslogError, TransientError } from '../schemas/errors.ts';
import type { ProjectionName } from '../schemas/names.ts';
import {
  AnyObject,
  DigestParams,
  ErrorBody,
  HealthResponse,
  HistoryQuerystring,
  IdParams,
  ReadQuerystring,
  SearchQuerystring,
  SearchResponse,
} from './apiSchemas.ts';
import { CursorExpiredError, IndexMissingError, InvalidQueryError } from './errors.ts';
import { toHistory } from './history.ts';
import { SNIFF_BYTES, sniffMediaType } from './mediaType.ts';
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
}

/** An error that is the answer: a status, a stable code and a message safe to show. */
class HttpError extends PresslogError {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Fields beside `error` in the body, e.g. `lag`. */
    readonly top: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
  /** Fields inside `error`, e.g. `parameter`. */
  extra?: Record<string, unknown>;
  /** Fields beside `error`, e.g. `lag`. */
  top?: Record<string, unknown>;
  headers?: Record<string, string>;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Map anything thrown to the answer the client gets; unknown errors never reveal details. */
function answerFor(err: unknown): ErrorAnswer {
  if (err instanceof HttpError)
    return { status: err.status, code: err.code, message: err.message, top: err.top };
  if (err instanceof InvalidQueryError) {
    return {
      status: 400,
      code: 'invalid_parameter',
      message: err.message,
      extra: { parameter: err.parameter },
    };
  }
  if (err instanceof CursorExpiredError) return { status: 410, code: 'cursor_expired', message: err.message };
  if (err instanceof IndexMissingError) {
    return { status: 503, code: 'not_ready', message: err.message, headers: { 'retry-after': '5' } };
  }
  if (err instanceof TransientError) {
    return {
      status: 503,
      code: 'unavailable',
      message: 'a backing service is unavailable; try again shortly',
      headers: { 'retry-after': '1' },
    };
  }
  const fe = err as Partial<FastifyError>;
  if (fe.validation) {
    const first = fe.validation[0];
    const parameter =
      first?.instancePath?.replace(/^\//, '') ||
      (first?.params as { missingProperty?: string })?.missingProperty;
    return {
      status: 400,
      code: 'invalid_parameter',
      message: `${fe.validationContext ?? 'request'}${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}`,
      extra: parameter ? { parameter } : {},
    };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      code: (fe.code ?? 'bad_request').toLowerCase(),
      message: fe.message ?? 'bad request',
    };
  }
  return { status: 500, code: 'internal', message: 'internal error; the server log has the details' };
}

function sendError(reply: FastifyReply, answer: ErrorAnswer): FastifyReply {
  for (const [name, value] of Object.entries(answer.headers ?? {})) reply.header(name, value);
  return reply
    .code(answer.status)
    .type('application/json; charset=utf-8')
    .send({ ...answer.top, error: { code: answer.code, message: answer.message, ...answer.extra } });
}

function clientErrorHandler(maxHeaderBytes: number) {
  return (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'request_too_large', `request line and headers exceed ${maxHeaderBytes} bytes`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'request_timeout', 'request timed out']
          : [400, 'bad_request', 'malformed HTTP request'];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === etag || tag === '*';
  });
}

async function readHead(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
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
  app.setErrorHandler((err, request, reply) => {
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
        await waitForProjection(params.kind === 'image' ? 'images' : 'articles', afterSeq);
        return searcher.search(params);
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
        await waitForProjection('articles', request.query.afterSeq);
        const doc = await searcher.getArticle(request.params.id);
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
        const events = await log.readEntity('article', id, { onUnreadable: (u) => unreadable.push(u.seq) });
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
        await waitForProjection('images', request.query.afterSeq);
        const doc = await searcher.getImage(request.params.id);
        if (!doc) throw new HttpError(404, 'not_found', `no image ${request.params.id}`);
        return doc;
      },
    );

    api.get<{ Params: { digest: string } }>(
      '/renditions/:digest',
      {
        schema: {
          summary: 'Image bytes by content digest (immutable)',
          params: DigestParams,
          response: { 404: { $ref: 'Error#' }, 400: { $ref: 'Error#' } },
        },
      },
      async (request, reply) => {
        const { digest } = request.params;
        const size = await blobs.size(digest);
        if (size === undefined) throw new HttpError(404, 'not_found', `no blob ${digest}`);
        const etag = `"${digest}"`;
        // The address is the hash of the bytes: they can never change, so caches may keep them forever.
        reply.header('etag', etag).header('cache-control', 'public, max-age=31536000, immutable');
        if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
        const type = sniffMediaType(await readHead(blobs.pathOf(digest))) ?? 'application/octet-stream';
        reply.type(type).header('content-length', size);
        return reply.send(blobs.stream(digest));
      },
    );

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
