/**
 * Shared set-up of the projector integration tests: a namespace with its content log,
 * checkpoint store, lease bucket and dead-letter store; reading an index back; and a
 * throwaway HTTP proxy in front of Elasticsearch that can go away or reject bulk items.
 */

import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Client } from '@elastic/elasticsearch';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { type CheckpointStore, createCheckpointStore } from '../../log/checkpoints.ts';
import { createContentLog } from '../../log/contentLog.ts';
import type { ContentLog } from '../../log/types.ts';
import type { ProjectionClients } from '../../projectors/clients.ts';
import { openLeaseBucket } from '../../projectors/lease.ts';
import { createProjector, type ProjectorOptions } from '../../projectors/live/projector.ts';
import { type ReindexOptions, reindex } from '../../projectors/rebuild/reindex.ts';
import { createStateSnapshotStore, type StateSnapshotStore } from '../../projectors/state/stateSnapshots.ts';
import { createDeadLetterStore, type DeadLetterStore } from '../../projectors/write/deadLetters.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { canonicalJson } from '../../schemas/eventId.ts';
import type { Names, ProjectionName } from '../../schemas/names.ts';
import { openConfiguredKeyRing } from '../../scripts/keys.ts';
import { type TestNamespace, withNamespace } from './env.ts';

export interface ProjectorEnv extends TestNamespace {
  nc: NatsConnection;
  log: ContentLog;
  client: Client;
  checkpoints: CheckpointStore;
  leaseBucket: KV;
  deadLetters: DeadLetterStore;
  /** The namespace's state snapshots (not in `common()`: tests opt in). */
  snapshots: StateSnapshotStore;
  /** Append events (unconditionally); asserts every one was appended; returns the last sequence. */
  append(events: readonly ContentEvent[]): Promise<number>;
  /** Options every projector/reindex of the test shares. */
  common(): ProjectionClients;
}

/** Run `fn` in a fresh namespace with an initialised content log. */
export function withProjectorEnv<T>(
  fn: (env: ProjectorEnv) => Promise<T>,
  /** `sealed`: open the namespace's key ring, for tests whose CLI runs seal what they append. */
  options: { sealed?: boolean } = {},
): Promise<T> {
  return withNamespace(async (ns) => {
    const nc = await ns.nats();
    const keys = options.sealed ? await openConfiguredKeyRing(ns.config, nc) : undefined;
    const log = createContentLog({ nc, names: ns.names, ...(keys ? { keys } : {}) });
    await log.init();
    const client = ns.es();
    const checkpoints = createCheckpointStore({ nc, names: ns.names });
    const leaseBucket = await openLeaseBucket(nc, ns.names);
    const deadLetters = createDeadLetterStore({ client, names: ns.names });
    const env: ProjectorEnv = {
      ...ns,
      nc,
      log,
      client,
      checkpoints,
      leaseBucket,
      deadLetters,
      snapshots: createStateSnapshotStore({ nc, names: ns.names }),
      async append(events) {
        let last = 0;
        for (let i = 0; i < events.length; i += 500) {
          const stats = await log.append(events.slice(i, i + 500).map((event) => ({ event })));
          assert.equal(
            stats.appended + stats.duplicates,
            Math.min(500, events.length - i),
            JSON.stringify(stats.outcomes.find((o) => o.status !== 'appended')),
          );
          last = Math.max(last, stats.lastSeq);
        }
        return last;
      },
      common: () => ({ log, client, checkpoints, leaseBucket, deadLetters, names: ns.names }),
    };
    try {
      return await fn(env);
    } finally {
      await checkpoints.close();
      await log.close();
    }
  });
}

/** Every document of an index or alias as canonical JSON, by id. */
export async function dumpIndex(client: Client, index: string): Promise<Map<string, string>> {
  await client.indices.refresh({ index });
  const out = new Map<string, string>();
  let response = await client.search({
    index,
    scroll: '1m',
    size: 1000,
    query: { match_all: {} },
    version: true,
    // A shard that is down (a node restarting) must fail the dump, not shorten it.
    allow_partial_search_results: false,
  });
  try {
    while (response.hits.hits.length > 0) {
      for (const hit of response.hits.hits) out.set(hit._id!, canonicalJson(hit._source));
      response = await client.scroll({ scroll_id: response._scroll_id!, scroll: '1m' });
    }
  } finally {
    if (response._scroll_id) await client.clearScroll({ scroll_id: response._scroll_id }).catch(() => {});
  }
  return out;
}

/** All three projections' documents behind their aliases, keyed `projection/id`. */
export async function dumpAll(client: Client, names: Names): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const projection of ['articles', 'images', 'bylines'] as ProjectionName[]) {
    for (const [id, doc] of await dumpIndex(client, names.alias(projection)))
      out.set(`${projection}/${id}`, doc);
  }
  return out;
}

/** Compare two document sets with a readable failure (first differing ids). */
export function assertSameDocs(
  actual: Map<string, string>,
  expected: Map<string, string>,
  message = 'documents differ',
): void {
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  const different = [...expected.keys()].filter((k) => actual.has(k) && actual.get(k) !== expected.get(k));
  if (missing.length + extra.length + different.length === 0) return;
  const first = different[0];
  assert.fail(
    `${message}: ${missing.length} missing (${missing.slice(0, 5).join(', ')}), ${extra.length} extra (${extra.slice(0, 5).join(', ')}), ` +
      `${different.length} different (${different.slice(0, 5).join(', ')})` +
      (first
        ? `\n  ${first} actual:   ${actual.get(first)?.slice(0, 400)}\n  ${first} expected: ${expected.get(first)?.slice(0, 400)}`
        : ''),
  );
}

