import { grow } from './growArray.ts';

/**
 * Sorted lists of article slots, one per byline or image (the reverse references: the
 * articles that reference it, about two per article), all in one pool of 32-bit
 * integers: ~4-8 bytes a member, off the heap, where an array per list took ~12-16 on it
 * plus an object per list for the collector to trace. Articles take slots in the order
 * they first appear, so members mostly arrive in increasing order and an add is usually
 * an append; a revision that adds or drops a reference pays a search and a shift.
 *
 * A list lives in a region of the pool with room to spare; a full list moves to a region
 * twice its size at the end of the pool, and when the pool is full the lists are packed
 * into a new one, with room for half as much again.
 */
export interface SlotLists {
  /** Add `slot` to list `list` (no-op when present). */
  add(list: number, slot: number): void;
  /** Remove `slot` from list `list` (no-op when absent). */
  delete(list: number, slot: number): void;
  /** The members of the list in increasing order (a view: copy it before changing any list). */
  members(list: number): Int32Array;
  /** Members of all lists. */
  readonly total: number;
}

/** Create an empty set of lists (any list number may be used; a list never added to is empty). */
export function createSlotLists(initialPool = 1024): SlotLists {
  let start: Uint32Array = new Uint32Array(64);
  let length: Uint32Array = new Uint32Array(64);
  let room: Uint32Array = new Uint32Array(64);
  let lists = 0;
  let pool = new Int32Array(initialPool);
  let end = 0;
  /** Sum of the rooms: what the pool would need packed. */
  let roomTotal = 0;
  let total = 0;

  function ensure(list: number): void {
    if (list < lists) return;
    lists = list + 1;
    start = grow(start, lists);
    length = grow(length, lists);
    room = grow(room, lists);
  }

  /** Give the list a region of `size` places at the end of the pool, packing or growing the pool when it is full. */
  function move(list: number, size: number): void {
    roomTotal += size - room[list]!;
    if (end + size > pool.length) {
      const packed = new Int32Array(Math.max(initialPool, Math.ceil(roomTotal * 1.5)));
      let at = 0;
      for (let l = 0; l < lists; l++) {
        if (l === list) continue;
        packed.set(pool.subarray(start[l]!, start[l]! + length[l]!), at);
        start[l] = at;
        at += room[l]!;
      }
      packed.set(pool.subarray(start[list]!, start[list]! + length[list]!), at);
      pool = packed;
      start[list] = at;
      end = at + size;
    } else {
      pool.copyWithin(end, start[list]!, start[list]! + length[list]!);
      start[list] = end;
      end += size;
    }
    room[list] = size;
  }

  /** Index in the pool of the list's first member not below `slot`. */
  function lowerBound(list: number, slot: number): number {
    let low = start[list]!;
    let high = low + length[list]!;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (pool[middle]! < slot) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  return {
    add(list, slot) {
      ensure(list);
      const n = length[list]!;
      let offset = n;
      if (n > 0 && pool[start[list]! + n - 1]! >= slot) {
        const at = lowerBound(list, slot);
        if (pool[at] === slot) return;
        offset = at - start[list]!;
      }
      if (n === room[list]) move(list, Math.max(4, n * 2));
      const s = start[list]!;
      pool.copyWithin(s + offset + 1, s + offset, s + n);
      pool[s + offset] = slot;
      length[list] = n + 1;
      total++;
    },
    delete(list, slot) {
      if (list >= lists) return;
      const at = lowerBound(list, slot);
      const last = start[list]! + length[list]!;
      if (at === last || pool[at] !== slot) return;
      pool.copyWithin(at, at + 1, last);
      length[list]!--;
      total--;
    },
    members(list) {
      if (list >= lists) return pool.subarray(0, 0);
      return pool.subarray(start[list]!, start[list]! + length[list]!);
    },
    get total() {
      return total;
    },
  };
}
