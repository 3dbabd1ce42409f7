import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { generateArchive } from '../../ingest/generate.ts';
import { loadConfig } from '../../schemas/config.ts';
import { createEsClient } from '../../scripts/runtime.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { cleanupNamespace, eventually, uniqueNamespace } from '../support/env.ts';
import { messageIds, natsCluster } from '../support/natsCluster.ts';
import { assertSameDocs, dumpAll } from '../support/projectors.ts';

describe('a 3-node NATS JetStream cluster with PRESSLOG_REPLICAS=3', () => {
  test('init replicates everything; --apply scales an R1 log; killing the stream leader mid-ingest loses and doubles nothing', async () => {
    const cluster = await natsCluster();
    const namespace = uniqueNamespace();
    const stream = `${namespace.toUpperCase().replaceAll('-', '_')}_CONTENT`;
    const dir = await mkdtemp(join(tmpdir(), 'presslog-cluster-ingest-'));
    const env = (replicas: string) => ({
      NATS_URL: cluster.url,
      PRESSLOG_NAMESPACE: namespace,
      PRESSLOG_REPLICAS: replicas,
      PRESSLOG_LOG_LEVEL: 'warn',
      PRESSLOG_BLOB_DIR: join(dir, 'blobs'),
    });
    try {
      // An R1 log made before the cluster setting: init reports the drift, --apply scales it.
      assert.equal((await runCli(['init'], env('1'))).code, 0);
      const drift = await runCli(['--json', 'init'], env('3'));
      assert.equal(drift.code, 1, drift.stderr);
      const report = JSON.parse(drift.stdout);
      assert.deepEqual(report.drift, [{ field: 'num_replicas', expected: 3, actual: 1 }]);
      assert.ok(report.stores.length >= 4);
      assert.ok(report.stores.every((s: { driftedFrom?: number }) => s.driftedFrom === 1));
      const applied = await runCli(['--json', 'init', '--apply'], env('3'));
      assert.equal(applied.code, 0, applied.stderr);
      const scaled = JSON.parse(applied.stdout);
      assert.deepEqual(scaled.changed, [{ field: 'num_replicas', expected: 3, actual: 1 }]);
      assert.ok(
        scaled.stores.every((s: { changed?: boolean; replicas: number }) => s.changed && s.replicas === 3),
      );
      assert.equal((await runCli(['init'], env('3'))).code, 0);

      const records = 10_000;
      const archive = await generateArchive({
        dir: join(dir, 'in'),
        records,
        seed: 20,
        bodyBytes: [200, 1_500],
      });
      let ingestStderr = '';
      const ingest = runCli(['--json', 'ingest', ...archive.files], env('3'), {
        onStderr: (chunk) => {
          ingestStderr += chunk;
        },
      });
      // Kill the leader of the content stream once a good part of the input is in.
      await eventually(
        async () => {
          const nc = await connect({ servers: cluster.url.split(','), timeout: 2_000 });
          try {
            const info = await (await jetstreamManager(nc)).streams.info(stream);
            return info.state.messages >= 2_000 && info.state.messages < records;
          } finally {
            await nc.close();
          }
        },
        { timeout: 120_000, interval: 100 },
      );
      const killed = await cluster.leaderOf(stream);
      await cluster.kill(killed);
      const run = await ingest;
      assert.equal(run.code, 0, ingestStderr);
      const stats = JSON.parse(run.stdout);
      assert.equal(stats.rejected, 0);

      // Every record is in the log exactly once, on the surviving majority.
      // (2.9 may place the test's own consumer on the dead peer: a new attempt is placed again.)
      const stored = await eventually(() => messageIds(cluster.url, stream), {
        timeout: 30_000,
        interval: 500,
      });
      assert.equal(stored.messages, records);
      assert.equal(stored.unique, records);
      const again = await runCli(['--json', 'ingest', ...archive.files], env('3'));
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).appended, 0);

      // With one node down the log still reads: stats, show, history, status.
      const statsRun = await runCli(['--json', 'stats'], env('3'));
      assert.equal(statsRun.code, 0, statsRun.stderr);
      assert.equal(JSON.parse(statsRun.stdout).stream.messages, records);
      const history = await runCli(['--json', 'history', 'byline', 'b-000000'], env('3'));
      assert.equal(history.code, 0, history.stderr);
      const show = await runCli(['--json', 'show', 'byline', 'b-000000'], env('3'));
      assert.equal(show.code, 0, show.stderr);
      assert.equal(JSON.parse(show.stdout).state.id, 'b-000000');

      // The killed node comes back and catches up: every replica current again.
      await cluster.start(killed);
      await eventually(
        async () => {
          const status = await runCli(['--json', 'status'], env('3'));
          const stores = JSON.parse(status.stdout).stores as { stream: string; healthy: boolean }[];
          const content = stores.find((s) => s.stream === stream);
          return content?.healthy === true;
        },
        { timeout: 60_000, interval: 1_000 },
      );
    } finally {
      await cluster.dispose();
      await rm(dir, { recursive: true, force: true });
      // The master key the CLI generated at its default path.
      await rm(join('var', namespace), { recursive: true, force: true });
    }
  });
});

