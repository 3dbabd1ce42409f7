import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * Node's default metrics whose names break Prometheus' conventions (`_total` on gauges):
 * `promtool check metrics` refuses them, so they are left out.
 */
const NONCONFORMING_DEFAULTS = [
  'nodejs_active_resources_total',
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_space_size_total_bytes',
];

/** Refreshes gauges read from elsewhere (a store, a probe) just before a scrape. */
export type Refresher = () => Promise<void>;

/** One process's metrics: a registry, and what must be read afresh for each scrape. */
export interface Metrics {
  readonly registry: Registry;
  /** Add a refresher; it runs before every scrape, bounded by `refreshTimeoutMs`. */
  onScrape(refresher: Refresher): void;
  /** The exposition text (Prometheus text format 0.0.4), refreshed first. */
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** Longest the refreshers may take before the scrape answers with what it has (default 3 s). */
  refreshTimeoutMs?: number;
}

/**
 * Create a process's metrics registry with Node's process metrics (CPU, memory, event
 * loop lag, GC) and presslog's own, which the observers in this folder register. The
 * metric modules never reach into the parts they watch beyond their public hooks
 * (`onProgress`, a worker's events, the Elasticsearch client's diagnostics).
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of NONCONFORMING_DEFAULTS) registry.removeSingleMetric(name);
  const refreshers: Refresher[] = [];
  const timeoutMs = options.refreshTimeoutMs ?? 3000;
  return {
    registry,
    contentType: registry.contentType,
    onScrape(refresher) {
      refreshers.push(refresher);
    },
    async render() {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      // A refresher that fails leaves its gauges as they were (and sets its own `up` to 0).
      await Promise.race([Promise.allSettled(refreshers.map((r) => r())), deadline]);
      clearTimeout(timer);
      return registry.metrics();
    },
  };
}

/** Seconds since `start` (a `process.hrtime.bigint()`). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Run `fn`, failing after `ms`. */
export async function withTimeout<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
