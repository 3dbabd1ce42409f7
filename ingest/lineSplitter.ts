import type { Transform, TransformCallback } from 'node:stream';
import split2 from 'split2';

/** Pushed by the line splitter in place of a line it skipped for being too long. */
export const TOO_LONG = Object.freeze({ tooLong: true });

/** A CR not followed by LF: a line break in a file saved with classic Mac line endings. */
const LONE_CR = /\r(?!\n)/g;

/**
 * split2 with a line cap that reports what it skips, and with every line ending
 * (LF, CRLF, lone CR) accepted. split2's `maxLength` with `skipOverflow` discards the
 * rest of an over-long line silently, so the lines after it would be misnumbered and
 * the caller never told; this wrapper emits a TOO_LONG marker in its place. While
 * split2 is in overflow, the first line break of a chunk ends the skipped line, so the
 * marker goes out before that chunk's lines. At end of input (or when a line ends in
 * the chunk that pushed it over), split2 hands the over-long text to the mapper, which
 * turns it into the marker too.
 *
 * A lone CR becomes LF before splitting (a CR-only file would otherwise be one long
 * line and one baffling malformed-JSON reject); a CR at the end of a chunk waits for
 * the next one, which tells whether an LF follows. A CR cannot occur inside a JSON
 * string (it must be escaped there), so this never changes a record's content. Files
 * without CR pay one `includes` per chunk.
 *
 * Input is read as latin1 strings (one char per byte), so `maxLength` counts bytes and
 * each line can be turned back into its exact bytes for a strict UTF-8 decode: split2
 * itself decodes with a lenient StringDecoder that would replace bad bytes silently.
 */
export function lineSplitter(maxBytes: number): Transform {
  const mapper = (line: string) => (line.length > maxBytes ? TOO_LONG : line);
  // A string matcher splits much faster than /\r?\n/; a CR before the LF is dropped by the reader.
  const splitter = split2('\n', mapper, {
    maxLength: maxBytes,
    skipOverflow: true,
    decodeStrings: false,
  } as split2.Options) as Transform & { overflow: boolean };
  const transform = splitter._transform.bind(splitter);
  const flush = splitter._flush.bind(splitter);
  let heldCr = false;
  const split = (text: string, encoding: BufferEncoding, callback: TransformCallback) => {
    if (splitter.overflow && text.includes('\n')) splitter.push(TOO_LONG);
    transform(text, encoding, callback);
  };
  splitter._transform = (chunk: string, encoding: BufferEncoding, callback: TransformCallback) => {
    let text = heldCr ? `\r${chunk}` : chunk;
    heldCr = false;
    if (text.includes('\r')) {
      if (text.endsWith('\r')) {
        heldCr = true;
        text = text.slice(0, -1);
      }
      text = text.replace(LONE_CR, '\n');
    }
    split(text, encoding, callback);
  };
  splitter._flush = (callback: TransformCallback) => {
    if (!heldCr) return flush(callback);
    heldCr = false;
    split('\n', 'latin1', (err) => (err ? callback(err) : flush(callback)));
  };
  return splitter;
}
