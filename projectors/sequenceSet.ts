/**
 * A fixed set of stream sequences: sorted once into a Float64Array, tested by binary
 * search. The rebuild keeps "where does each article's history end" this way, 8 bytes
 * per article, where a Map from article id to sequence held ~100 bytes of heap per
 * article (the id string and the entry) for the whole write phase.
 */
export interface SequenceSet {
  readonly size: number;
  has(seq: number): boolean;
}

/** Create a set of the given sequences (any order, duplicates allowed). */
export function createSequenceSet(seqs: Iterable<number>): SequenceSet {
  const sorted = Float64Array.from(seqs).sort();
  return {
    size: sorted.length,
    has(seq) {
      let low = 0;
      let high = sorted.length - 1;
      while (low <= high) {
        const middle = (low + high) >>> 1;
        const value = sorted[middle]!;
        if (value === seq) return true;
        if (value < seq) low = middle + 1;
        else high = middle - 1;
      }
      return false;
    },
  };
}
