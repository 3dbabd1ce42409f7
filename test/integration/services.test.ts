import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { ServiceDownResult, ServiceStatus, ServiceUpResult } from '../../scripts/services/services.ts';
import { processStartTime } from '../../scripts/services/state.ts';
import { runCli } from '../support/cli.ts';
import { withNamespace } from '../support/env.ts';
import { freePort } from '../support/privateNats.ts';

const BINARIES = { nats: 'nats-server', redis: 'redis-server', elasticsearch: 'org.elasticsearch' };

function parse<T>(stdout: string): T[] {
  return (JSON.parse(stdout) as { services: T[] }).services;
}

async function commandLine(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
}

test('NATS, Elasticsearch and Redis answer and keep what they are given', async () => {
  await withNamespace(async ({ names, nats, es, redis }) => {
    const nc = await nats();
    const jsm = await jetstreamManager(nc);
    const stream = `${names.stream}_SMOKE`;
    await jsm.streams.add({
      name: stream,
      subjects: [`${names.namespace}.smoke.>`],
      storage: StorageType.Memory,
    });
    const ack = await jetstream(nc).publish(`${names.namespace}.smoke.a`, 'first edition');
    const stored = await jsm.streams.getMessage(stream, { seq: ack.seq });
    assert.equal(stored?.string(), 'first edition');
    assert.equal(await jsm.streams.delete(stream), true);
    await assert.rejects(jsm.streams.info(stream), /stream not found/);

    const index = `${names.namespace}-smoke`;
    await es().index({ index, id: 'a-1', document: { headline: 'Harbour fire' }, refresh: 'wait_for' });
    const found = await es().search({ index, query: { match: { headline: 'harbour' } } });
    assert.deepEqual(
      found.hits.hits.map((hit) => hit._id),
      ['a-1'],
    );

    await redis().set(`${names.namespace}:smoke`, 'set', 'EX', 60);
    assert.equal(await redis().get(`${names.namespace}:smoke`), 'set');
  });
});

test('a second "services up" reuses all three and is fast', async () => {
  const first = await runCli(['services', 'up', '--quiet']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, '');

  const second = await runCli(['services', 'up', '--json']);
  assert.equal(second.code, 0, second.stderr);
  const results = parse<ServiceUpResult>(second.stdout);
  assert.deepEqual(results.map((s) => s.name).sort(), ['elasticsearch', 'nats', 'redis']);
  for (const s of results) {
    assert.equal(s.action, 'reused', `${s.name}: ${JSON.stringify(s)}`);
    assert.ok(s.startedBy, `${s.name} says who runs it`);
    assert.ok(s.ms < 3000, `${s.name} took ${s.ms} ms to confirm`);
  }
  // The whole process, start-up and the import of every command included: about a
  // second on an idle machine; the bound leaves room for a CI machine under load.
  assert.ok(second.ms < 15_000, `the second "services up" took ${second.ms} ms`);
});

