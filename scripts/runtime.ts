import { readFile } from 'node:fs/promises';
import v8 from 'node:v8';
import { Client, SniffingTransport, UndiciConnection } from '@elastic/elasticsearch';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  wsconnect,
} from '@nats-io/transport-node';
import { Redis, type RedisOptions } from 'ioredis';
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { type BlobStore, createBlobStore, createNatsBlobStore } from '../log/blobStore.ts';
import type { Config } from '../schemas/config.ts';
import { TransientError } from '../schemas/errors.ts';

export type { Logger } from 'pino';

// The package's ESM entry does not re-export ClientOptions.
type ClientOptions = ConstructorParameters<typeof Client>[0];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Pretty-print for humans; defaults to whether stderr is a terminal. */
  pretty?: boolean;
  /** Overrides `config.logLevel`, e.g. `warn` for `--quiet`. */
  level?: string;
}

/**
 * The process's root logger. It writes to stderr, so stdout stays free for command
 * output (tables, `--json`). Writes are synchronous: a CLI that exits right after an
 * error must not lose the line that explains it.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, options: LoggerOptions = {}): Logger {
  const level = options.level ?? config.logLevel;
  if (options.pretty ?? process.stderr.isTTY) {
    return pino({ level }, pretty({ destination: 2, sync: true, ignore: 'pid,hostname' }));
  }
  return pino({ level }, pino.destination({ dest: 2, sync: true }));
}

/** The process's one shutdown signal; see {@link createShutdownSignal}. */
export interface ShutdownSignal {
  readonly signal: AbortSignal;
  /** Remove the process signal handlers again (tests, and commands that finish on their own). */
  dispose(): void;
}

/**
 * One AbortController per process, aborted by the first SIGINT or SIGTERM so every loop
 * can stop intake and shut down in order. A second signal means the user is done
 * waiting: exit at once with the conventional 128 + signal number.
 */
