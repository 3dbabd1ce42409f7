import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';
import type { ReadinessReport } from './readiness.ts';

/** The HTTP endpoint of a process without an API of its own (projector, workers, reindex). */
export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  metrics: Metrics;
  readiness: () => Promise<ReadinessReport>;
  port: number;
  host?: string;
}

/**
 * Serve `GET /metrics` (Prometheus text format), `/healthz` (alive: 200) and `/readyz`
 * (200, or 503 with the reasons) on `port` (0: any free port).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body));
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return json(405, { error: { code: 'method_not_allowed', message: 'GET only' } });
    const answer = async () => {
      if (path === '/metrics') return send(200, options.metrics.contentType, await options.metrics.render());
      if (path === '/healthz') return json(200, { status: 'ok' });
      if (path === '/readyz') {
        const report = await options.readiness();
        return json(report.ready ? 200 : 503, {
          status: report.ready ? 'ok' : 'unavailable',
          checks: report.checks,
          ...(report.ready ? {} : { error: { code: 'unavailable', message: report.reason } }),
        });
      }
      return json(404, {
        error: { code: 'not_found', message: `no route ${path}: /metrics, /healthz, /readyz` },
      });
    };
    answer().catch((err: unknown) =>
      json(500, { error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } }),
    );
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
