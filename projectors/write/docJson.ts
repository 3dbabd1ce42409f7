/**
 * JSON for documents, as `JSON.stringify` writes it but faster for an article's body.
 * V8's `JSON.stringify` (Node 20) scans strings at ~450 MB/s on this machine; a body is
 * most of an article document (2-20 KB), and when it is printable ASCII without quotes or
 * backslashes it needs no escaping at all, which a regular expression over that one
 * character class tells at ~1,160 MB/s (a class that also allows non-ASCII ran at ~640:
 * V8 matches the complement of a small ASCII class fastest). Anything else (a quote, a
 * newline, any non-ASCII character) goes to `JSON.stringify`, from where the scan found
 * it. Measured on the 300k benchmark log: this check was 7% of the rebuild's own CPU.
 * A rebuild skips even that for plain bodies: it copies them from the stored message
 * (`ReplayOptions.rawBodies`, {@link docJsonHead}).
 */

/** A character that `"…"` alone would not write as JSON does: anything but printable ASCII other than `"` and `\`. */
const NOT_PLAIN = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/** A string as a JSON string literal: exactly `JSON.stringify(text)`. */
export function quoteJson(text: string): string {
  return NOT_PLAIN.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/**
 * A document as JSON, its `body` (when a string) written last through {@link quoteJson}:
 * the same value as `JSON.stringify(doc)`, with that one key moved to the end.
 */
export function docJson(doc: object): string {
  const body = (doc as { body?: unknown }).body;
  if (typeof body !== 'string') return JSON.stringify(doc);
  return `${docJsonHead(doc)}${quoteJson(body)}}`;
}

/**
 * {@link docJson} up to the body's value: every other key, then `"body":`. Followed by
 * the body's JSON literal and `}` it is the whole document.
 */
export function docJsonHead(doc: object): string {
  const { body: _, ...rest } = doc as { body?: unknown };
  const head = JSON.stringify(rest);
  return `${head.length > 2 ? `${head.slice(0, -1)},` : '{'}"body":`;
}
