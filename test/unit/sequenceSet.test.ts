import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { createSequenceSet } from '../../projectors/sequenceSet.ts';

describe('sequence set', () => {
  it('holds exactly the given sequences, in any order and with duplicates', () => {
    const random = createRandom(7);
    const given: number[] = [];
    for (let i = 0; i < 5000; i++) given.push(1 + Math.floor(random() * 20_000));
    given.push(2 ** 40, given[0]!, given[1]!);
    const set = createSequenceSet(given);
    const expected = new Set(given);
    assert.equal(set.size, given.length);
    for (let seq = 0; seq <= 20_001; seq++) assert.equal(set.has(seq), expected.has(seq), `seq ${seq}`);
    assert.equal(set.has(2 ** 40), true);
    assert.equal(set.has(2 ** 40 + 1), false);
  });

  it('sorts numerically, not as strings', () => {
    const set = createSequenceSet([100, 9, 1000, 20]);
    for (const seq of [9, 20, 100, 1000]) assert.equal(set.has(seq), true);
  });

  it('is empty when given nothing', () => {
    const set = createSequenceSet([]);
    assert.equal(set.size, 0);
    assert.equal(set.has(1), false);
  });
});
