import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generateArchive } from '../../ingest/generate.ts';
import { loadConfig } from '../../schemas/config.ts';
import { createEsClient } from '../../scripts/runtime.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { cleanupNamespace, eventually, testConfig, uniqueNamespace } from '../support/env.ts';
import { esCluster } from '../support/esCluster.ts';
import { assertSameDocs, dumpAll } from '../support/projectors.ts';

interface Status {
  projections: { projection: string; index?: string; docs?: number; lagEvents?: number }[];
}

function spawnCli(
  args: string[],
  env: Record<string, string>,
): ChildProcess & { done: Promise<number | null> } {
  const child = spawn(process.execPath, ['bin/presslog.js', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      if (process.env.PRESSLOG_TEST_VERBOSE) console.error(`=== ${args.join(' ')} exit ${code}\n${stderr}`);
      resolve(code);
    }),
  );
  return Object.assign(child, { done });
}

describe('a 3-node Elasticsearch cluster (started by the test)', () => {
  test('the elected master killed during live projection: the projector goes on, nothing lost; a node killed in a rebuild write phase: the alias never points at an incomplete index', async () => {
    const servicesDir = testConfig().servicesDir;
    const cluster = await esCluster(servicesDir);
    const namespace = uniqueNamespace();
    const dir = await mkdtemp(join(tmpdir(), 'presslog-es-cluster-in-'));
    const env = {
      ELASTICSEARCH_URL: cluster.url,
      PRESSLOG_NAMESPACE: namespace,
      PRESSLOG_LOG_LEVEL: 'warn',
      PRESSLOG_BLOB_DIR: join(dir, 'blobs'),
    };
    const config = loadConfig({ ...process.env, ...env });
    const client = createEsClient(config);
    let projector: ReturnType<typeof spawnCli> | undefined;
    const status = async () => JSON.parse((await runCli(['--json', 'status'], env)).stdout) as Status;
    const caughtUp = async () => {
      const s = await status();
      return s.projections.every((p) => p.lagEvents === 0 && p.index !== undefined);
    };
    try {
      const archive = await generateArchive({
        dir: join(dir, 'in'),
        records: 1_200,
        recordsPerFile: 200,
        seed: 11,
        bodyBytes: [300, 1_500],
      });
      assert.equal((await runCli(['ingest', archive.files[0]!], env)).code, 0);
      // Replicas auto: 1 on this 3-node cluster, so a node can go.
      // A long lease: this test is about a node failing, not about a slow machine's stalls.
      projector = spawnCli(['project', '--replicas', 'auto', '--lease-ttl', '120000'], env);
      await eventually(caughtUp, { timeout: 180_000, interval: 500 });
      const replicas = await client.indices.getSettings({ index: config.names.alias('articles') });
      assert.equal(Object.values(replicas)[0]!.settings?.index?.number_of_replicas, '1');

      const master = await cluster.master();
      await cluster.kill(master);
      for (const file of archive.files.slice(1)) {
        const run = await runCli(['ingest', file], env);
        assert.equal(run.code, 0, run.stderr);
      }
      // The surviving two elect a master, promote replicas, and the projector catches up.
      await eventually(caughtUp, { timeout: 180_000, interval: 1_000 });
      assert.equal(projector.exitCode, null, 'the live projector is still running');
      projector.kill('SIGTERM');
      assert.equal(await projector.done, 0);
      projector = undefined;
      const live = await dumpAll(client, config.names);

      // The old master comes back (as a follower) before the next fault.
      await cluster.start(master);
      await cluster.ready();

      // A rebuild with replicas 0 loses a node holding a primary of its new index mid-write.
      const before = (await status()).projections.find((p) => p.projection === 'articles')!.index!;
      const rebuild = spawnCli(
        ['reindex', 'all', '--replicas', '0', '--batch', '50', '--no-progress', '--lease-ttl', '120000'],
        env,
      );
      const prefix = config.names.indexPrefix('articles');
      const building = await eventually(
        async () => {
          // Indexing counted, not docs.count: a bulk load is not refreshed before catch-up.
          const stats = await client.indices.stats({ index: `${prefix}*`, metric: 'indexing' });
          const fresh = Object.entries(stats.indices ?? {}).find(
            ([index, s]) => index !== before && (s.primaries?.indexing?.index_total ?? 0) > 0,
          );
          return fresh?.[0] ?? false;
        },
        { timeout: 120_000, interval: 100 },
      );
      const shards = await client.cat.shards({ index: building, format: 'json', h: 'prirep,node' });
      const victim = shards.find((s) => s.prirep === 'p')!.node!;
      await cluster.kill(victim);
      // Back while the rebuild runs (its writes to the lost primary wait for it): its shard
      // recovers without what the async translog had not synced.
      await cluster.start(victim);
      const code = await rebuild.done;
      await cluster.ready();
      // Every primary of the namespace's indexes assigned again (the victim's recovered from its disk).
      await client.cluster.health({
        index: `${namespace.toLowerCase()}-*`,
        wait_for_status: 'yellow',
        timeout: '180s',
      });
      const after = (await status()).projections.find((p) => p.projection === 'articles')!.index!;
      if (code === 0) {
        // It recovered: then the alias points at the new index, verified complete.
        assert.notEqual(after, before);
      } else {
        assert.equal(after, before, 'a failed rebuild leaves the alias where it was');
        assertSameDocs(await dumpAll(client, config.names), live, 'the live indexes are untouched');
        const rerun = await runCli(['reindex', 'all', '--replicas', '1', '--no-progress'], env);
        assert.equal(rerun.code, 0, rerun.stderr);
      }
      assertSameDocs(await dumpAll(client, config.names), live, 'the rebuilt indexes equal the live ones');
    } finally {
      projector?.kill('SIGKILL');
      await cleanupNamespace(config, undefined).catch(() => {});
      await client.close();
      await cluster.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
