import { hash } from 'node:crypto';
import type { Lineage, LineageCheck } from '../schemas/documents.ts';

/**
 * The check values of a document identified by (id, `asOfSeq`, `ownSeq`): three 20-bit
 * slices of their SHA-256. The entity's own last event and the newest event of
 * everything embedded pin down what a document was built from, so the sums of these
 * values over an index (with its document count) tell whether it holds exactly the
 * expected documents. Elasticsearch adds them up itself (a `sum` aggregation, exact below
 * 2^53, i.e. up to 8 billion documents an index), so verifying an index reads three
 * numbers back instead of every document's lineage.
 */
export function lineageCheck(id: string, asOfSeq: number, ownSeq: number): LineageCheck {
  const digest = hash('sha256', `${id}\u0000${asOfSeq}\u0000${ownSeq}`, 'buffer');
  return {
    a: digest.readUInt32BE(0) >>> 12,
    b: digest.readUInt32BE(4) >>> 12,
    c: digest.readUInt32BE(8) >>> 12,
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
