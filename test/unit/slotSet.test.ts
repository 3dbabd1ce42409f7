import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { addSlot, deleteSlot } from '../../projectors/slotSet.ts';

describe('slot sets', () => {
  it('stay sorted and hold what a Set would after random adds and deletes', () => {
    const random = createRandom(11);
    const set: number[] = [];
    const reference = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      // Mostly increasing adds, as articles arrive; some older slots and deletes, as revisions do.
      const slot = random() < 0.7 ? i : Math.floor(random() * (i + 1));
      if (random() < 0.8) {
        addSlot(set, slot);
        reference.add(slot);
      } else {
        deleteSlot(set, slot);
        reference.delete(slot);
      }
    }
    assert.deepEqual(
      set,
      [...reference].sort((a, b) => a - b),
    );
  });

  it('ignores an add of a member and a delete of a non-member', () => {
    const set: number[] = [];
    for (const slot of [5, 1, 9, 5, 1]) addSlot(set, slot);
    assert.deepEqual(set, [1, 5, 9]);
    deleteSlot(set, 4);
    deleteSlot(set, 10);
    deleteSlot(set, 0);
    assert.deepEqual(set, [1, 5, 9]);
    deleteSlot(set, 5);
    assert.deepEqual(set, [1, 9]);
  });
});
