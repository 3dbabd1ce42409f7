import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createChangeMemory } from '../../projectors/live/changeMemory.ts';
import { runEvery, throwFailures } from '../../projectors/live/cleanup.ts';

describe('live projector parts', () => {
  it('runEvery runs every step after a failure and returns the failures in order', async () => {
    const ran: number[] = [];
    const failures = await runEvery([
      () => ran.push(1),
      () => {
        throw new Error('two');
      },
      async () => {
        ran.push(3);
        throw new Error('three');
      },
      () => ran.push(4),
    ]);
    assert.deepEqual(ran, [1, 3, 4]);
    assert.deepEqual(
      failures.map((f) => (f as Error).message),
      ['two', 'three'],
    );
    assert.doesNotThrow(() => throwFailures([], 'x'));
    const one = new Error('one');
    assert.throws(
      () => throwFailures([one], 'x'),
      (err) => err === one,
    );
    assert.throws(
      () => throwFailures(failures, 'closing failed'),
      (err) => err instanceof AggregateError && err.errors.length === 2 && err.message === 'closing failed',
    );
  });

  it('change memory answers since a sequence, and nothing once it has forgotten that far back', () => {
    const memory = createChangeMemory(3);
    memory.record(1, { articles: ['a1'], images: [], bylines: ['b1'] });
    memory.record(2, { articles: ['a2'], images: [], bylines: [] });
    memory.close();
    assert.deepEqual([...memory.since('articles', 0)!], ['a1', 'a2']);
    memory.record(3, { articles: ['a3'], images: ['i1'], bylines: [] });
    memory.close();
    assert.deepEqual([...memory.since('images', 2)!], ['i1']);
    // Five ids in all, capacity three: the first batch (up to sequence 2) is forgotten.
    assert.equal(memory.since('articles', 1), undefined);
    assert.deepEqual([...memory.since('articles', 2)!], ['a3']);
    memory.reset();
    assert.deepEqual([...memory.since('articles', 0)!], []);
  });
});
