import { InvalidQueryError } from './errors.ts';
import { SEARCH_LIMITS, type SortValue } from './query.ts';

/**
 * What a `next` token carries: the point in time the result list lives in, the sort
 * values of the last hit returned, how many hits were returned so far (for the depth
 * cap) and the fingerprint of the search it belongs to. Opaque to clients: base64url JSON.
 */
export interface Cursor {
  pit: string;
  after: SortValue[];
  seen: number;
  fingerprint: string;
}

interface WireCursor {
  v: 1;
  p: string;
  a: SortValue[];
  n: number;
  f: string;
}

export function encodeCursor(cursor: Cursor): string {
  const wire: WireCursor = { v: 1, p: cursor.pit, a: cursor.after, n: cursor.seen, f: cursor.fingerprint };
  return Buffer.from(JSON.stringify(wire)).toString('base64url');
}

const notOurs = () =>
  new InvalidQueryError('after', 'not a cursor from this API (use the `next` value of a previous answer)');

/**
 * Decode and check a token from a client. Everything in it is untrusted: the shape is
 * checked strictly, and the sort values must be plain scalars, as many as the search sorts by.
 */
export function decodeCursor(token: string, expect: { fingerprint: string; sortValues: number }): Cursor {
  if (token.length > SEARCH_LIMITS.maxCursorChars || !/^[A-Za-z0-9_-]+$/.test(token)) throw notOurs();
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw notOurs();
  }
  if (typeof wire !== 'object' || wire === null || Array.isArray(wire)) throw notOurs();
  const { v, p, a, n, f } = wire as Partial<WireCursor>;
  if (v !== 1 || typeof p !== 'string' || p.length === 0 || typeof f !== 'string') throw notOurs();
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw notOurs();
  if (!Array.isArray(a) || a.length !== expect.sortValues) throw notOurs();
  for (const value of a) {
    const scalar =
      value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
    if (!scalar || (typeof value === 'string' && value.length > 200)) throw notOurs();
  }
  if (f !== expect.fingerprint) {
    throw new InvalidQueryError(
      'after',
      'this cursor belongs to a different search (send the same q and filters)',
    );
  }
  return { pit: p, after: a, seen: n, fingerprint: f };
}

/** How many hits came before the page a cursor points at (0 for anything unreadable): for numbering. */
export function cursorOffset(token: string | undefined): number {
  if (!token) return 0;
  try {
    const seen = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { n?: unknown }).n;
    return typeof seen === 'number' && Number.isInteger(seen) && seen >= 0 ? seen : 0;
  } catch {
    return 0;
  }
}