export function createShutdownSignal(): ShutdownSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(name === 'SIGINT' ? 130 : 143);
    controller.abort(new Error(`received ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function urls(list: string): string[] {
  return list.split(',').map((u) => u.trim());
}

/**
 * Connect to NATS with the configured servers and credentials. `options` are passed to
 * nats.js as they are (e.g. `{ name, timeout, reconnect: false }`).
 */
export async function connectNats(
  config: Pick<Config, 'nats'>,
  options: NodeConnectionOptions = {},
): Promise<NatsConnection> {
  const { url, user, password, token, credsFile } = config.nats;
  const servers = urls(url);
  const auth: NodeConnectionOptions = { user, pass: password, token };
  if (credsFile) auth.authenticator = credsAuthenticator(await readFile(credsFile));
  // ws:// needs a global WebSocket (Node 22+); nats:// and tls:// use the TCP transport.
  const dial = servers.some((s) => s.startsWith('ws')) ? wsconnect : connect;
  return dial({ servers, ...auth, ...options });
}

/**
 * {@link connectNats} for a command: named `name`, 5 s to connect, and a failure is a
 * `TransientError` naming the (masked) URL, so the CLI prints one clear line.
 */
export async function connectNatsOrExplain(
  config: Pick<Config, 'nats'>,
  name: string,
): Promise<NatsConnection> {
  try {
    return await connectNats(config, { name, timeout: 5_000 });
  } catch (err) {
    throw new TransientError(
      `cannot connect to NATS at ${maskCredentials(config.nats.url)}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * The client's own transport with its OpenTelemetry middleware on or off. The client has
 * no option for it (only the transport does, and the `OTEL_ELASTICSEARCH_ENABLED`
 * variable); its default, on, costs every request a span even with no tracer to export it.
 */
function transportTracing(enabled: boolean): typeof SniffingTransport {
  return class extends SniffingTransport {
    constructor(opts: ConstructorParameters<typeof SniffingTransport>[0]) {
      super({ ...opts, openTelemetry: { ...opts.openTelemetry, enabled } });
    }
  };
}

/**
 * An Elasticsearch client for the configured nodes, authenticated by API key or by
 * username and password when those are set. Creating it opens no connection.
 */
export function createEsClient(
  config: {
    elasticsearch: Omit<Config['elasticsearch'], 'requestTimeoutMs' | 'openTelemetry'> & {
      requestTimeoutMs?: number;
      openTelemetry?: boolean;
    };
  },
  options: Partial<ClientOptions> = {},
): Client {
  const { url, apiKey, username, password, requestTimeoutMs, openTelemetry } = config.elasticsearch;
  let auth: ClientOptions['auth'];
  if (apiKey) auth = { apiKey };
  else if (username && password) auth = { username, password };
  // The client's default is no timeout at all: a node that accepts connections but never
  // answers would hang every caller forever. Bounded here, for every request.
  return new Client({
    nodes: urls(url),
    auth,
    requestTimeout: requestTimeoutMs ?? 30_000,
    Transport: transportTracing(openTelemetry ?? false),
    Connection: KeepAliveConnection,
    ...options,
  });
}

/**
 * The client's connection, keeping its socket after a DELETE with a body. undici closes the
 * connection after such a request (RFC 7230 gives the body no meaning, so it does not trust
 * the stream after it); Elasticsearch's `DELETE /_pit` needs one, and every search whose
 * results end on its first page closes its point in time: a new TCP connection per search
 * (0.9 ms more per open and close, measured with 200 of each on loopback). Elasticsearch
 * reads such bodies; the connection stays good.
 */
class KeepAliveConnection extends UndiciConnection {
  constructor(options: ConstructorParameters<typeof UndiciConnection>[0]) {
    super(options);
    const pool = this.pool as unknown as {
      request: (params: { method?: string; reset?: boolean }) => Promise<unknown>;
    };
    const request = pool.request.bind(pool);
    pool.request = (params) => request(params.method === 'DELETE' ? { ...params, reset: false } : params);
  }
}

/** Options of {@link createRedis}. */
export interface CreateRedisOptions extends RedisOptions {
  /**
   * BullMQ requires `maxRetriesPerRequest: null` on the connections its workers block
   * on; without it a worker gives up on a long BRPOPLPUSH.
   */
  forBullmq?: boolean;
  /** Where connection errors go; ioredis prints them to the console when nobody listens. */
  log?: Logger;
}

/** An ioredis client for `REDIS_URL`. */
export function createRedis(config: Pick<Config, 'redis'>, options: CreateRedisOptions = {}): Redis {
  const { forBullmq = false, log, ...redisOptions } = options;
  const redis = new Redis(config.redis.url, {
    ...(forBullmq ? { maxRetriesPerRequest: null } : {}),
    ...redisOptions,
  });
  if (log) redis.on('error', (err) => log.warn({ err, component: 'redis' }, 'redis connection error'));
  return redis;
}

/**
 * Mask the password of every `scheme://user:password@` in a text: URLs in messages
 * and error output may carry credentials, which presslog never prints.
 */
export function maskCredentials(text: string): string {
  return text.replace(/(\/\/[^/\s:@]*:)[^@\s/]+@/g, '$1***@');
}

/**
 * Let the JavaScript heap grow by at most 2× its live size between full collections
 * (V8 otherwise allows up to 4× on a machine with this much memory), unless the command
 * line chose a factor. presslog's long-running processes hold little live heap (their
 * state is in files and typed arrays) but promote a steady stream of short-lived objects,
 * so their resident size was mostly garbage waiting for the next collection: a 300k-event
 * `presslog reindex all` peaked at 320 MiB with the default and at 262-264 MiB with this,
 * in the same time (68.6 s; 67.9 and 75.3) and CPU 22.7 s against 23.3 and 24.4 (one run
 * each, on a machine whose noise is about that large).
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  v8.setFlagsFromString('--heap-growing-percent=100');
}

/** The configured blob store: the directory, or the namespace's JetStream object store over `nc`. */
export function openBlobStore(config: Config, nc: NatsConnection): BlobStore {
  if (config.blobStore === 'nats')
    return createNatsBlobStore({ nc, names: config.names, replicas: config.replicas });
  return createBlobStore(config.blobDir);
}
