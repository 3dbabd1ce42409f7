import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { runCli } from '../support/cli.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ES_URL = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';

let nc: NatsConnection;
let es: Client;
before(async () => {
  nc = await connect({ servers: NATS_URL });
  es = new Client({ node: ES_URL });
});
after(async () => {
  await nc.close();
  await es.close();
});

/** Streams (content, KV buckets, object stores) and indexes of replay benchmarks. */
async function benchResources(): Promise<Set<string>> {
  const out = new Set<string>();
  const jsm = await jetstreamManager(nc);
  for await (const name of jsm.streams.names()) {
    if (/^(KV_|OBJ_)?BENCH_REPLAY_/.test(name)) out.add(name);
  }
  const indexes = await es.indices.get({ index: 'bench-replay-*', expand_wildcards: 'all' });
  for (const index of Object.keys(indexes)) out.add(index);
  return out;
}

test('bench replay --json: one measurement per line with ours, ceiling and ratio, per size and scaling; nothing left behind', async () => {
  const before = await benchResources();
  const run = await runCli([
    'bench',
    'replay',
    '--events',
    '1000,2000',
    '--rounds',
    '1',
    '--latency-samples',
    '20',
    '--json',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const measurements = run.stdout
    .trim()
    .split('\n')
    .map(
      (line) =>
        JSON.parse(line) as { name: string; unit: string; ours: number; ceiling: number; ratio: number },
    );
  const perSize = [
    'reindex events/s',
    'reindex docs/s',
    'reindex time',
    'reindex time, log read in the ceiling',
    'reindex peak RSS',
    'append→searchable p50',
    'append→searchable p99',
    'live start-up',
  ];
  assert.deepEqual(
    measurements.map((m) => m.name),
    [
      ...perSize.map((name) => `${name} (1,000)`),
      ...perSize.map((name) => `${name} (2,000)`),
      'reindex time, 2,000 / 1,000 events',
      'reindex peak RSS, 2,000 / 1,000 events',
    ],
  );
  const byName = new Map(measurements.map((m) => [m.name, m]));
  const time = (size: string) => byName.get(`reindex time (${size})`)!;
  const scaling = byName.get('reindex time, 2,000 / 1,000 events')!;
  // Measurements keep one decimal from 1 up: the growth is the two sizes' times divided, give or take.
  assert.ok(Math.abs(scaling.ours - time('2,000').ours / time('1,000').ours) < 0.3, JSON.stringify(scaling));
  assert.ok(Math.abs(scaling.ceiling - time('2,000').ceiling / time('1,000').ceiling) < 0.3);
  for (const m of measurements.filter((m) => !m.name.includes('peak RSS'))) {
    assert.ok(m.ours > 0 && m.ceiling > 0 && m.ratio > 0, JSON.stringify(m));
  }
  // The ceiling with the log read is the same reindex measured against another ceiling.
  for (const size of ['1,000', '2,000']) {
    const withRead = byName.get(`reindex time, log read in the ceiling (${size})`)!;
    assert.equal(withRead.ours, time(size).ours);
  }
  // Rates are large numbers, so their printed rounding leaves the ratio checkable.
  for (const m of measurements.filter((m) => m.unit.endsWith('/s'))) {
    assert.ok(Math.abs(m.ratio - m.ours / m.ceiling) < 0.01, JSON.stringify(m));
  }
  // The log, its checkpoints, leases and state snapshots, and every index: all deleted.
  const leftOver = [...(await benchResources())].filter((name) => !before.has(name));
  assert.deepEqual(leftOver, []);
});

test('bench replay --partitions 2 --sealed --json: events/s and CPU-s per 1,000 events of the single process and of K=2, each next to the ceiling; a sealed log rebuilt against the plaintext one', async () => {
  const before = await benchResources();
  const run = await runCli([
    'bench',
    'replay',
    '--events',
    '1000',
    '--partitions',
    '2',
    '--sealed',
    '--rounds',
    '1',
    '--latency-samples',
    '0',
    '--json',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const all = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { name: string; unit: string; ours: number; ceiling: number });
  const sealed = all.find(
    (m) => m.name === 'reindex sealed events/s (1,000)' || m.name === 'reindex sealed events/s',
  );
  assert.ok(sealed && sealed.ours > 0 && sealed.ceiling > 0, JSON.stringify(all.map((m) => m.name)));
  const measurements = all.filter(
    (m) => m.name?.startsWith('reindex, one process') || m.name?.startsWith('reindex --partitions'),
  );
  const names = measurements.map((m) => m.name);
  for (const label of ['reindex, one process', 'reindex --partitions 2']) {
    for (const what of [
      'events/s',
      'projector CPU-s / 1k events',
      'projector CPU-s / 1k events, start-up excluded',
      'Elasticsearch CPU-s / 1k events',
    ])
      assert.ok(names.includes(`${label}: ${what}`), `${label}: ${what} in ${names.join('; ')}`);
  }
  const get = (name: string) => measurements.find((m) => m.name === name)!;
  for (const label of ['reindex, one process', 'reindex --partitions 2']) {
    assert.ok(get(`${label}: events/s`).ours > 0 && get(`${label}: events/s`).ceiling > 0);
    // The whole processes' CPU (start-up included) is at least what the reindex reports of its own work.
    const all = get(`${label}: projector CPU-s / 1k events`).ours;
    const work = get(`${label}: projector CPU-s / 1k events, start-up excluded`).ours;
    assert.ok(work > 0 && all >= work, `${label}: ${all} >= ${work}`);
  }
  // The sealed log's namespace goes too.
  assert.deepEqual(
    [...(await benchResources())].filter((name) => !before.has(name)),
    [],
  );
});
