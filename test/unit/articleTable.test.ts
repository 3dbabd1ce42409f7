import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createArticleTable } from '../../projectors/state/articleTable.ts';
import { openStateFiles } from '../support/openFiles.ts';

const row = (lastSeq: number, bylines: number[], images: number[], retracted = false) => ({
  firstSeq: 1,
  lastSeq,
  events: lastSeq,
  revisions: 1,
  retracted,
  publishedAtMs: Date.parse('1851-09-18T00:00:00Z') + lastSeq,
  bylines,
  images,
});

describe('article table', () => {
  it('keeps every article through growth, and references through revisions that grow or shrink them', () => {
    // Room for two ids at first, and two pages of rows and of references: most of it on disk.
    const table = createArticleTable({ initialCapacity: 2, cachePages: { rows: 2, refs: 2 } });
    const expected = new Map<string, ReturnType<typeof row>>();
    for (let i = 0; i < 5000; i++) {
      const id = `a-${i % 3000}`;
      const slot = table.intern(id);
      // Revisions alternate between more and fewer references than before.
      const refs = (i * 7) % 5;
      const r = row(
        i + 1,
        Array.from({ length: refs }, (_, k) => i + k),
        [i % 11, i % 13],
        i % 9 === 0,
      );
      table.set(slot, r);
      expected.set(id, r);
    }
    assert.equal(table.size, 3000);
    for (const [id, r] of expected) {
      const slot = table.slotOf(id)!;
      assert.equal(table.id(slot), id);
      assert.equal(table.lastSeq(slot), r.lastSeq);
      assert.equal(table.publishedAtMs(slot), r.publishedAtMs);
      assert.equal(table.retracted(slot), r.retracted);
      assert.deepEqual([...table.bylines(slot)], r.bylines, id);
      assert.deepEqual([...table.images(slot)], r.images, id);
    }
    assert.equal(table.slotOf('never-seen'), undefined);
    const { rows, refs } = table.stats();
    assert.ok(rows.writes > 0 && rows.reads > 0, `rows went through the file: ${JSON.stringify(rows)}`);
    assert.ok(refs.writes > 0 && refs.reads > 0, `references went through the file: ${JSON.stringify(refs)}`);
    assert.ok(rows.cached <= 2 && refs.cached <= 2);
  });

  it('reads zeros for an article interned but never set, among pages on disk', () => {
    const table = createArticleTable({ cachePages: { rows: 2, refs: 2 } });
    for (let i = 0; i < 1000; i++) table.set(table.intern(`a-${i}`), row(i + 1, [i], [i, i + 1]));
    const slot = table.intern('unset');
    assert.equal(table.lastSeq(slot), 0);
    assert.deepEqual([...table.bylines(slot)], []);
    assert.equal(table.lastSeq(3), 4, 'an early page, read back');
    assert.deepEqual([...table.images(3)], [3, 4]);
  });

  it('finds each id among many of every length, and no id it was not given', () => {
    const table = createArticleTable({ initialCapacity: 3 });
    const ids = Array.from({ length: 20_000 }, (_, i) =>
      `${'x'.repeat(i % 128)}${i.toString(36)}`.slice(-128),
    );
    const unique = [...new Set(ids)];
    for (const id of ids) table.intern(id);
    assert.equal(table.size, unique.length);
    unique.forEach((id, slot) => {
      assert.equal(table.slotOf(id), slot, id);
      assert.equal(table.intern(id), slot, id);
      assert.equal(table.id(slot), id);
    });
    for (const id of ['', 'a', `${unique[5]}-`, unique[5]!.slice(1), 'A-1', 'x'.repeat(128)]) {
      if (!unique.includes(id)) assert.equal(table.slotOf(id), undefined, id);
    }
  });

  it('refuses an id that is not ASCII, adding nothing', () => {
    const table = createArticleTable();
    table.intern('a-1');
    assert.throws(() => table.intern('a-\u00e9'), RangeError);
    assert.equal(table.size, 1);
    assert.equal(table.slotOf('a-\u00e9'), undefined);
    assert.equal(table.intern('a-2'), 1);
  });

  it('takes its own views as a row (a revision that keeps the references)', () => {
    const table = createArticleTable();
    const slot = table.intern('a');
    table.set(slot, row(1, [1, 2], [3]));
    table.set(slot, { ...row(2, [], []), bylines: table.images(slot), images: table.bylines(slot) });
    assert.deepEqual([...table.bylines(slot)], [3]);
    assert.deepEqual([...table.images(slot)], [1, 2]);
  });

  it('refuses more references than a slot can count, changing nothing', () => {
    const table = createArticleTable();
    const slot = table.intern('a');
    table.set(slot, row(1, [1], [2]));
    assert.throws(
      () =>
        table.set(
          slot,
          row(
            9,
            Array.from({ length: 256 }, (_, i) => i),
            [],
          ),
        ),
      RangeError,
    );
    assert.equal(table.lastSeq(slot), 1);
    assert.deepEqual([...table.bylines(slot)], [1]);
  });
});

describe('article table lifecycle', () => {
  it('closes its page files, twice without harm, and refuses use after close', () => {
    const before = openStateFiles();
    const table = createArticleTable({ cachePages: { rows: 2, refs: 2 } });
    for (let i = 0; i < 1000; i++) table.set(table.intern(`a-${i}`), row(i + 1, [i], [i]));
    assert.ok(openStateFiles() > before, 'the rows went to a file');
    table.close();
    assert.equal(openStateFiles(), before);
    table.close();
    assert.throws(() => table.slotOf('a-1'), /article table is closed/);
    assert.throws(() => table.intern('a-new'), /article table is closed/);
    assert.throws(() => table.lastSeq(1), /article table is closed/);
    assert.throws(() => table.retracted(1), /article table is closed/);
    assert.throws(() => table.set(1, row(2, [], [])), /article table is closed/);
  });
});
