import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createChangeMemory } from '../../projectors/live/changeMemory.ts';

describe('live projector parts', () => {
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
