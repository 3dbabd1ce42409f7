import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { esOperation } from '../../scripts/metrics/dependencyMetrics.ts';
import { createMetrics } from '../../scripts/metrics/metrics.ts';
import { startMetricsServer } from '../../scripts/metrics/metricsServer.ts';
import { createReadiness } from '../../scripts/metrics/readiness.ts';
import { observeReindex } from '../../scripts/metrics/reindexMetrics.ts';

describe('metrics', () => {
  test('an Elasticsearch request is labelled by its endpoint, never by an index or document name', () => {
    assert.equal(esOperation('POST', '/_bulk'), 'bulk');
    assert.equal(esOperation('POST', '/presslog-articles/_search?typed_keys=true'), 'search');
    assert.equal(esOperation('POST', '/presslog-articles-20261202t1/_refresh'), 'refresh');
    assert.equal(esOperation('GET', '/_cluster/health'), 'cluster');
    assert.equal(esOperation('HEAD', '/_alias/presslog-articles'), 'alias');
    assert.equal(esOperation('PUT', '/presslog-articles-20261202t1'), 'other');
    assert.equal(esOperation('GET', '/presslog-articles/_doc/sotu-1862'), 'doc');
    assert.equal(esOperation('HEAD', '/'), 'ping');
  });

  test('readiness: every check answers, a failing or hung one gives its reason, ready only when all pass', async () => {
    const ready = await createReadiness({
      a: async () => ({ ok: true }),
      b: async () => ({ ok: true, n: 1 }),
    })();
    assert.deepEqual(ready, { ready: true, checks: { a: { ok: true }, b: { ok: true, n: 1 } } });
    const started = Date.now();
    const notReady = await createReadiness({
      a: async () => ({ ok: true }),
      b: async () => {
        throw new Error('connection refused');
      },
      c: async () => ({ ok: false, reason: 'aliases missing: x' }),
      hung: () => new Promise(() => {}),
    })();
    assert.equal(notReady.ready, false);
    assert.equal(notReady.checks.a?.ok, true);
    assert.equal(
      notReady.reason,
      'b: connection refused; aliases missing: x; hung: hung: no answer within 3000 ms',
    );
    assert.ok(Date.now() - started < 5000, 'a hung check is bounded');
  });

  test('the metrics server: /metrics in text format, /healthz, /readyz 503 with the reason, 404 and 405 in JSON', async () => {
    const metrics = createMetrics();
    const reindex = observeReindex(metrics, ['articles']);
    reindex.onProgress({
      phase: 'write',
      seq: 50,
      targetSeq: 200,
      events: 50,
      docs: 40,
      deadLettered: 0,
      retries: 0,
    });
    const server = await startMetricsServer({
      metrics,
      port: 0,
      readiness: async () => ({
        ready: false,
        checks: { nats: { ok: false, reason: 'nats: down' } },
        reason: 'nats: down',
      }),
    });
    try {
      const scrape = await fetch(`${server.url}/metrics`);
      assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await scrape.text();
      assert.match(text, /presslog_reindex_phase\{phase="write"\} 1/);
      assert.match(text, /presslog_reindex_progress_ratio 0\.25/);
      assert.match(text, /presslog_reindex_documents_written_total 40/);
      assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
      const readyz = await fetch(`${server.url}/readyz`);
      assert.equal(readyz.status, 503);
      assert.equal(((await readyz.json()) as { error: { message: string } }).error.message, 'nats: down');
      assert.equal((await fetch(`${server.url}/nope`)).status, 404);
      assert.equal((await fetch(`${server.url}/metrics`, { method: 'POST' })).status, 405);
      reindex.onDone(12_500);
      assert.match(
        await metrics.render(),
        /presslog_reindex_last_duration_seconds\{projection="articles"\} 12\.5/,
      );
    } finally {
      await server.close();
      await server.close();
    }
  });
});
