import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createPageFile } from '../../projectors/state/storage/pageFile.ts';

describe('page files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'presslog-pagefile-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keep what was written through a cache of two pages, and read zeros where nothing was', () => {
    const pages = createPageFile({ pageBytes: 64, cachePages: 2, views: (b) => new Uint32Array(b), dir });
    // Every other page written, in an order that drops each one several times.
    for (const round of [1, 2, 3]) {
      for (let n = 0; n < 40; n += 2) pages.page(n, true).fill(n * 10 + round);
    }
    pages.page(100); // a page only read, beyond the others
    for (let n = 0; n < 40; n++) {
      assert.deepEqual([...pages.page(n)], new Array(16).fill(n % 2 === 0 ? n * 10 + 3 : 0), `page ${n}`);
    }
    const stats = pages.stats();
    assert.equal(stats.cached, 2);
    assert.ok(stats.writes >= 40 && stats.reads >= 20, JSON.stringify(stats));
    assert.deepEqual(readdirSync(dir), [], 'the file is unlinked as soon as it is open');
    pages.close();
    pages.close();
    assert.throws(() => pages.page(3), /closed/);
  });

  it('write back only the pages asked for with forWrite (a write not announced is lost, by contract)', () => {
    const pages = createPageFile({ pageBytes: 16, cachePages: 2, views: (b) => new Uint8Array(b), dir });
    pages.page(0, true)[0] = 1;
    pages.page(1)[0] = 2; // not announced
    pages.page(2);
    pages.page(3);
    assert.equal(pages.page(0)[0], 1);
    assert.equal(pages.page(1)[0], 0);
    assert.equal(pages.stats().writes, 1, 'pages only read are dropped without a write');
    pages.close();
  });
});
