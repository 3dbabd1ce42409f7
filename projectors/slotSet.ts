/**
 * Sets of article slots kept as sorted arrays of small integers: ~8 bytes per member
 * where a Set<number> takes ~20-40. They hold the reverse references (byline or image →
 * the articles that reference it), about two per article. Articles take slots in the
 * order they first appear, so members mostly arrive in increasing order and an add is
 * usually a push; a revision that adds or drops a reference pays a search and a splice.
 */

/** Index of the first member not below `slot`. */
function lowerBound(set: readonly number[], slot: number): number {
  let low = 0;
  let high = set.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (set[middle]! < slot) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Add `slot` to the sorted `set` (no-op when present). */
export function addSlot(set: number[], slot: number): void {
  const last = set.length - 1;
  if (last < 0 || set[last]! < slot) {
    set.push(slot);
    return;
  }
  const at = lowerBound(set, slot);
  if (set[at] !== slot) set.splice(at, 0, slot);
}

/** Remove `slot` from the sorted `set` (no-op when absent). */
export function deleteSlot(set: number[], slot: number): void {
  const at = lowerBound(set, slot);
  if (set[at] === slot) set.splice(at, 1);
}
