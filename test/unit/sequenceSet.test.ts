import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { createSequenceSet } from '../../projectors/rebuild/sequenceSet.ts';

describe('sequence set', () => {
  it('holds exactly the sequences added within its range, each counted once', () => {
    const random = createRandom(7);
    const set = createSequenceSet(1, 20_000);
    const expected = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const seq = 1 + Math.floor(random() * 20_000);
      set.add(seq);
      expected.add(seq);
    }
    // Every word boundary of the bits, both ends of the range.
    for (const seq of [1, 31, 32, 33, 64, 20_000]) {
      set.add(seq);
      expected.add(seq);
    }
    assert.equal(set.size, expected.size);
    for (let seq = 0; seq <= 20_001; seq++) assert.equal(set.has(seq), expected.has(seq), `seq ${seq}`);
  });

  it('keeps nothing outside its range', () => {
    const set = createSequenceSet(1_000_001, 1_000_100);
    for (const seq of [1, 1_000_000, 1_000_101, 2 ** 40, 1_000_050.5, Number.NaN]) set.add(seq);
    assert.equal(set.size, 0);
    set.add(1_000_001);
    set.add(1_000_100);
    assert.equal(set.size, 2);
    assert.equal(set.has(1_000_001), true);
    assert.equal(set.has(1_000_100), true);
    assert.equal(set.has(1_000_000), false);
    assert.equal(set.has(1_000_101), false);
  });

  it('is empty for an empty range', () => {
    const set = createSequenceSet(1, 0);
    set.add(1);
    assert.equal(set.size, 0);
    assert.equal(set.has(1), false);
  });
});
