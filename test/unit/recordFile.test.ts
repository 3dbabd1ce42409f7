import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { createRecordFile } from '../../projectors/state/storage/recordFile.ts';

interface Value {
  id: string;
  n: number;
  text: string;
}

describe('record files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'presslog-recordfile-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('return what was set last, through a small cache, a small buffer and compactions', () => {
    const random = createRandom(5);
    const file = createRecordFile<Value>({
      dir,
      bufferBytes: 512,
      cacheEntries: 32,
      compactBytes: 16 * 1024,
    });
    const expected = new Map<number, Value>();
    for (let i = 0; i < 20_000; i++) {
      const slot = Math.floor(random() * 500);
      // Some values bigger than the buffer, written straight to the file.
      const text = 'é'.repeat(random() < 0.01 ? 400 : Math.floor(random() * 60));
      const value = { id: `v-${slot}`, n: i, text };
      file.set(slot, value);
      expected.set(slot, value);
      if (i % 7 === 0) {
        const probe = Math.floor(random() * 520);
        assert.deepEqual(file.get(probe), expected.get(probe), `slot ${probe} after ${i} writes`);
      }
    }
    for (let slot = 0; slot < 520; slot++) assert.deepEqual(file.get(slot), expected.get(slot));
    const stats = file.stats();
    assert.equal(stats.values, expected.size);
    assert.ok(stats.reads > 0, 'values were read back from the file');
    assert.ok(stats.compactions > 0, 'garbage was compacted');
    // Compacted once over 16 KiB and half garbage: at most that, a buffer and a value more.
    const bound = Math.max(16 * 1024, 2 * stats.liveBytes) + 512 + 1024;
    assert.ok(stats.fileBytes < bound, `file kept small: ${stats.fileBytes} bytes, bound ${bound}`);
    assert.ok(stats.cached <= 32, `cache within its size: ${stats.cached} values`);
    file.close();
  });

  it('never write a small state to disk, and leave no file behind', async () => {
    const small = createRecordFile<Value>({ dir });
    small.set(0, { id: 'a', n: 1, text: 'x' });
    const big = createRecordFile<Value>({ dir, bufferBytes: 64 });
    for (let slot = 0; slot < 100; slot++) big.set(slot, { id: `b-${slot}`, n: slot, text: 'y'.repeat(50) });
    assert.ok(big.stats().fileBytes > 64);
    assert.deepEqual(await readdir(dir), [], 'the file is unlinked as soon as it is open');
    assert.deepEqual(big.peek(3), { id: 'b-3', n: 3, text: 'y'.repeat(50) });
    small.close();
    big.close();
    big.close();
    assert.throws(() => big.get(3), /closed/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('peek without caching, leaving the cache as it was', () => {
    const file = createRecordFile<Value>({ dir, bufferBytes: 64, cacheEntries: 4 });
    for (let slot = 0; slot < 10; slot++) file.set(slot, { id: `c-${slot}`, n: slot, text: '' });
    const before = file.stats();
    for (let slot = 0; slot < 10; slot++) assert.equal(file.peek(slot)?.n, slot);
    const after = file.stats();
    assert.equal(after.cached, 4);
    assert.equal(after.cachedBytes, before.cachedBytes);
    assert.equal(after.reads, before.reads + 6, 'the six values not cached were read from the file');
    assert.equal(file.get(10), undefined);
    assert.throws(() => createRecordFile({ cacheEntries: 1000 }), /power of two/);
    file.close();
  });
});
