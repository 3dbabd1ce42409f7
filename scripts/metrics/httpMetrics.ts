import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Gauge, Histogram } from 'prom-client';
import type { Metrics } from './metrics.ts';

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const started = new WeakMap<FastifyRequest, bigint>();

/**
 * Count the app's requests, `presslog_http_request_duration_seconds{method,route,status}`
 * (route is the route's pattern, `/api/articles/:id`, never the URL asked for; `unmatched`
 * for a 404 without a route) and `presslog_http_requests_in_flight`, and serve the
 * metrics at `GET /metrics`. Call before the app is ready (before `listen`).
 */
export function observeHttp(metrics: Metrics, app: FastifyInstance): void {
  const registers = [metrics.registry];
  const duration = new Histogram({
    name: 'presslog_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers,
  });
  const inFlight = new Gauge({
    name: 'presslog_http_requests_in_flight',
    help: 'HTTP requests being answered',
    registers,
  });
  app.addHook('onRequest', async (request) => {
    started.set(request, process.hrtime.bigint());
    inFlight.inc();
  });
  app.addHook('onResponse', async (request, reply) => {
    const start = started.get(request);
    if (start === undefined) return;
    started.delete(request);
    inFlight.dec();
    duration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      Number(process.hrtime.bigint() - start) / 1e9,
    );
  });
  // A request whose client went away gets no onResponse.
  app.addHook('onRequestAbort', async (request) => {
    if (started.delete(request)) inFlight.dec();
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(metrics.contentType);
    return metrics.render();
  });
}
