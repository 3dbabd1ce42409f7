import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { createSequenceSet, createStreamedSequenceSet } from '../../projectors/sequenceSet.ts';

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

describe('streamed sequence set', () => {
  it('answers a waiting reader once the stream has passed its sequence', async () => {
    const set = createStreamedSequenceSet(101, 200);
    assert.equal(set.knownThrough, 100);
    const order: string[] = [];
    const waiting = set.reach(150).then(() => order.push(`reached, knownThrough ${set.knownThrough}`));
    set.push(120);
    await Promise.resolve();
    order.push('pushed 120');
    set.push(160);
    await waiting;
    assert.deepEqual(order, ['pushed 120', 'reached, knownThrough 160']);
    assert.equal(set.has(120), true);
    assert.equal(set.has(150), false);
    await set.reach(160); // already known: no wait
    const toEnd = set.reach(200);
    set.end();
    await toEnd;
    assert.equal(set.knownThrough, 200);
    assert.equal(set.size, 2);
  });

  it('takes from a stream read again only what the first read had not reached', () => {
    const set = createStreamedSequenceSet(1, 100);
    set.push(10);
    set.push(40);
    // The read again (a later view of the log) lists 20 and 40 again, then goes on.
    for (const seq of [20, 40, 70]) set.push(seq);
    assert.deepEqual(
      [10, 20, 40, 70].map((seq) => set.has(seq)),
      [true, false, true, true],
    );
    assert.equal(set.size, 3);
    assert.equal(set.knownThrough, 70);
  });

  it('fails a waiting reader, and later ones, when the stream fails', async () => {
    const set = createStreamedSequenceSet(1, 100);
    const waiting = set.reach(50);
    set.fail(new Error('read failed'));
    await assert.rejects(waiting, /read failed/);
    await assert.rejects(set.reach(60), /read failed/);
    set.push(5);
    await set.reach(5); // what is known stays answerable
  });
});
