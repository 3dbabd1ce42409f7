import type { Client } from '@elastic/elasticsearch';
import type { Redis } from 'ioredis';
import { Gauge, Histogram } from 'prom-client';
import { type Metrics, secondsSince, withTimeout } from './metrics.ts';

export type Dependency = 'nats' | 'elasticsearch' | 'redis';

/** The dependencies a process uses; each is probed at every scrape. */
export interface DependencyClients {
  /** A NATS round trip: `nc.rtt()`, or the log's `head()`. */
  nats?: () => Promise<unknown>;
  elasticsearch?: Client;
  redis?: Redis;
}

const PROBE_TIMEOUT_MS = 2000;

/** Latency buckets for requests to the services (seconds). */
export const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * `presslog_dependency_up{dependency}` (0/1) and `presslog_dependency_probe_duration_seconds`
 * from a probe at every scrape (NATS round trip, Elasticsearch cluster health, Redis PING), plus
 * `presslog_elasticsearch_request_duration_seconds{operation}` for every request the
 * process makes, read from the client's diagnostic events.
 */
export function observeDependencies(metrics: Metrics, clients: DependencyClients): void {
  const registers = [metrics.registry];
  const up = existing<Gauge>(
    metrics,
    'presslog_dependency_up',
    () =>
      new Gauge({
        name: 'presslog_dependency_up',
        help: 'Whether a service answered the last probe (1) or not (0)',
        labelNames: ['dependency'],
        registers,
      }),
  );
  const probe = existing<Histogram>(
    metrics,
    'presslog_dependency_probe_duration_seconds',
    () =>
      new Histogram({
        name: 'presslog_dependency_probe_duration_seconds',
        help: 'Round trip of the probe of a service, as seen from presslog',
        labelNames: ['dependency'],
        buckets: REQUEST_BUCKETS,
        registers,
      }),
  );
  const probed = probedBy.get(metrics) ?? new Set<Dependency>();
  probedBy.set(metrics, probed);
  const probes: [Dependency, (() => Promise<unknown>) | undefined][] = [
    ['nats', clients.nats],
    [
      'elasticsearch',
      clients.elasticsearch &&
        (() =>
          clients.elasticsearch!.cluster.health({}, { requestTimeout: PROBE_TIMEOUT_MS, maxRetries: 0 })),
    ],
    ['redis', clients.redis && (() => clients.redis!.ping())],
  ];
  for (const [dependency, ping] of probes) {
    // Two parts of one process (the server and the projector of `start`) share a probe.
    if (!ping || probed.has(dependency)) continue;
    probed.add(dependency);
    up.set({ dependency }, 0);
    metrics.onScrape(async () => {
      const start = process.hrtime.bigint();
      try {
        await withTimeout(PROBE_TIMEOUT_MS, dependency, ping);
        probe.observe({ dependency }, secondsSince(start));
        up.set({ dependency }, 1);
      } catch {
        up.set({ dependency }, 0);
      }
    });
  }
  if (clients.elasticsearch) observeElasticsearchRequests(metrics, clients.elasticsearch);
}

const probedBy = new WeakMap<Metrics, Set<Dependency>>();

/** The metric registered under `name`, or a new one. */
function existing<M>(metrics: Metrics, name: string, create: () => M): M {
  return (metrics.registry.getSingleMetric(name) as M | undefined) ?? create();
}

/** The kind of an Elasticsearch request, from its path: never an index or document name. */
export function esOperation(method: string, path: string): string {
  const endpoint = path
    .split('?')[0]!
    .split('/')
    .find((part) => part.startsWith('_'));
  if (endpoint) return endpoint.slice(1).replace(/[^a-z_]/g, '') || 'other';
  if (path === '/' || path === '') return method === 'HEAD' ? 'ping' : 'info';
  return method === 'HEAD' ? 'exists' : 'other';
}

function observeElasticsearchRequests(metrics: Metrics, client: Client): void {
  const name = 'presslog_elasticsearch_request_duration_seconds';
  const histogram = existing<Histogram>(
    metrics,
    name,
    () =>
      new Histogram({
        name,
        help: 'Duration of requests to Elasticsearch by operation (bulk, search, refresh, ...) and outcome',
        labelNames: ['operation', 'outcome'],
        buckets: REQUEST_BUCKETS,
        registers: [metrics.registry],
      }),
  );
  client.diagnostic.on('response', (err, result) => {
    const meta = result?.meta;
    if (!meta || meta.duration === undefined) return;
    const { method, path } = meta.request.params;
    histogram.observe(
      { operation: esOperation(method, path), outcome: err ? 'error' : 'ok' },
      meta.duration / 1000,
    );
  });
}
