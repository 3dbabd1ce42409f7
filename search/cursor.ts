import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidQueryError } from './errors.ts';
import { SEARCH_LIMITS, type SortValue } from './params.ts';
import { type Corrections, MAX_CORRECTIONS } from './query.ts';

/**
 * What a `next` token carries: the point in time the result list lives in, the sort
 * values of the last hit returned, how many hits were returned so far (for the depth
 * cap) and the fingerprint of the search it belongs to. Opaque to clients: base64url
 * JSON, a dot, and a base64url HMAC-SHA256 (first 16 bytes) of that JSON under the
 * deployment's cursor secret, so a client can neither forge a point in time id nor
 * carry a cursor from one search (or deployment) to another.
 */
export interface Cursor {
  pit: string;
  after: SortValue[];
  seen: number;
  fingerprint: string;
  /** The words' corrections the result list was searched with (absent: the words alone filled the first page). */
  typo?: Corrections;
  /** The exact total counted with the first page (later pages do not count again). */
  total?: number;
}

interface WireCursor {
  v: 1;
  p: string;
  a: SortValue[];
  n: number;
  f: string;
  /** The corrections (0 or absent: none; 0 was written before corrections were carried). */
  t?: 0 | string[][];
  /** The first page's total (absent in cursors made before it was carried: that page counts). */
  c?: number;
}

const MAC_BYTES = 16;

function mac(key: Uint8Array, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES);
}

/** Encode and sign a cursor with the deployment's secret `key`. */
export function encodeCursor(cursor: Cursor, key: Uint8Array): string {
  const wire: WireCursor = {
    v: 1,
    p: cursor.pit,
    a: cursor.after,
    n: cursor.seen,
    f: cursor.fingerprint,
    ...(cursor.typo ? { t: cursor.typo.map((c) => [...c]) } : {}),
    ...(cursor.total !== undefined ? { c: cursor.total } : {}),
  };
  const payload = Buffer.from(JSON.stringify(wire)).toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** The payload of a token whose signature is right, or undefined. */
function verified(token: string, key: Uint8Array): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(key, payload);
  return given.length === expected.length && timingSafeEqual(given, expected) ? payload : undefined;
}

const notOurs = () =>
  new InvalidQueryError('after', 'not a cursor from this API (use the `next` value of a previous answer)');

/**
 * Decode and check a token from a client: its signature first (a token not signed with
 * `key` is refused before anything in it is read), then the shape strictly; the sort
 * values must be plain scalars, as many as the search sorts by.
 */
export function decodeCursor(
  token: string,
  expect: { fingerprint: string; sortValues: number },
  key: Uint8Array,
): Cursor {
  if (token.length > SEARCH_LIMITS.maxCursorChars || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token))
    throw notOurs();
  const payload = verified(token, key);
  if (payload === undefined) throw notOurs();
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw notOurs();
  }
  if (typeof wire !== 'object' || wire === null || Array.isArray(wire)) throw notOurs();
  const { v, p, a, n, f, t, c } = wire as Partial<WireCursor>;
  if (t !== undefined && t !== 0 && !isCorrections(t)) throw notOurs();
  if (c !== undefined && (typeof c !== 'number' || !Number.isInteger(c) || c < 0)) throw notOurs();
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
  return {
    pit: p,
    after: a,
    seen: n,
    fingerprint: f,
    ...(t !== undefined && t !== 0 ? { typo: t } : {}),
    ...(c !== undefined ? { total: c } : {}),
  };
}

/** A cursor's corrections: per word (at most as many as get them), a few short terms. */
function isCorrections(value: unknown): value is string[][] {
  return (
    Array.isArray(value) &&
    value.length <= SEARCH_LIMITS.maxFuzzyWords &&
    value.every(
      (c) =>
        Array.isArray(c) &&
        c.length <= MAX_CORRECTIONS &&
        c.every(
          (t) => typeof t === 'string' && t.length > 0 && t.length <= SEARCH_LIMITS.maxFuzzyWordChars + 2,
        ),
    )
  );
}

/** How many hits came before the page a cursor points at (0 for anything unreadable): for numbering. */
export function cursorOffset(token: string | undefined): number {
  if (!token) return 0;
  try {
    const payload = token.split('.')[0] ?? '';
    const seen = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { n?: unknown }).n;
    return typeof seen === 'number' && Number.isInteger(seen) && seen >= 0 ? seen : 0;
  } catch {
    return 0;
  }
}
