import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { dedicateCpus } from '../../scripts/bench/cpus.ts';
import { REPO_ROOT } from '../support/cli.ts';

const ES_URL = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';

let es: Client;
before(() => {
  es = new Client({ node: ES_URL });
});
after(async () => {
  await es.close();
});

/** The CPU list of every thread of a process, distinct. */
async function threadCpus(pid: number): Promise<string[]> {
  const lists = new Set<string>();
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const status = await readFile(`/proc/${pid}/task/${task}/status`, 'utf8').catch(() => '');
    const list = /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1];
    if (list) lists.add(list.trim());
  }
  return [...lists].sort();
}

test('--es-cpus: Elasticsearch gets its CPU, this process the others, and both get theirs back', async () => {
  const info = await es.nodes.info({ node_id: '_local', metric: 'process' });
  const esPid = Object.values(info.nodes)[0]!.process!.id!;
  const esBefore = await threadCpus(esPid);
  const selfBefore = await threadCpus(process.pid);
  assert.deepEqual(esBefore, ['0-1'], 'this test expects a 2-CPU machine with nothing pinned');

  const split = await dedicateCpus(es, '0');
  try {
    assert.deepEqual(await threadCpus(esPid), ['0']);
    assert.deepEqual(await threadCpus(process.pid), ['1']);
    assert.match(split.description, new RegExp(`Elasticsearch \\(pid ${esPid}\\) on CPU 0; .* on CPU 1`));
  } finally {
    await split.restore();
  }
  assert.deepEqual(await threadCpus(esPid), esBefore);
  assert.deepEqual(await threadCpus(process.pid), selfBefore);
});

test('--es-cpus refuses to leave nothing for the rest', async () => {
  await assert.rejects(dedicateCpus(es, '0-1'), /--es-cpus 0-1 leaves no CPU for the rest/);
});

test('bench replay --es-cpus that dies early (its output piped to a reader that went away) still gives the CPUs back', async () => {
  const info = await es.nodes.info({ node_id: '_local', metric: 'process' });
  const esPid = Object.values(info.nodes)[0]!.process!.id!;
  const esBefore = await threadCpus(esPid);
  const child = spawn(
    process.execPath,
    [
      'bin/presslog.js',
      'bench',
      'replay',
      '--events',
      '1000',
      '--rounds',
      '1',
      '--latency-samples',
      '0',
      '--es-cpus',
      '0',
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  // Like `| head -1`: read the first line (the CPU split, written once pinned), then go.
  const [first] = (await once(child.stdout, 'data')) as [Buffer];
  assert.match(first.toString(), /^CPUs: Elasticsearch/);
  assert.deepEqual(await threadCpus(esPid), ['0'], 'pinned while the bench runs');
  child.stdout.destroy();
  const [code] = (await once(child, 'close')) as [number | null];
  assert.notEqual(code, 0, 'the bench could not write its table');
  assert.deepEqual(await threadCpus(esPid), esBefore);
});
