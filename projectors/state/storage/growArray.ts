type Growable = Float64Array | Uint32Array | Int32Array;

/**
 * `array` if it has at least `size` elements, else a copy with room for them that is half
 * again as long as before (or more): amortised O(1) growth with less slack than doubling,
 * which counts in the large columns of the projection state.
 */
export function grow<T extends Growable>(array: T, size: number): T {
  if (size <= array.length) return array;
  let length = Math.max(array.length, 16);
  while (length < size) length = Math.ceil(length * 1.5);
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array);
  return bigger;
}
