import type { Lineage, LineageCheck } from '../schemas/documents.ts';

/** MurmurHash3's 32-bit mixing of one word `k` into the running hash `h`. */
function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finalizer: every input bit affects every output bit. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** MurmurHash3 (32-bit, one UTF-16 unit a word) of (id, asOfSeq, ownSeq) under `seed`. */
function checkHash(seed: number, id: string, asOfSeq: number, ownSeq: number): number {
  let h = seed;
  for (let i = 0; i < id.length; i++) h = mix(h, id.charCodeAt(i));
  // The id's length keeps id and sequences apart: ("a-1", 12) is not ("a-11", 2).
  h = mix(h, id.length);
  h = mix(h, asOfSeq >>> 0);
  h = mix(h, Math.floor(asOfSeq / 2 ** 32));
  h = mix(h, ownSeq >>> 0);
  h = mix(h, Math.floor(ownSeq / 2 ** 32));
  return finish(h ^ (id.length + 16));
}

/**
 * The check values of a document identified by (id, `asOfSeq`, `ownSeq`): the top 20 bits
 * of three 32-bit MurmurHash3s of them under different seeds. The entity's own last event
 * and the newest event of everything embedded pin down what a document was built from,
 * so the sums of these values over an index (with its document count) tell whether it
 * holds exactly the expected documents. Elasticsearch adds them up itself (a `sum`
 * aggregation, exact below 2^53, i.e. up to 8 billion documents an index), so verifying
 * an index reads three numbers back instead of every document's lineage. A checksum,
 * not a defence against forgery: MurmurHash3 costs ~0.3 µs a document where a SHA-256
 * through `node:crypto` cost ~5 (4% of a rebuild's CPU).
 */
export function lineageCheck(id: string, asOfSeq: number, ownSeq: number): LineageCheck {
  return {
    a: checkHash(0x9747b28c, id, asOfSeq, ownSeq) >>> 12,
    b: checkHash(0x5bd1e995, id, asOfSeq, ownSeq) >>> 12,
    c: checkHash(0x27d4eb2f, id, asOfSeq, ownSeq) >>> 12,
  };
}

/** A document's lineage, its check values included. */
export function lineageOf(
  id: string,
  asOfSeq: number,
  ownSeq: number,
  embeddedSeqs: Record<string, number>,
): Lineage {
  return { asOfSeq, ownSeq, embeddedSeqs, check: lineageCheck(id, asOfSeq, ownSeq) };
}
