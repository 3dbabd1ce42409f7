import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { BlobStore } from '../log/blobStore.ts';
import type { CheckpointStore } from '../log/checkpoints.ts';
import type { ContentLog } from '../log/types.ts';
import { alertRoutes } from './http/alertRoutes.ts';
import { createApp } from './http/app.ts';
import { discoveryRoutes } from './http/discoveryRoutes.ts';
import { healthRoute, type ReadinessReport } from './http/health.ts';
import { pageRoutes } from './http/page.ts';
import { readRoutes } from './http/readRoutes.ts';
import { renditionRoute } from './http/renditions.ts';
import type { SavedSearches } from './savedSearches.ts';
import type { Searcher } from './searcher.ts';

/** Options of {@link buildServer}. */
export interface ServerOptions {
  searcher: Searcher;
  /** The content log, for histories and the health check. */
  log: Pick<ContentLog, 'readEntity' | 'head'>;
  /** Where rendition bytes live. */
  blobs: Pick<BlobStore, 'size' | 'head' | 'stream'>;
  /** The projections' checkpoints, for read-your-writes (`afterSeq`); without them `afterSeq` gets 501. */
  checkpoints?: Pick<CheckpointStore, 'waitForSeq'>;
  logger?: Logger;
  /** Saved searches, for `GET /api/alerts/:name` (without them it answers 501). */
  alerts?: Pick<SavedSearches, 'get' | 'recent'>;
  /** How long `afterSeq` waits before answering 503 (default 5 s). */
  readYourWritesTimeoutMs?: number;
  /** Largest request line plus headers accepted (default 128 KiB); larger gets a JSON 431. */
  maxHeaderBytes?: number;
  /** Longest a request may take before it is answered 504 (default 10 s). */
  timeoutMs?: number;
  /** Requests one client (IP address) may make per minute; 0 is no limit (default 600). */
  rateLimitPerMinute?: number;
  /** What `/readyz` checks (default: NATS and Elasticsearch answer). */
  readiness?: () => Promise<ReadinessReport>;
}

/**
 * Build the HTTP API and the web page on Fastify: `GET /api/search`, `/api/articles/:id`,
 * `/api/articles/:id/history`, `/api/images/:id`, `/renditions/:digest`, `/healthz`, `/readyz`,
 * `/openapi.json` and the page at `/`. Every error is JSON `{ error: { code, message } }`
 * with a 4xx that fits, 503 when a backing service is down, 504 past the request's
 * deadline; a stack trace never leaves the process. The instance is not listening: call
 * `listen()`, or `inject()` in tests.
 */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { searcher, log, blobs } = options;
  const app = createApp({
    logger: options.logger,
    maxHeaderBytes: options.maxHeaderBytes ?? 128 * 1024,
    timeoutMs: options.timeoutMs ?? 10_000,
    rateLimitPerMinute: options.rateLimitPerMinute ?? 600,
  });
  app.register(async (api) => {
    readRoutes(api, options);
    discoveryRoutes(api, searcher);
    alertRoutes(api, options.alerts);
    renditionRoute(api, {
      blobs,
      isRendition: (digest, signal) => searcher.isRendition(digest, { signal }),
    });
    healthRoute(api, searcher, log, options.readiness);
    pageRoutes(api);
  });
  return app;
}
