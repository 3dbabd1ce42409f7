import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { ErrorBody } from '../apiSchemas.ts';
import { addDeadlines, ClientGoneError } from './deadline.ts';
import { answerFor, clientErrorHandler, HttpError, sendError } from './errors.ts';

/** Paths the rate limit leaves alone. */
const UNLIMITED = new Set(['/healthz', '/readyz', '/metrics']);

/** Options of {@link createApp}. */
export interface AppOptions {
  logger?: Logger;
  /** Largest request line plus headers accepted; larger gets a JSON 431. */
  maxHeaderBytes: number;
  /** Longest a request may take before it is answered 504. */
  timeoutMs: number;
  /** Requests one client (IP address) may make per minute; 0 is no limit. */
  rateLimitPerMinute: number;
}

/**
 * The Fastify instance every route is added to, with what applies to all of them: JSON
 * errors (never a stack trace), a deadline and an abort signal per request, the
 * per-client rate limit, `nosniff`, debug-level request logs and the OpenAPI document.
 */
export function createApp(options: AppOptions): FastifyInstance {
  const { maxHeaderBytes, rateLimitPerMinute } = options;
  const logger = options.logger?.child({ component: 'http' });
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
  addDeadlines(app, options.timeoutMs);
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
      // Health checks and metrics are for load balancers and monitors, which poll on their own schedule.
      allowList: (request) => UNLIMITED.has(request.url),
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

  return app;
}
