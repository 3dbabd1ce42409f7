import assert from 'node:assert/strict';
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { pino } from 'pino';
import type { ReindexProgress } from '../../projectors/rebuild/reindex.ts';
import { assertSameDocs, dumpAll, reindexAll, withProjectorEnv } from '../support/projectors.ts';
import { sizedLog } from '../support/projectorsEvents.ts';

type TcpMode = 'forward' | 'reset' | 'blackhole';

/**
 * A TCP proxy in front of Elasticsearch: `forward` pipes each connection through,
 * `reset` resets every connection (new ones and those open), `blackhole` accepts new
 * connections and never answers (a hung node, a dropped route).
 */
async function startTcpProxy(target = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200') {
  const upstream = new URL(target.split(',')[0]!);
  let mode: TcpMode = 'forward';
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    if (mode === 'reset') return void socket.resetAndDestroy();
    if (mode === 'blackhole') return;
    const up = createConnection({ host: upstream.hostname, port: Number(upstream.port || 9200) });
    open.add(up);
    up.on('error', () => {});
    up.on('close', () => {
      open.delete(up);
      socket.destroy();
    });
    socket.on('close', () => up.destroy());
    socket.pipe(up).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setMode(next: TcpMode) {
      mode = next;
      // Pooled keep-alive connections are cut too.
      if (next !== 'forward') for (const socket of open) socket.resetAndDestroy();
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const MiB = 1024 * 1024;

describe('reindex during an Elasticsearch outage', () => {
  test('writes reset, then blackholed: what is buffered stays bounded, then the reindex completes', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(sizedLog(6000, 3));
      await reindexAll(env);
      const clean = await dumpAll(env.client, env.names);

      const proxy = await startTcpProxy();
      // Short, so that a blackholed request fails (and is retried) within the outage.
      const client = new Client({ node: proxy.url, requestTimeout: 1_000 });
      const warnings: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
      const batchDocs = 200;
      const maxInFlight = 3;
      let outage: { events: number; heapUsed: number; maxRss: number } | undefined;
      let over = false;
      const during: ReindexProgress[] = [];
      let peakHeap = 0;
      let maxRssAfter = 0;
      const timers: NodeJS.Timeout[] = [];
      const cut = (events: number) => {
        proxy.setMode('reset');
        outage = {
          events,
          heapUsed: process.memoryUsage().heapUsed,
          maxRss: process.resourceUsage().maxRSS * 1024,
        };
        timers.push(
          setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 20),
          setTimeout(() => proxy.setMode('blackhole'), 5_000),
          setTimeout(() => {
            over = true;
            maxRssAfter = process.resourceUsage().maxRSS * 1024;
            clearInterval(timers[0]);
            proxy.setMode('forward');
          }, 12_000),
        );
      };
      try {
        const report = await reindexAll(env, {
          client,
          logger,
          batchDocs,
          maxInFlight,
          onProgress(p) {
            if (!outage && p.phase === 'write' && p.docs >= batchDocs) cut(p.events);
            else if (outage && !over) during.push(p);
          },
        });
        assert.ok(outage && over, 'the outage began and ended during the reindex');
        assert.ok(report.stats.retries > 0 && during.length > 0, 'writes failed and were retried');
        assert.equal(report.stats.deadLettered, 0);
        assertSameDocs(clean, await dumpAll(env.client, env.names), 'the reindex through the outage differs');

        // The log is read no further than the write side can hold: the batches in the
        // pipeline, the one being built, and what the log reader pulls ahead (512..1024).
        const readAhead = Math.max(...during.map((p) => p.events)) - outage.events;
        const docsHeld = (maxInFlight + 2) * batchDocs;
        assert.ok(readAhead <= docsHeld * 1.5 + 1024, `${readAhead} events read during the outage`);
        for (const p of during) {
          assert.ok(p.buffered, 'progress reports what is buffered');
          assert.ok(p.buffered.batches <= maxInFlight + 1, `${p.buffered.batches} batches held`);
          assert.ok(p.buffered.bytes <= docsHeld * 8 * 1024, `${p.buffered.bytes} bytes held`);
        }
        // Failed requests cost no memory in proportion to their bodies (the client's
        // redaction of a failed request's diagnostics copied each body byte by byte).
        const heapGrowth = peakHeap - outage.heapUsed;
        assert.ok(heapGrowth < 64 * MiB, `heap grew ${Math.round(heapGrowth / MiB)} MiB during the outage`);
        const rssGrowth = maxRssAfter - outage.maxRss;
        assert.ok(
          rssGrowth < 128 * MiB,
          `peak RSS grew ${Math.round(rssGrowth / MiB)} MiB during the outage`,
        );

        // A stalled write is logged while it is retried, the blackholed one after its timeout.
        const retried = warnings.map((line) => JSON.parse(line) as Record<string, unknown>);
        const failed = retried.filter((w) => w.msg === 'bulk request failed; retrying');
        assert.ok(failed.length > 0, 'a failed bulk request was logged');
        assert.ok(
          failed.some((w) => /timed? ?out/i.test(String(w.error))),
          `a blackholed request timed out: ${failed.map((w) => w.error).join('; ')}`,
        );
        assert.ok(
          failed.some((w) => Number(w.stalledMs) >= 1_000),
          'the time the write has been stalled is logged',
        );
      } finally {
        for (const timer of timers) clearTimeout(timer);
        await client.close();
        await proxy.close();
      }
    });
  });
});
