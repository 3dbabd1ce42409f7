import type { Config } from '../../schemas/config.ts';
import { connectNats, createEsClient, createRedis } from '../runtime.ts';
import type { ServiceName } from './state.ts';

/** What a service said when asked, or why it said nothing. */
export type Probe =
  | { answering: true; version: string /** Elasticsearch cluster health. */; health?: string }
  | {
      answering: false;
      error: string;
      /** Something answers on that address, but it is not a server we can use: starting ours would fail. */
      unusable?: boolean;
    };

function message(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Elasticsearch's ResponseError may have an empty message; the status code says more.
  const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
  return [err.message || err.name, status && `HTTP ${status}`].filter(Boolean).join(', ');
}

async function probeNats(config: Config, timeoutMs: number): Promise<Probe> {
  const nc = await connectNats(config, { name: 'presslog-probe', timeout: timeoutMs, reconnect: false });
  try {
    const info = nc.info;
    if (!info?.jetstream) {
      // An answering server without JetStream cannot hold the content log; say so instead of reusing it.
      return {
        answering: false,
        unusable: true,
        error: `nats-server ${info?.version} answers but has JetStream disabled (run it with -js)`,
      };
    }
    return { answering: true, version: info.version };
  } finally {
    await nc.close();
  }
}

async function probeRedis(config: Config, timeoutMs: number): Promise<Probe> {
  const redis = createRedis(config, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // connect() rejects with a bare "Connection is closed"; the 'error' event has the reason.
  let reason: Error | undefined;
  redis.on('error', (err: Error) => {
    reason ??= err;
  });
  try {
    await redis.connect().catch((err: Error) => {
      throw reason ?? err;
    });
    const info = await redis.info('server');
    return { answering: true, version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
  } finally {
    redis.disconnect();
  }
}

async function probeElasticsearch(config: Config, timeoutMs: number): Promise<Probe> {
  // The integ-test distribution lacks the rest-root module, so `GET /` (ping, info) is
  // missing: ask cluster health for readiness and the local node for the version.
  const es = createEsClient(config, { requestTimeout: timeoutMs, maxRetries: 0 });
  try {
    const health = await es.cluster.health();
    const nodes = await es.nodes.info({ node_id: '_local', filter_path: ['nodes.*.version'] });
    const version = Object.values(nodes.nodes)[0]?.version ?? 'unknown';
    return { answering: true, version, health: health.status.toLowerCase() };
  } finally {
    await es.close();
  }
}

const probes: Record<ServiceName, (config: Config, timeoutMs: number) => Promise<Probe>> = {
  nats: probeNats,
  redis: probeRedis,
  elasticsearch: probeElasticsearch,
};

/** Ask a service whether it is there and which version it runs. Never throws. */
export async function probe(name: ServiceName, config: Config, timeoutMs = 3000): Promise<Probe> {
  try {
    return await probes[name](config, timeoutMs);
  } catch (err) {
    return { answering: false, error: message(err) };
  }
}
