import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import pino from 'pino';
import { createLease, reindexLeaseKey } from '../../projectors/lease.ts';
import { startServer } from '../../scripts/commands/serve.ts';
import { instrumentContentLog } from '../../scripts/metrics/appendMetrics.ts';
import { createMetrics } from '../../scripts/metrics/metrics.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { eventually } from '../support/env.ts';
import { type ProjectorEnv, withProjectorEnv } from '../support/projectors.ts';
import { makeEvent, randomLog } from '../support/projectorsEvents.ts';
import { freePort, prometheusBinaries, promtool, startPrometheus } from '../support/prometheus.ts';

let binaries: { prometheus: string; promtool: string };
before(async () => {
  binaries = await prometheusBinaries();
});

/** The CLI as a long-running child process, in the test's namespace. */
function spawnCli(env: ProjectorEnv, args: string[], extraEnv: Record<string, string> = {}) {
  const child: ChildProcess = spawn(process.execPath, ['bin/presslog.js', ...args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PRESSLOG_NAMESPACE: env.config.namespace,
      PRESSLOG_BLOB_DIR: env.config.blobDir,
      PRESSLOG_LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** `/metrics` of a process, checked by promtool (format and naming conventions). */
async function checkedMetrics(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const check = await promtool(binaries.promtool, ['check', 'metrics'], text);
  assert.equal(check.code, 0, `promtool check metrics: ${check.output}`);
  return text;
}

/** A proxy in front of Elasticsearch that can hold `_bulk` requests (the projector's writes) back. */
async function startBulkGate(target: string) {
  const upstream = new URL(target.split(',')[0]!);
  let gate: { promise: Promise<void>; open(): void } | undefined;
  const server: Server = createServer((req, res) => {
    const forward = () => {
      const proxied = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      proxied.on('error', () => res.destroy());
      req.pipe(proxied);
    };
    if (gate && /\/_bulk(\?|$)/.test(req.url ?? '')) void gate.promise.then(forward);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold() {
      let open = () => {};
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
    close() {
      this.release();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const value = (result: { value: [number, string] }[]) =>
  result.length ? Number(result[0]!.value[1]) : undefined;

describe('metrics, readiness and alerts', () => {
  test('promtool accepts the alert rules and the scrape configuration', async () => {
    const rules = await promtool(binaries.promtool, ['check', 'rules', 'ops/alerts.yml']);
    assert.equal(rules.code, 0, rules.output);
    assert.match(rules.output, /SUCCESS: 9 rules found/);
    const config = await promtool(binaries.promtool, ['check', 'config', 'ops/prometheus.yml']);
    assert.equal(config.code, 0, config.output);
  });

  test('serve: /metrics passes promtool with route patterns as labels; /readyz names what is missing', async () => {
    await withProjectorEnv(async (env) => {
      const server = await startServer(env.config, {
        port: 0,
        host: '127.0.0.1',
        logger: pino({ level: 'silent' }),
      });
      try {
        assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
        const notReady = await fetch(`${server.url}/readyz`);
        assert.equal(notReady.status, 503);
        const body = (await notReady.json()) as {
          error: { message: string };
          checks: Record<string, { ok: boolean }>;
        };
        assert.match(body.error.message, new RegExp(`aliases missing: ${env.names.alias('articles')}`));
        assert.equal(body.checks.nats?.ok, true);
        assert.equal(body.checks.elasticsearch?.ok, true);

        await fetch(`${server.url}/api/articles/secret-headline-words`);
        const text = await checkedMetrics(server.url);
        assert.match(
          text,
          /presslog_http_request_duration_seconds_count\{method="GET",route="\/api\/articles\/:id",status="\d+"\} 1/,
        );
        assert.doesNotMatch(text, /secret-headline-words/, 'a label carries a URL, not its route');
        assert.match(text, /presslog_dependency_up\{dependency="elasticsearch"\} 1/);
        assert.match(text, /presslog_dependency_up\{dependency="nats"\} 1/);
        assert.match(
          text,
          /presslog_elasticsearch_request_duration_seconds_count\{operation="cluster",outcome="ok"\} \d+/,
        );

        // The aliases made (and caught up) by a projector: ready.
        const once = await runCli(['project', '--once'], {
          PRESSLOG_NAMESPACE: env.config.namespace,
          PRESSLOG_BLOB_DIR: env.config.blobDir,
        });
        assert.equal(once.code, 0, once.stderr);
        const ready = await fetch(`${server.url}/readyz`);
        assert.equal(ready.status, 200, await ready.clone().text());
        const checks = ((await ready.json()) as { checks: { lag: { lag: Record<string, number> } } }).checks;
        assert.deepEqual(checks.lag.lag, { articles: 0, images: 0, bylines: 0 });
      } finally {
        await server.close();
      }
    });
  });

  test('appends are counted by type and outcome; a conflict and a duplicate are told apart', async () => {
    await withProjectorEnv(async (env) => {
      const metrics = createMetrics();
      const log = instrumentContentLog(metrics, env.log);
      const published = makeEvent('BylineRegistered', 'b-1', { name: 'A. Writer' });
      const first = await log.append([{ event: published }]);
      assert.equal(first.appended, 1);
      assert.equal((await log.append([{ event: published }])).duplicates, 1);
      const stale = makeEvent('BylineUpdated', 'b-1', { name: 'B. Writer' });
      assert.equal((await log.append([{ event: stale, expectedLastSeq: first.lastSeq + 100 }])).conflicts, 1);
      const text = await metrics.render();
      assert.match(text, /presslog_log_events_appended_total\{type="BylineRegistered"\} 1\n/);
      assert.match(text, /presslog_log_append_duplicates_total 1\n/);
      assert.match(text, /presslog_log_append_conflicts_total\{type="BylineUpdated"\} 1\n/);
      assert.match(text, /presslog_log_append_duration_seconds_count 3\n/);
      const check = await promtool(binaries.promtool, ['check', 'metrics'], text);
      assert.equal(check.code, 0, check.output);
    });
  });

  test('a live projector scraped by Prometheus: lag rises and returns to 0, applied grows by the events appended; stopped, it alerts', async () => {
    await withProjectorEnv(async (env) => {
      const events = randomLog(35, 24);
      await env.append(events.slice(0, 5));
      const gate = await startBulkGate(env.config.elasticsearch.url);
      const port = await freePort();
      const unused = await freePort();
      const projector = spawnCli(env, ['project', '--metrics-port', String(port)], {
        ELASTICSEARCH_URL: gate.url,
      });
      const url = `http://127.0.0.1:${port}`;
      let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
      try {
        await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, {
          timeout: 60_000,
          interval: 200,
        }).catch((err: Error) => {
          throw new Error(`${err.message}; projector stderr: ${projector.stderr()}`);
        });
        const text = await checkedMetrics(url);
        assert.match(text, /presslog_projector_lease_held\{projection="articles"\} 1/);

        prometheus = await startPrometheus(binaries.prometheus, {
          editConfig: (config) =>
            config
              .replaceAll('15s', '1s')
              .replace('127.0.0.1:9464', `127.0.0.1:${port}`)
              .replace('127.0.0.1:8080', `127.0.0.1:${unused}`)
              .replace('127.0.0.1:9465', `127.0.0.1:${unused}`),
          editRules: (rules) => rules.replace(/for: \d+m/g, 'for: 2s'),
        });
        const p = prometheus;
        const lag = 'max(presslog_projector_log_head_sequence - presslog_projector_checkpoint_sequence)';
        const applied = 'presslog_projector_events_applied_total{job="presslog-projector"}';
        await eventually(
          async () =>
            value(await p.query(lag)) === 0 && value(await p.query('presslog_projector_caught_up')) === 1,
          { timeout: 30_000, interval: 250 },
        );
        const before = value(await p.query(applied));
        assert.equal(before, 5, 'the events of the log before the start, applied once');

        gate.hold();
        await env.append(events.slice(5));
        const seen = await eventually(
          async () => {
            const behind = value(await p.query(lag)) ?? 0;
            return behind > 0 && behind;
          },
          { timeout: 15_000, interval: 250 },
        );
        assert.ok(seen > 0 && seen <= 30, `lag seen by Prometheus: ${seen}`);
        gate.release();
        await eventually(
          async () => value(await p.query(lag)) === 0 && value(await p.query(applied)) === before + 30,
          { timeout: 30_000, interval: 250 },
        );
        assert.equal(value(await p.query(`increase(${applied}[1m])`)) !== undefined, true);
        // Every query of the Grafana dashboard is PromQL this Prometheus accepts; the projector's panels have data.
        const dashboard = JSON.parse(await readFile(`${REPO_ROOT}/ops/grafana/presslog.json`, 'utf8')) as {
          panels: { title: string; targets: { expr: string }[] }[];
        };
        for (const panel of dashboard.panels) {
          for (const { expr } of panel.targets) {
            const result = await p.query(expr);
            if (panel.title.startsWith('Projection lag'))
              assert.ok(result.length > 0, `${panel.title}: ${expr}`);
          }
        }
        assert.ok(
          !(await p.alerts()).some((a) => a.labels.alertname === 'PresslogProjectorDown'),
          'no alert while the projector runs',
        );

        assert.equal(await projector.stop(), 0, projector.stderr());
        const alert = await eventually(
          async () => (await p.alerts()).find((a) => a.labels.alertname === 'PresslogProjectorDown') ?? false,
          { timeout: 30_000, interval: 250 },
        );
        assert.match(alert.state, /^(pending|firing)$/);
        assert.equal(alert.labels.severity, 'critical');
      } finally {
        await prometheus?.close();
        await projector.stop();
        await gate.close();
      }
    });
  });

  test('status --watch: refreshed with the rates since the last refresh, until SIGINT', async () => {
    await withProjectorEnv(async (env) => {
      const child = spawn(
        process.execPath,
        ['bin/presslog.js', '--json', 'status', '--watch', '--interval', '0.5'],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, PRESSLOG_NAMESPACE: env.config.namespace, PRESSLOG_LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const lines: { head: { seq: number }; rates?: { appendedPerSecond: number } }[] = [];
      let buffered = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        for (const line of parts) lines.push(JSON.parse(line));
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await eventually(() => lines.length >= 1, { timeout: 20_000 });
        assert.equal(lines[0]!.head.seq, 0);
        assert.equal(lines[0]!.rates, undefined, 'no rate before a second reading');
        await env.append(randomLog(10, 3));
        const after = await eventually(() => lines.find((l) => l.head.seq === 10) ?? false, {
          timeout: 20_000,
        });
        assert.ok(after.rates!.appendedPerSecond > 0, JSON.stringify(after.rates));
        child.kill('SIGINT');
        assert.notEqual(await exited, null);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });

  test('reindex --metrics-port: the phase and progress while it runs, promtool-clean', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(randomLog(20, 5));
      // Held by the test, the lock keeps the reindex (with --wait) in its first phase long enough to scrape.
      const lock = createLease({
        kv: env.leaseBucket,
        key: reindexLeaseKey('bylines'),
        ttlMs: 10_000,
        purpose: 'test',
      });
      await lock.acquire({});
      const port = await freePort();
      const reindexing = spawnCli(env, [
        'reindex',
        'bylines',
        '--wait',
        '--no-progress',
        '--metrics-port',
        String(port),
      ]);
      const url = `http://127.0.0.1:${port}`;
      try {
        const text = await eventually(
          async () => {
            const response = await fetch(`${url}/metrics`).catch(() => undefined);
            return response?.ok ? response.text() : false;
          },
          { timeout: 30_000, interval: 200 },
        );
        assert.match(text, /presslog_reindex_phase\{phase="prepare"\} 1/);
        assert.match(text, /presslog_reindex_phase\{phase="write"\} 0/);
        await checkedMetrics(url);
        await lock.release();
        assert.equal(await reindexing.exited, 0, reindexing.stderr());
      } finally {
        await lock.release();
        await reindexing.stop();
      }
    });
  });

  test('workers: /metrics passes promtool with the queue by state; /readyz checks NATS and Redis', async () => {
    await withProjectorEnv(async (env) => {
      const port = await freePort();
      const workers = spawnCli(env, ['workers', '--concurrency', '1', '--metrics-port', String(port)]);
      const url = `http://127.0.0.1:${port}`;
      try {
        const ready = await eventually(
          async () => {
            const response = await fetch(`${url}/readyz`);
            return (
              response.status === 200 && ((await response.json()) as { checks: Record<string, unknown> })
            );
          },
          { timeout: 30_000, interval: 200 },
        );
        assert.deepEqual(Object.keys(ready.checks).sort(), ['nats', 'redis']);
        const text = await checkedMetrics(url);
        assert.match(text, /presslog_image_jobs\{state="waiting"\} 0/);
        assert.match(text, /presslog_image_jobs_processed_total\{outcome="failed"\} 0/);
        assert.match(text, /presslog_dependency_up\{dependency="redis"\} 1/);
        assert.match(text, /presslog_dependency_up\{dependency="nats"\} 1/);
        assert.equal(await workers.stop(), 0, workers.stderr());
      } finally {
        await workers.stop();
      }
    });
  });
});