describe('live projection on a 3-node NATS cluster', () => {
  test('a NATS node killed while the projector tails the log: nothing lost or doubled, the indexes equal a rebuild', async () => {
    const cluster = await natsCluster();
    const namespace = uniqueNamespace();
    const dir = await mkdtemp(join(tmpdir(), 'presslog-cluster-live-'));
    const env = {
      NATS_URL: cluster.url,
      PRESSLOG_NAMESPACE: namespace,
      PRESSLOG_REPLICAS: '3',
      PRESSLOG_LOG_LEVEL: 'warn',
      PRESSLOG_BLOB_DIR: join(dir, 'blobs'),
    };
    const config = loadConfig({ ...process.env, ...env });
    const client = createEsClient(config);
    let projector: ReturnType<typeof spawn> | undefined;
    let exited: Promise<number | null> | undefined;
    let projectorLog = '';
    const caughtUp = async () => {
      const run = await runCli(['--json', 'status'], env);
      if (run.code !== 0) projectorLog += `\nstatus: ${run.stderr}`;
      const status = JSON.parse(run.stdout) as {
        projections: { lagEvents?: number; index?: string }[];
      };
      return status.projections.every((p) => p.lagEvents === 0 && p.index !== undefined);
    };
    try {
      const archive = await generateArchive({
        dir: join(dir, 'in'),
        records: 1_500,
        recordsPerFile: 500,
        seed: 21,
        bodyBytes: [200, 1_000],
      });
      assert.equal((await runCli(['init'], env)).code, 0);
      assert.equal((await runCli(['ingest', archive.files[0]!], env)).code, 0);
      // Started once the cluster has served an init and an ingest (a node that has not
      // joined the JetStream meta group yet answers "JetStream not enabled").
      const child = spawn(process.execPath, ['bin/presslog.js', 'project', '--lease-ttl', '60000'], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env, PRESSLOG_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      projector = child;
      exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        projectorLog = (projectorLog + chunk).slice(-20_000);
      });
      await eventually(caughtUp, { timeout: 120_000, interval: 500 }).catch((err: Error) => {
        throw new Error(`${err.message}; the projector's last log lines:\n${projectorLog}`, { cause: err });
      });
      // The stream's leader goes; the projector's consumer and buckets move to the survivors.
      const firstVictim = await cluster.leaderOf(config.names.stream);
      await cluster.kill(firstVictim);
      for (const file of archive.files.slice(1)) {
        const run = await runCli(['ingest', file], env);
        assert.equal(run.code, 0, run.stderr);
      }
      await eventually(caughtUp, { timeout: 120_000, interval: 1_000 }).catch((err: Error) => {
        throw new Error(`${err.message}; the projector's last log lines:\n${projectorLog}`, { cause: err });
      });
      assert.equal(child.exitCode, null, 'the projector is still running');
      const live = await dumpAll(client, config.names);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const rebuilt = await runCli(['reindex', 'all', '--no-progress'], env);
      assert.equal(rebuilt.code, 0, rebuilt.stderr);
      assertSameDocs(await dumpAll(client, config.names), live, 'the live indexes equal a rebuild');

      // The node comes back and catches up; then a partitioned rebuild loses the stream's
      // leader in the middle: it finishes, or fails with the aliases untouched and a rerun works.
      await cluster.start(firstVictim);
      await eventually(
        async () => {
          const run = await runCli(['--json', 'status'], env);
          if (run.code !== 0) return false;
          const { stores } = JSON.parse(run.stdout) as { stores: { replicas: number; healthy: boolean }[] };
          return stores.length > 0 && stores.every((s) => s.replicas === 3 && s.healthy);
        },
        { timeout: 120_000, interval: 1_000 },
      );
      const aliased = await client.indices.getAlias({ name: config.names.alias('articles') });
      const partitioned = runCli(
        ['reindex', 'all', '--partitions', '2', '--lease-ttl', '10000', '--no-progress'],
        env,
      );
      await eventually(
        async () => {
          const found = await client.indices.get({ index: `${config.names.indexPrefix('articles')}*` });
          return Object.keys(found).some((name) => !(name in aliased) && !name.includes('deadletters'));
        },
        { timeout: 120_000, interval: 50 },
      );
      await cluster.kill(await cluster.leaderOf(config.names.stream));
      const outcome = await partitioned;
      if (outcome.code !== 0) {
        assertSameDocs(await dumpAll(client, config.names), live, 'a failed rebuild leaves the aliases');
        const rerun = await runCli(['reindex', 'all', '--partitions', '2', '--no-progress'], env);
        assert.equal(rerun.code, 0, rerun.stderr);
      }
      assertSameDocs(
        await dumpAll(client, config.names),
        live,
        'the partitioned rebuild equals the live indexes',
      );
    } finally {
      projector?.kill('SIGKILL');
      await cleanupNamespace(config).catch(() => {});
      await client.close();
      await cluster.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
