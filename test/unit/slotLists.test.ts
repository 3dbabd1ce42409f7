import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { createSlotLists } from '../../projectors/state/storage/slotLists.ts';

describe('slot lists', () => {
  it('stay sorted and hold what a Set per list would, through moves and packings of the pool', () => {
    const random = createRandom(11);
    // A tiny pool: lists move and the pool is packed again and again.
    const lists = createSlotLists(8);
    const reference = Array.from({ length: 50 }, () => new Set<number>());
    for (let i = 0; i < 40_000; i++) {
      const list = Math.floor(random() * 50);
      // Mostly increasing adds, as articles arrive; some older slots and deletes, as revisions do.
      const slot = random() < 0.7 ? i : Math.floor(random() * (i + 1));
      if (random() < 0.8) {
        lists.add(list, slot);
        reference[list]!.add(slot);
      } else {
        lists.delete(list, slot);
        reference[list]!.delete(slot);
      }
    }
    reference.forEach((set, list) => {
      assert.deepEqual(
        [...lists.members(list)],
        [...set].sort((a, b) => a - b),
        `list ${list}`,
      );
    });
    assert.equal(
      lists.total,
      reference.reduce((sum, set) => sum + set.size, 0),
    );
  });

  it('ignores an add of a member and a delete of a non-member, and has empty lists it never saw', () => {
    const lists = createSlotLists();
    for (const slot of [5, 1, 9, 5, 1]) lists.add(3, slot);
    assert.deepEqual([...lists.members(3)], [1, 5, 9]);
    for (const slot of [4, 10, 0]) lists.delete(3, slot);
    lists.delete(7, 5);
    assert.deepEqual([...lists.members(3)], [1, 5, 9]);
    lists.delete(3, 5);
    assert.deepEqual([...lists.members(3)], [1, 9]);
    assert.deepEqual([...lists.members(0)], []);
    assert.deepEqual([...lists.members(1000)], []);
    assert.equal(lists.total, 2);
  });
});
