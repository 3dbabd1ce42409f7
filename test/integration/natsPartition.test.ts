import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { generateArchive } from '../../ingest/generate.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { eventually, uniqueNamespace } from '../support/env.ts';
import { netnsLab } from '../support/netns.ts';
import type { StreamProbe } from '../support/streamProbe.ts';

const execFileAsync = promisify(execFile);
const NODES = ['nats-1', 'nats-2', 'nats-3'];

describe('a network partition between the nodes of a 3-node NATS cluster (network namespaces made by the test)', () => {
  test('the stream leader cut off mid-ingest: the majority goes on, and after healing every acknowledged append is there once, on every replica', async (t) => {
    const lab = await netnsLab([...NODES, 'client']);
    const dir = await mkdtemp(join(tmpdir(), 'presslog-partition-'));
    const servers: ChildProcess[] = [];
    const namespace = uniqueNamespace();
    const stream = `${namespace.toUpperCase().replaceAll('-', '_')}_CONTENT`;
    const url = NODES.map((n) => `nats://${lab.host(n).address}:4222`).join(',');
    const routes = NODES.map((n) => `nats://${lab.host(n).address}:6222`).join(',');
    const env = {
      NATS_URL: url,
      PRESSLOG_NAMESPACE: namespace,
      PRESSLOG_REPLICAS: '3',
      PRESSLOG_LOG_LEVEL: 'warn',
      PRESSLOG_BLOB_DIR: join(dir, 'blobs'),
    };
    const client = { prefix: lab.exec('client') };
    const probe = async (): Promise<StreamProbe> => {
      const { stdout } = await execFileAsync(
        lab.exec('client')[0]!,
        [
          ...lab.exec('client').slice(1),
          process.execPath,
          '--import',
          'tsx',
          'test/support/streamProbe.ts',
          url,
          stream,
        ],
        { cwd: REPO_ROOT },
      );
      return JSON.parse(stdout) as StreamProbe;
    };
    try {
      for (const name of NODES) {
        const { address } = lab.host(name);
        const args = ['-js', '-a', address, '-p', '4222', '-sd', join(dir, name), '--name', name];
        const cluster = [
          '--cluster_name',
          'presslog',
          '--cluster',
          `nats://${address}:6222`,
          '--routes',
          routes,
        ];
        servers.push(
          spawn(lab.exec(name)[0]!, [...lab.exec(name).slice(1), 'nats-server', ...args, ...cluster], {
            stdio: 'ignore',
          }),
        );
      }
      // The cluster is up when init (which creates the replicated stream and buckets) succeeds.
      await eventually(async () => (await runCli(['init'], env, client)).code === 0, {
        timeout: 60_000,
        interval: 1_000,
      });
      const archive = await generateArchive({
        dir: join(dir, 'in'),
        records: 9_000,
        recordsPerFile: 3_000,
        seed: 31,
        bodyBytes: [200, 1_200],
      });
      const first = await runCli(['--json', 'ingest', archive.files[0]!], env, client);
      assert.equal(first.code, 0, first.stderr);

      // Cut the stream leader off (from its peers and from the client) while the next file goes in.
      const leader = (await probe()).leader!;
      assert.ok(NODES.includes(leader), `leader ${leader}`);
      const during = runCli(['--json', 'ingest', archive.files[1]!], env, client);
      const cutAt = await eventually(
        async () => {
          const { messages } = await probe();
          return messages > 3_300 ? messages : false;
        },
        { timeout: 60_000, interval: 200 },
      );
      await lab.cut(leader);
      assert.ok(cutAt < 6_000, `cut mid-ingest (${cutAt} of 6000 in)`);
      const second = await during;
      t.diagnostic(`ingest across the cut: ${second.ms} ms`);
      assert.equal(second.code, 0, second.stderr);
      // Still cut off: the majority takes a whole file on its own.
      const third = await runCli(['--json', 'ingest', archive.files[2]!], env, client);
      assert.equal(third.code, 0, third.stderr);
      t.diagnostic(`ingest on the majority alone: ${third.ms} ms (before the cut: ${first.ms} ms)`);
      // (The probe's own consumer may be placed on the cut-off peer: placed again.)
      const majority = await eventually(() => probe(), { timeout: 60_000, interval: 1_000 });
      assert.notEqual(majority.leader, leader, 'the majority elected a leader of its own');

      await lab.heal(leader);
      const healed = await eventually(
        async () => {
          const state = await probe().catch(() => undefined);
          if (!state) return false;
          return state.replicas.length === 2 && state.replicas.every((r) => r.current && r.lag === 0)
            ? state
            : false;
        },
        { timeout: 120_000, interval: 1_000 },
      );
      // Every record the three ingests acknowledged is there exactly once.
      const acknowledged = [first, second, third].reduce(
        (sum, run) => sum + (JSON.parse(run.stdout) as { appended: number; duplicates: number }).appended,
        0,
      );
      assert.equal(acknowledged, 9_000);
      assert.equal(healed.unique, 9_000);
      assert.equal(healed.messages, 9_000);
    } finally {
      for (const server of servers) server.kill('SIGKILL');
      await lab.dispose();
      await rm(dir, { recursive: true, force: true });
      await rm(join(REPO_ROOT, 'var', namespace), { recursive: true, force: true });
    }
  });
});