test('"services status --json" tells the truth', async () => {
  const run = await runCli(['services', 'status', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const status = new Map(parse<ServiceStatus>(run.stdout).map((s) => [s.name, s]));

  await withNamespace(async ({ nats, es, redis }) => {
    assert.equal(status.get('nats')?.version, (await nats()).info?.version);
    const info = await redis().info('server');
    assert.equal(status.get('redis')?.version, /redis_version:(\S+)/.exec(info)?.[1]);
    const nodes = await es().nodes.info({ node_id: '_local' });
    assert.equal(status.get('elasticsearch')?.version, Object.values(nodes.nodes)[0]?.version);
  });

  for (const s of status.values()) {
    assert.equal(s.answering, true, s.name);
    if (s.startedBy === 'presslog') {
      assert.ok(s.pid, `${s.name} started by presslog names its pid`);
      assert.match(await commandLine(s.pid), new RegExp(BINARIES[s.name].replace('.', '\\.')), s.name);
    } else {
      assert.ok(s.startedBy === 'external' || s.startedBy === 'docker', `${s.name}: ${s.startedBy}`);
    }
  }

  const broken = await runCli(['services', 'status', '--json'], {
    NATS_URL: `nats://127.0.0.1:${await freePort()}`,
  });
  assert.equal(broken.code, 1, 'status exits 1 when a service does not answer');
  const nats = parse<ServiceStatus>(broken.stdout).find((s) => s.name === 'nats');
  assert.equal(nats?.answering, false);
  assert.ok(nats?.error);
});

test('"services up" starts only what is missing, once, and "down" stops only that', async () => {
  // Own ports and services directory: NATS and Redis get started here, Elasticsearch
  // (the shared one) answers and must be left alone.
  const dir = await mkdtemp(join(tmpdir(), 'presslog-services-'));
  const env = {
    PRESSLOG_SERVICES_DIR: dir,
    NATS_URL: `nats://127.0.0.1:${await freePort()}`,
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    PRESSLOG_LOG_LEVEL: 'warn',
  };
  try {
    // Two at once, as two test processes would: the lock lets exactly one start each server.
    const runs = await Promise.all([
      runCli(['services', 'up', '--json'], env),
      runCli(['services', 'up', '--json'], env),
    ]);
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const [a, b] = runs.map((run) => new Map(parse<ServiceUpResult>(run.stdout).map((s) => [s.name, s])));
    for (const name of ['nats', 'redis'] as const) {
      const actions = [a!.get(name)!.action, b!.get(name)!.action].sort();
      assert.deepEqual(actions, ['reused', 'started'], name);
      assert.equal(a!.get(name)!.pid, b!.get(name)!.pid, `${name}: both runs report the same process`);
      assert.equal(a!.get(name)!.startedBy, 'presslog');
    }
    assert.equal(a!.get('elasticsearch')!.action, 'reused');
    const natsPid = a!.get('nats')!.pid!;
    assert.match(await commandLine(natsPid), /nats-server/);

    const status = parse<ServiceStatus>((await runCli(['services', 'status', '--json'], env)).stdout);
    assert.deepEqual(
      status.map((s) => [s.name, s.startedBy]),
      [
        ['nats', 'presslog'],
        ['redis', 'presslog'],
        ['elasticsearch', 'external'],
      ],
    );

    const down = await runCli(['services', 'down', '--json'], env);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(
      parse<ServiceDownResult>(down.stdout).map((s) => [s.name, s.action]),
      [
        ['nats', 'stopped'],
        ['redis', 'stopped'],
        ['elasticsearch', 'left alone'],
      ],
    );
    assert.equal(await commandLine(natsPid), '', 'nats-server is gone');
    const after = new Map(
      parse<ServiceStatus>((await runCli(['services', 'status', '--json'], env)).stdout).map((s) => [
        s.name,
        s,
      ]),
    );
    assert.equal(after.get('nats')?.answering, false);
    assert.equal(after.get('redis')?.answering, false);
    assert.equal(after.get('elasticsearch')?.answering, true, 'the shared Elasticsearch still answers');
  } finally {
    await runCli(['services', 'down', '--quiet'], env);
    await rm(dir, { recursive: true, force: true });
  }
});

test('"services up" while another holds the lock waits, and reports what that one recorded', async () => {
  // Everything answers, but an `up` holding the lock may have started some of it and not
  // yet written its state: reporting "external" then would be wrong.
  const dir = await mkdtemp(join(tmpdir(), 'presslog-services-'));
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  try {
    await writeFile(join(dir, 'services.lock'), String(process.pid));
    let seen: () => void = () => {};
    const waiting = new Promise<'waiting'>((resolve) => {
      seen = () => resolve('waiting');
    });
    let stderr = '';
    const run = runCli(
      ['services', 'up', '--json'],
      { PRESSLOG_SERVICES_DIR: dir, NATS_URL: natsUrl, PRESSLOG_LOG_LEVEL: 'info' },
      {
        onStderr: (chunk) => {
          stderr += chunk;
          if (stderr.includes('waiting for another')) seen();
        },
      },
    );
    const first = await Promise.race([waiting, run]);
    assert.equal(first, 'waiting', 'the second "up" waited for the lock');
    // The lock holder's record (this process stands in for the server it started).
    const record = {
      by: 'presslog',
      url: natsUrl,
      startedAt: new Date().toISOString(),
      pid: process.pid,
      startTime: await processStartTime(process.pid),
      command: 'node',
    };
    await writeFile(join(dir, 'state.json'), JSON.stringify({ services: { nats: record } }));
    await unlink(join(dir, 'services.lock'));
    const result = await run;
    assert.equal(result.code, 0, result.stderr);
    const nats = parse<ServiceUpResult>(result.stdout).find((s) => s.name === 'nats');
    assert.deepEqual([nats?.action, nats?.startedBy, nats?.pid], ['reused', 'presslog', process.pid]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a URL that does not answer and cannot be started here fails clearly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'presslog-services-'));
  try {
    const port = await freePort();
    const run = await runCli(['services', 'up'], {
      PRESSLOG_SERVICES_DIR: dir,
      ELASTICSEARCH_URL: `http://127.0.0.1:${port},http://127.0.0.1:${port + 1}`,
    });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /elasticsearch at http:\/\/127\.0\.0\.1:\d+,\S+ does not answer .*several servers/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
