import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { type Config, loadConfig } from '../../schemas/config.ts';
import type { Names } from '../../schemas/names.ts';
import { connectNats, createEsClient, createRedis } from '../../scripts/runtime.ts';

/** A namespace no other test run uses: `t-` and 10 hex digits. */
export function uniqueNamespace(): string {
  return `t-${randomBytes(5).toString('hex')}`;
}

/**
 * A configuration for one test: the servers from the environment (the ones
 * `services up` made sure of), a fresh namespace, a fresh temporary blob directory,
 * and log level `warn` unless PRESSLOG_LOG_LEVEL says otherwise. `overrides` are
 * environment variables applied last.
 */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    ...process.env,
    PRESSLOG_LOG_LEVEL: process.env.PRESSLOG_LOG_LEVEL ?? 'warn',
    PRESSLOG_NAMESPACE: uniqueNamespace(),
    PRESSLOG_BLOB_DIR: mkdtempSync(join(tmpdir(), 'presslog-blobs-')),
    ...overrides,
  });
}

export interface EventuallyOptions {
  /** Give up after this many milliseconds (default 5000). */
  timeout?: number;
  /** Wait this long between attempts (default 50). */
  interval?: number;
}

/**
 * Call `fn` until it neither throws nor returns `false`, and return its value. Use it
 * instead of fixed sleeps: `await eventually(async () => assert.equal(await count(), 3))`.
 * On timeout it throws, with the last failure as the cause.
 */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  { timeout = 5000, interval = 50 }: EventuallyOptions = {},
): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    let failure: unknown;
    try {
      const value = await fn();
      if (value !== false) return value as Exclude<T, false>;
      failure = new Error('the condition returned false');
    } catch (err) {
      failure = err;
    }
    if (Date.now() >= deadline) {
      const why = failure instanceof Error ? failure.message : String(failure);
      throw new Error(`not true within ${timeout} ms: ${why}`, { cause: failure });
    }
    await sleep(interval);
  }
}

/** Clients of one test namespace, each opened on first use and closed by {@link withNamespace}. */
export interface TestClients {
  nats(): Promise<NatsConnection>;
  es(): Client;
  redis(): Redis;
}

export interface TestNamespace extends TestClients {
  config: Config;
  names: Names;
}

function lazyClients(config: Config): TestClients & { close(): Promise<void> } {
  let nc: Promise<NatsConnection> | undefined;
  let es: Client | undefined;
  let redis: Redis | undefined;
  return {
    nats: () => {
      nc ??= connectNats(config, { name: `presslog-test ${config.namespace}` });
      return nc;
    },
    es: () => {
      es ??= createEsClient(config);
      return es;
    },
    redis: () => {
      redis ??= createRedis(config);
      return redis;
    },
    async close() {
      await Promise.allSettled([nc?.then((c) => c.close()), es?.close(), redis?.quit()]);
    },
  };
}

/**
 * Delete everything a namespace created on the servers: JetStream streams `<NS>_*`
 * (KV buckets `KV_<NS>_*`, object stores `OBJ_<NS>_*`), Elasticsearch indexes and
 * index templates `<ns>-*`, Redis keys `<ns>:*` (BullMQ's prefix), and the blob directory.
 */
export async function cleanupNamespace(
  config: Config,
  /** The clients to use (default: opened and closed here); without `es`, Elasticsearch is left alone. */
  clients?: Omit<TestClients, 'es'> & Partial<Pick<TestClients, 'es'>>,
): Promise<void> {
  const own = clients ? undefined : lazyClients(config);
  const use = clients ?? own!;
  const ns = config.namespace;
  const { streamPrefixes } = config.names;

  const nats = async () => {
    const jsm = await jetstreamManager(await use.nats());
    for await (const name of jsm.streams.names()) {
      if (streamPrefixes.some((prefix) => name.startsWith(prefix))) await jsm.streams.delete(name);
    }
  };
  const elasticsearch = async () => {
    if (!use.es) return;
    const es = use.es();
    // Deleting by wildcard is refused by default (action.destructive_requires_name): name each index.
    const indexes = Object.keys(await es.indices.get({ index: `${ns}-*`, expand_wildcards: 'all' }));
    if (indexes.length > 0) await es.indices.delete({ index: indexes });
    await es.indices.deleteIndexTemplate({ name: `${ns}-*` }, { ignore: [404] });
  };
  const redis = async () => {
    const client = use.redis();
    for await (const keys of client.scanStream({ match: `${ns}:*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await client.unlink(...(keys as string[]));
    }
  };
  const results = await Promise.allSettled([
    nats(),
    elasticsearch(),
    redis(),
    rm(config.blobDir, { recursive: true, force: true }),
    // The master key a CLI generated at the default path (var/<ns>/master.key).
    config.masterKey.generateIfMissing
      ? rm(dirname(config.masterKey.file), { recursive: true, force: true })
      : undefined,
  ]);
  await own?.close();
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  if (failures.length > 0) throw new AggregateError(failures, `cleaning up namespace ${ns} failed`);
}

/**
 * Run `fn` in a fresh namespace ({@link testConfig}) with lazily opened clients, then
 * delete everything the namespace created and close the clients, whether `fn` passed
 * or not. A cleanup failure after a failed `fn` is only reported, so it cannot hide
 * the test's own error.
 */
export async function withNamespace<T>(
  fn: (ns: TestNamespace) => Promise<T>,
  overrides: Record<string, string | undefined> = {},
): Promise<T> {
  const config = testConfig(overrides);
  const clients = lazyClients(config);
  const { nats, es, redis } = clients;
  let result: T;
  try {
    result = await fn({ config, names: config.names, nats, es, redis });
  } catch (err) {
    await cleanupNamespace(config, clients).catch((cleanupError: unknown) => console.warn(cleanupError));
    await clients.close();
    throw err;
  }
  try {
    await cleanupNamespace(config, clients);
  } finally {
    await clients.close();
  }
  return result;
}