/** Run a live projector until it has caught up with the head of the log. */
export async function projectOnce(env: ProjectorEnv, extra: Partial<ProjectorOptions> = {}) {
  const projector = createProjector({
    ...env.common(),
    projections: ['articles', 'images', 'bylines'],
    leaseTtlMs: 3000,
    ...extra,
  });
  try {
    return await projector.run({ untilCaughtUp: true });
  } finally {
    await projector.close();
  }
}

/** Run a full reindex of every projection. */
export function reindexAll(env: ProjectorEnv, extra: Partial<ReindexOptions> = {}) {
  return reindex({
    ...env.common(),
    projections: ['articles', 'images', 'bylines'],
    leaseTtlMs: 3000,
    ...extra,
  });
}

export type ProxyMode = 'pass' | 'reject-some-bulk-items' | 'refuse-doc-for-good';

/**
 * A throwaway HTTP proxy in front of Elasticsearch. `stop()` closes the port and every
 * open connection (the client sees connection refused); `start()` listens on the same
 * port again. In `reject-some-bulk-items` mode every third item of a `_bulk` request is
 * answered with a 429 instead of being forwarded, once per (id, version). In
 * `refuse-doc-for-good` mode every bulk item of the document `refuse(id)` named is
 * answered with a 400 (a mapping error: no retry helps).
 */
export async function startEsProxy(target = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200') {
  const upstream = new URL(target.split(',')[0]!);
  let mode: ProxyMode = 'pass';
  let refusedId: string | undefined;
  const rejectedOnce = new Set<string>();
  let rejectedItems = 0;
  const sockets = new Set<Socket>();

  const forward = (
    method: string,
    path: string,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>(
      (resolve, reject) => {
        const req = httpRequest(
          {
            host: upstream.hostname,
            port: upstream.port,
            method,
            path,
            headers: { ...headers, host: upstream.host, 'content-length': body.length },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );

  const handler = async (
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
  ) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const headers = { ...req.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    const isBulk = req.method === 'POST' && /\/_bulk(\?|$)/.test(req.url ?? '');
    if ((mode === 'reject-some-bulk-items' || mode === 'refuse-doc-for-good') && isBulk) {
      const lines = body
        .toString('utf8')
        .split('\n')
        .filter((l) => l.length > 0);
      const pairs: { action: string; source?: string; key: string }[] = [];
      for (let i = 0; i < lines.length; i++) {
        const action = JSON.parse(lines[i]!) as Record<string, { _id?: string; version?: number }>;
        const kind = Object.keys(action)[0]!;
        const meta = action[kind]!;
        const pair = {
          action: lines[i]!,
          key: `${meta._id}@${meta.version}`,
          source: undefined as string | undefined,
        };
        if (kind === 'index' || kind === 'create' || kind === 'update') pair.source = lines[++i];
        pairs.push(pair);
      }
      const rejected = new Set<number>();
      pairs.forEach((pair, i) => {
        if (mode === 'refuse-doc-for-good') {
          if (pair.key.startsWith(`${refusedId}@`)) rejected.add(i);
        } else if (i % 3 === 0 && !rejectedOnce.has(pair.key)) {
          rejectedOnce.add(pair.key);
          rejected.add(i);
        }
      });
      rejectedItems += rejected.size;
      const kept = pairs.filter((_, i) => !rejected.has(i));
      let items: unknown[] = [];
      let took = 0;
      let upstreamErrors = false;
      if (kept.length > 0) {
        body = Buffer.from(
          `${kept.flatMap((p) => (p.source === undefined ? [p.action] : [p.action, p.source])).join('\n')}\n`,
        );
        const response = await forward(req.method!, req.url!, headers, body);
        const parsed = JSON.parse(response.body.toString('utf8')) as {
          items: unknown[];
          took: number;
          errors: boolean;
        };
        items = parsed.items;
        took = parsed.took;
        upstreamErrors = parsed.errors;
      }
      let next = 0;
      const merged = pairs.map((pair, i) => {
        if (!rejected.has(i)) return items[next++];
        const kind = Object.keys(JSON.parse(pair.action) as object)[0]!;
        const error =
          mode === 'refuse-doc-for-good'
            ? {
                status: 400,
                error: { type: 'mapper_parsing_exception', reason: 'refused by the test proxy' },
              }
            : {
                status: 429,
                error: { type: 'es_rejected_execution_exception', reason: 'rejected by the test proxy' },
              };
        return { [kind]: error };
      });
      const errors = upstreamErrors || rejected.size > 0;
      const payload = Buffer.from(JSON.stringify({ took, errors, items: merged }));
      res.writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
      res.end(payload);
      return;
    }
    const response = await forward(req.method!, req.url!, headers, body);
    const outHeaders = { ...response.headers };
    delete outHeaders['content-length'];
    delete outHeaders['transfer-encoding'];
    res.writeHead(response.status, outHeaders);
    res.end(response.body);
  };

  let server: Server = createServer((req, res) => {
    handler(req, res).catch(() => {
      res.writeHead(502);
      res.end();
    });
  });
  const track = (srv: Server) =>
    srv.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    client(): Client {
      return new Client({ node: `http://127.0.0.1:${port}`, requestTimeout: 10_000 });
    },
    setMode(next: ProxyMode) {
      mode = next;
    },
    /** In `refuse-doc-for-good` mode, the document whose writes are refused. */
    refuse(id: string) {
      refusedId = id;
    },
    get rejectedItems() {
      return rejectedItems;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async start() {
      server = createServer((req, res) => {
        handler(req, res).catch(() => {
          res.writeHead(502);
          res.end();
        });
      });
      track(server);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}
