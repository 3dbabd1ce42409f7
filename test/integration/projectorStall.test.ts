import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { projectLeaseKey, readLease } from '../../projectors/lease.ts';
import { createProjector, ProjectorStalledError } from '../../projectors/live/projector.ts';
import { projectionStatus } from '../../projectors/status.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { eventually } from '../support/env.ts';
import { type ProjectorEnv, withProjectorEnv } from '../support/projectors.ts';
import { articleFields, makeEvent } from '../support/projectorsEvents.ts';

/**
 * A TCP proxy in front of Elasticsearch that forwards, or blackholes: connections stay
 * open and are accepted, but nothing goes through either way (a hung node, a dropped
 * route), on the connections already open as on new ones.
 */
async function startSwitchableProxy(target = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200') {
  const upstream = new URL(target.split(',')[0]!);
  let blackholed = false;
  let swallowed = 0;
  const sockets = new Set<Socket>();
  const keep = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const server = createServer((downstream) => {
    keep(downstream);
    const up = connect(Number(upstream.port || 9200), upstream.hostname);
    keep(up);
    downstream.on('data', (chunk) => {
      if (blackholed) swallowed += chunk.length;
      else up.write(chunk);
    });
    up.on('data', (chunk) => {
      if (!blackholed) downstream.write(chunk);
    });
    // Only a real close is passed on: a blackholed connection stays open and silent.
    downstream.on('close', () => up.destroy());
    up.on('close', () => {
      if (!blackholed) downstream.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    blackhole() {
      blackholed = true;
    },
    /** Forward again (on new connections: the client gives up the silent ones). */
    forward() {
      blackholed = false;
    },
    get swallowed() {
      return swallowed;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function articles(from: number, count: number): ContentEvent[] {
  return Array.from({ length: count }, (_, i) =>
    makeEvent('ArticlePublished', `stall-${from + i}`, articleFields({ headline: `Article ${from + i}` })),
  );
}

async function countDocs(env: ProjectorEnv): Promise<number> {
  const alias = env.names.alias('articles');
  await env.client.indices.refresh({ index: alias });
  return (await env.client.count({ index: alias })).count;
}

describe('live projector against a hung Elasticsearch', () => {
  test('blackholed: the stall is logged in its health within seconds, it gives up its lease, a standby takes over', async () => {
    await withProjectorEnv(async (env) => {
      const proxy = await startSwitchableProxy();
      // The client as the CLI builds it: the default ELASTICSEARCH_REQUEST_TIMEOUT_MS (30 s).
      const throughProxy = new Client({ node: proxy.url, requestTimeout: 30_000 });
      const leaseTtlMs = 3000;
      let aCaughtUp = false;
      const a = createProjector({
        ...env.common(),
        client: throughProxy,
        projections: ['articles'],
        leaseTtlMs,
        idlePollMs: 20,
        onCaughtUp: () => {
          aCaughtUp = true;
        },
      });
      // A longer TTL for the standby: on a loaded machine a 3 s one could see it give up too.
      const b = createProjector({
        ...env.common(),
        projections: ['articles'],
        leaseTtlMs: 10_000,
        idlePollMs: 20,
      });
      let aEnded = false;
      const aRun = a.run().then(
        () => undefined,
        (err: unknown) => err,
      );
      void aRun.finally(() => {
        aEnded = true;
      });
      let bWaiting = false;
      const bRun = b.run({ wait: true, onWait: () => (bWaiting = true) });
      bRun.catch(() => {});
      try {
        await env.append(articles(0, 10));
        await eventually(() => aCaughtUp, { timeout: 15_000 });
        await eventually(async () => assert.equal(await countDocs(env), 10), { timeout: 10_000 });
        await eventually(() => bWaiting, { timeout: 5_000 });

        proxy.blackhole();
        const cut = Date.now();
        await env.append(articles(10, 5));

        // A reports the stall (status reads its health entry) well within a lease TTL or two.
        const health = await eventually(
          async () => {
            const report = await projectionStatus({ ...env.common(), projections: ['articles'] });
            const status = report.projections[0]!;
            assert.ok(
              status.health?.lastError,
              `no error in the health entry: ${JSON.stringify(status.health)}`,
            );
            return status.health;
          },
          { timeout: 2 * leaseTtlMs, interval: 100 },
        );
        assert.match(health.lastError!, /Elasticsearch/);
        assert.ok(Date.parse(health.lastErrorAt!) >= cut - 1000);

        // Status itself, asking the hung node, answers in bounded time with what NATS knows.
        const asked = Date.now();
        const hung = await projectionStatus({
          ...env.common(),
          client: throughProxy,
          projections: ['articles'],
          elasticsearchTimeoutMs: 1000,
        });
        assert.ok(Date.now() - asked < 5000, `status took ${Date.now() - asked} ms`);
        const seen = hung.projections[0]!;
        assert.match(seen.elasticsearchError ?? '', /did not answer within 1000 ms/);
        assert.equal(
          seen.index,
          (await env.checkpoints.pointer('articles'))?.index,
          'the index from its pointer',
        );
        // 10 while A is stuck (15 if the standby was quick).
        const seq = seen.checkpoint?.seq ?? -1;
        assert.ok(seq === 10 || seq === 15, `checkpoint ${seq}`);
        assert.equal(seen.lagEvents, 15 - seq);
        assert.ok(seen.health?.lastError);

        // A gives up its lease; B takes it and writes what A could not.
        await eventually(async () => assert.equal(await countDocs(env), 15), {
          timeout: 4 * leaseTtlMs + 10_000,
          interval: 100,
        });
        assert.ok(Date.now() - cut < 4 * leaseTtlMs + 10_000);
        // A, run without `wait`, looks again after its pause, finds the standby in its place and ends.
        await eventually(() => aEnded, { timeout: 4 * leaseTtlMs });
        const err = (await aRun) as Error;
        assert.ok(err instanceof ProjectorStalledError, `the stalled run rejects: ${err}`);
        assert.match(err.message, /no progress for .* longer than the lease .* held by/);
        assert.ok(
          await readLease(env.leaseBucket, projectLeaseKey('articles')),
          'the standby holds the lease',
        );

        // And B keeps going: an event appended now is projected too.
        await env.append(articles(15, 1));
        await eventually(async () => assert.equal(await countDocs(env), 16), { timeout: 10_000 });
        assert.ok(proxy.swallowed > 0, 'A did send to the blackholed Elasticsearch');
      } finally {
        await b.close();
        await a.close();
        await aRun;
        await throughProxy.close();
        await proxy.close();
      }
    });
  });

  test('with nobody to take over, it takes its lease back after the stall and catches up once Elasticsearch answers', async () => {
    await withProjectorEnv(async (env) => {
      const proxy = await startSwitchableProxy();
      const throughProxy = new Client({ node: proxy.url, requestTimeout: 30_000 });
      const leaseTtlMs = 2000;
      let caughtUp = false;
      const a = createProjector({
        ...env.common(),
        client: throughProxy,
        projections: ['articles'],
        leaseTtlMs,
        idlePollMs: 20,
        onCaughtUp: () => {
          caughtUp = true;
        },
      });
      const running = a.run({ wait: true });
      running.catch(() => {});
      try {
        await env.append(articles(0, 3));
        await eventually(() => caughtUp, { timeout: 15_000 });
        proxy.blackhole();
        await env.append(articles(3, 2));
        // The stall gives the lease up: for a while nobody holds it.
        await eventually(
          async () => assert.equal(await readLease(env.leaseBucket, projectLeaseKey('articles')), undefined),
          { timeout: 4 * leaseTtlMs, interval: 50 },
        );
        proxy.forward();
        await eventually(async () => assert.equal(await countDocs(env), 5), {
          timeout: 30_000,
          interval: 200,
        });
        const holder = await readLease(env.leaseBucket, projectLeaseKey('articles'));
        assert.equal(holder?.pid, process.pid, 'the same projector holds the lease again');
      } finally {
        await a.close();
        assert.ok((await running).events >= 5, 'run() resolves on close, with the events of both attempts');
        await throughProxy.close();
        await proxy.close();
      }
    });
  });
});
