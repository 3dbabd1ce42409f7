import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { archivePlan, generateArchive, generateRecords } from '../../ingest/generate.ts';
import { parseRecord } from '../../ingest/records.ts';

describe('generateRecords', () => {
  test('every generated record is valid input, with the planned mix of kinds', () => {
    const options = { records: 2000, images: 10 };
    const plan = archivePlan(options);
    const counts = { byline: 0, image: 0, article: 0, retraction: 0 };
    const ids = new Map<string, number>();
    let bodies = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    for (const value of generateRecords(options)) {
      const result = parseRecord(value);
      assert.ok(result.ok, JSON.stringify(result));
      const r = result.record;
      if (r.kind === 'article' && r.retracted === true) counts.retraction++;
      else counts[r.kind]++;
      ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
      if (r.kind === 'article' && 'body' in r) {
        bodies++;
        min = Math.min(min, r.body.length);
        max = Math.max(max, r.body.length);
      }
    }
    assert.equal(counts.byline + counts.image + counts.article + counts.retraction, 2000);
    assert.deepEqual(counts, {
      byline: plan.bylines,
      image: plan.images,
      article: plan.articles + plan.revisions,
      retraction: plan.retractions,
    });
    assert.equal(plan.bylines, 100, '5% bylines');
    assert.ok(plan.revisions > 0 && plan.retractions > 0);
    assert.ok(min >= 2048 && max <= 20480 + 300, `body sizes ${min}..${max}`);
    assert.ok(bodies > 0);
    assert.equal([...ids.values()].filter((n) => n > 1).length > 0, true, 'some articles are revised');
  });

  test('same seed, same records; another seed, other records', () => {
    const digest = (seed: number) =>
      createHash('sha256')
        .update(JSON.stringify([...generateRecords({ records: 300, seed })]))
        .digest('hex');
    assert.equal(digest(7), digest(7));
    assert.notEqual(digest(7), digest(8));
  });
});

test('generateArchive writes the same bytes every time, split into files in input order', async () => {
  const dirs = [
    await mkdtemp(join(tmpdir(), 'presslog-gen-')),
    await mkdtemp(join(tmpdir(), 'presslog-gen-')),
  ];
  try {
    const archives = [];
    for (const dir of dirs)
      archives.push(await generateArchive({ dir, records: 500, images: 3, recordsPerFile: 200 }));
    assert.equal(archives[0]!.files.length, 3);
    assert.equal(archives[0]!.records, 500);
    assert.deepEqual(await readdir(join(dirs[0]!, 'images')), [
      'img-000000.png',
      'img-000001.png',
      'img-000002.png',
    ]);
    for (const name of ['part-0001.ndjson', 'part-0003.ndjson', 'images/img-000002.png']) {
      assert.deepEqual(await readFile(join(dirs[0]!, name)), await readFile(join(dirs[1]!, name)), name);
    }
    const first = (await readFile(archives[0]!.files[0]!, 'utf8')).split('\n')[0]!;
    assert.equal(JSON.parse(first).kind, 'byline');
  } finally {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
});
