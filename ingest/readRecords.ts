import { createReadStream, type ReadStream } from 'node:fs';
import { pipeline, Transform } from 'node:stream';
import Parser from 'stream-json/Parser.js';
import StreamArray from 'stream-json/streamers/StreamArray.js';
import type { SourceFormat } from './formats/mapped.ts';
import { readFormatted, type Sniffed, sniffFormat, sniffHead } from './formats/readFormatted.ts';
import { lineSplitter, TOO_LONG } from './lineSplitter.ts';
import type { InputFile } from './listInputFiles.ts';

// Listing the input lived here before it had a file of its own; its importers still find it here.
export { type InputFile, listInputFiles } from './listInputFiles.ts';

/** 8 MiB: far above any real record (a body is capped at 512 KiB), far below a memory problem. */
export const DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024;

/**
 * Deepest nesting of arrays and objects a record may have. Real records are three
 * levels deep; past this one, `JSON.stringify` and the validators (which recurse) could
 * exhaust the stack on a hostile record and take the whole run down with them.
 */
export const MAX_RECORD_DEPTH = 64;

/**
 * Whether `value` nests arrays and objects deeper than `max` levels (the record itself
 * is level 1). Iterative, so a value nested 100,000 deep is measured, not a stack overflow.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

const TOO_DEEP = `nested deeper than ${MAX_RECORD_DEPTH} levels (arrays and objects); a record is never that deep`;

/** Where a record is: the file and its line (NDJSON, 1-based) or array index (JSON, 0-based). */
export interface RecordLocation {
  file: string;
  line?: number;
  index?: number;
}

/** `file:line` or `file[index]`, the form every message uses. */
export function formatLocation(location: RecordLocation): string {
  if (location.line !== undefined) return `${location.file}:${location.line}`;
  if (location.index !== undefined) return `${location.file}[${location.index}]`;
  return location.file;
}

/** One input unit: a parsed JSON value with its source text, or the reason it could not be parsed. */
export type SourceItem =
  | { ok: true; location: RecordLocation; value: unknown; raw: string }
  | {
      ok: false;
      location: RecordLocation;
      /** The source field at fault, when a format reader knows it. */
      field?: string;
      reason: string;
      /** The bytes as they were in the file, when there is a record to give back (not for an oversized one). */
      raw?: Buffer;
    };

export interface ReadRecordsOptions {
  /** A record (NDJSON line, JSON array element) above this many bytes is rejected unread. */
  maxRecordBytes?: number;
  /** Called with the file's bytes read so far, for progress and ETA. */
  onBytes?: (bytesRead: number) => void;
  /** Told about what a format reader leaves out but does not reject (a missing image file). */
  onWarning?: (warning: { location: RecordLocation; message: string }) => void;
  signal?: AbortSignal;
  /**
   * The file's whole content, when the caller read it ahead (small files of a directory,
   * read a few at a time while the one before is ingested): read from it instead of the
   * file. Used by the XML readers and for telling the format.
   */
  content?: Buffer;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes < 1024 * 1024 ? 2 : 0)} MiB`;
}

function cannotRead(file: InputFile, err: unknown): SourceItem {
  const code = (err as NodeJS.ErrnoException).code;
  return {
    ok: false,
    location: { file: file.path },
    reason: `cannot read the file: ${code ?? (err as Error).message}`,
  };
}

/**
 * NDJSON: one JSON value per line; blank lines are skipped. A line that is too long,
 * not UTF-8 or not JSON is rejected on its own and reading goes on with the next line.
 */
async function* readNdjson(
  file: InputFile,
  options: Required<Pick<ReadRecordsOptions, 'maxRecordBytes'>> & ReadRecordsOptions,
) {
  const { maxRecordBytes, onBytes, signal } = options;
  const input = createReadStream(file.path, { encoding: 'latin1', highWaterMark: 1024 * 1024 });
  if (onBytes) input.on('data', () => onBytes(input.bytesRead));
  const lines = pipeline(input, lineSplitter(maxRecordBytes), () => {});
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 0;
  try {
    for await (const chunk of lines as AsyncIterable<string | typeof TOO_LONG>) {
      line++;
      const location = { file: file.path, line };
      if (chunk === TOO_LONG) {
        yield {
          ok: false,
          location,
          reason: `line is longer than ${mib(maxRecordBytes)}; skipped unread (a record this size cannot be an article)`,
        } satisfies SourceItem;
        continue;
      }
      const text = (chunk as string).endsWith('\r') ? (chunk as string).slice(0, -1) : (chunk as string);
      if (text.trim() === '') continue;
      // ASCII (the common case) is its own UTF-8 decoding: one char per byte either way,
      // which a UTF-8 byte count equal to the length proves without copying the line.
      let decoded: string;
      if (Buffer.byteLength(text, 'utf8') === text.length) decoded = text;
      else {
        const bytes = Buffer.from(text, 'latin1');
        try {
          decoded = decoder.decode(bytes);
        } catch {
          yield {
            ok: false,
            location,
            reason: `not valid UTF-8 at byte ${invalidUtf8Offset(bytes)} of the line`,
            raw: bytes,
          } satisfies SourceItem;
          continue;
        }
      }
      let value: unknown;
      try {
        value = JSON.parse(decoded);
      } catch (err) {
        yield {
          ok: false,
          location,
          reason: `malformed JSON: ${(err as Error).message}`,
          raw: Buffer.from(text, 'latin1'),
        } satisfies SourceItem;
        continue;
      }
      if (nestedDeeperThan(value, MAX_RECORD_DEPTH)) {
        yield {
          ok: false,
          location,
          reason: TOO_DEEP,
          raw: Buffer.from(text, 'latin1'),
        } satisfies SourceItem;
        continue;
      }
      yield { ok: true, location, value, raw: decoded } satisfies SourceItem;
      if (signal?.aborted) return;
    }
  } catch (err) {
    yield cannotRead(file, err);
  } finally {
    input.destroy();
  }
}

/** Byte offset (0-based) of the first invalid UTF-8 sequence, for the message. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const need =
      b < 0x80
        ? 0
        : b >= 0xc2 && b <= 0xdf
          ? 1
          : b >= 0xe0 && b <= 0xef
            ? 2
            : b >= 0xf0 && b <= 0xf4
              ? 3
              : -1;
    if (need < 0) return i;
    if (need > 0) {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + need + 1));
      } catch {
        return i;
      }
    }
    i += need + 1;
  }
  return i;
}

class JsonInputError extends Error {}

/** One element of the array, as stream-json's StreamArray emits it. */
interface ArrayElement {
  key: number;
  value: unknown;
}

/** What the input guard and the element listener share while one JSON file is read. */
interface JsonArrayProgress {
  /** Bytes read so far. */
  bytes: number;
  /** `bytes` when the parser last emitted an element. */
  bytesAtLastElement: number;
  /** Index of the element being assembled: one past the last one emitted. */
  index: number;
  /** Whether anything but whitespace has been read. */
  sawContent: boolean;
  /** Why the guard cut the input short: reported instead of the parser's complaint about the cut. */
  guardFailure?: JsonInputError;
}

/**
 * Decode strictly before stream-json (whose decoder is lenient) and bound the bytes
 * one element may take: the parser assembles an element in memory until it ends.
 * On a problem the guard hands on the good text before it and ends its output, so
 * the parser delivers every element before the problem, then stops.
 */
function inputGuard(
  progress: JsonArrayProgress,
  maxRecordBytes: number,
  onBytes: ReadRecordsOptions['onBytes'],
): Transform {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return new Transform({
    decodeStrings: true,
    transform(chunk: Buffer, _encoding, callback) {
      if (progress.guardFailure) return callback();
      const start = progress.bytes;
      progress.bytes += chunk.length;
      onBytes?.(progress.bytes);
      // bytesAtLastElement trails by up to one chunk (elements are emitted after the
      // chunk passes), hence the chunk's length as slack.
      if (progress.bytes - progress.bytesAtLastElement > maxRecordBytes + chunk.length) {
        progress.guardFailure = new JsonInputError(
          `element at index ${progress.index} is longer than ${mib(maxRecordBytes)}`,
        );
        this.push(null);
        return callback();
      }
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        const offset = invalidUtf8Offset(chunk);
        progress.guardFailure = new JsonInputError(`not valid UTF-8 at byte ${start + offset} of the file`);
        const good = new TextDecoder('utf-8').decode(chunk.subarray(0, offset));
        if (good) this.push(good);
        this.push(null);
        return callback();
      }
      if (!progress.sawContent && /\S/.test(text)) progress.sawContent = true;
      callback(null, text);
    },
    flush(callback) {
      if (progress.guardFailure) return callback();
      try {
        callback(null, decoder.decode());
      } catch {
        progress.guardFailure = new JsonInputError(
          'not valid UTF-8 at the end of the file (a truncated character)',
        );
        callback();
      }
    },
  });
}

/**
 * Run the file through the guard and the parser, and hand out the elements. They are
 * taken off the parser as it emits them (not through pipeline's async iterator, which
 * drops what was buffered when a later syntax error destroys the chain): every element
 * before an error is still delivered. Backpressure pauses the file, so the queue stays small.
 */
function parseElements(input: ReadStream, guard: Transform, progress: JsonArrayProgress) {
  const queue: ArrayElement[] = [];
  let failure: Error | undefined;
  let finished = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const elements = new StreamArray();
  elements.on('data', (element: ArrayElement) => {
    progress.bytesAtLastElement = progress.bytes;
    progress.index = element.key + 1;
    queue.push(element);
    if (queue.length >= 256) input.pause();
    notify();
  });
  pipeline(input, guard, new Parser({ decodeStrings: false }), elements, (err) => {
    failure = err ?? undefined;
    finished = true;
    notify();
  });
  return {
    /** The next element, or undefined once the chain has ended. */
    async next(): Promise<ArrayElement | undefined> {
      while (true) {
        const element = queue.shift();
        if (element) {
          if (queue.length < 64 && input.isPaused()) input.resume();
          return element;
        }
        if (finished) return undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    /** Why the chain ended, once it has: undefined for a clean end. */
    failure: () => failure,
  };
}

function elementItem(file: InputFile, element: ArrayElement): SourceItem {
  const location = { file: file.path, index: element.key };
  // Checked before JSON.stringify, which recurses: a deep element would overflow the
  // stack and end the whole run. The element's text is gone (the parser assembled
  // it), so the reject carries none.
  if (nestedDeeperThan(element.value, MAX_RECORD_DEPTH)) return { ok: false, location, reason: TOO_DEEP };
  return { ok: true, location, value: element.value, raw: JSON.stringify(element.value) };
}

/** The reject that ends the file after `failure`, or undefined when it ended well (or held nothing). */
function endOfArrayItem(
  file: InputFile,
  failure: Error | undefined,
  progress: JsonArrayProgress,
): SourceItem | undefined {
  // An empty or blank file: no records (the caller warns), not a syntax error.
  if (
    !failure ||
    (!progress.sawContent &&
      !(failure instanceof JsonInputError) &&
      (failure as NodeJS.ErrnoException).code === undefined)
  ) {
    return undefined;
  }
  if ((failure as NodeJS.ErrnoException).code !== undefined) return cannotRead(file, failure);
  let reason = failure.message;
  if (reason === 'Top-level object should be an array.') reason = 'expected a JSON array of records';
  else if (reason.startsWith('Parser ')) {
    reason = `malformed JSON (${reason.replace(/^Parser (cannot parse input: |has )?/, '')})`;
  }
  const rest = progress.index > 0 ? '; the rest of the file was not read' : '';
  return { ok: false, location: { file: file.path, index: progress.index }, reason: `${reason}${rest}` };
}

/**
 * JSON: one array of records, streamed element by element (stream-json), so a large
 * file is never held whole. A JSON array cannot be resynchronised after a syntax
 * error, bad UTF-8 or an oversized element, so those end the file with one reject
 * naming the index; the elements before it are ingested.
 */
async function* readJsonArray(
  file: InputFile,
  options: Required<Pick<ReadRecordsOptions, 'maxRecordBytes'>> & ReadRecordsOptions,
) {
  const { maxRecordBytes, onBytes, signal } = options;
  // Chunks no larger than the cap (within reason), so the size guard is tight.
  const highWaterMark = Math.max(16 * 1024, Math.min(1024 * 1024, maxRecordBytes));
  const input = createReadStream(file.path, { highWaterMark });
  const progress: JsonArrayProgress = { bytes: 0, bytesAtLastElement: 0, index: 0, sawContent: false };
  const elements = parseElements(input, inputGuard(progress, maxRecordBytes, onBytes), progress);
  try {
    for (let element = await elements.next(); element; element = await elements.next()) {
      yield elementItem(file, element);
      if (signal?.aborted) return;
    }
    const end = endOfArrayItem(file, progress.guardFailure ?? elements.failure(), progress);
    if (end) yield end;
  } finally {
    input.destroy();
  }
}

const isXml = (format: string) => format === 'nitf' || format === 'newsml' || format === 'wxr';

/**
 * The format to read a file as: the one given (`--format`) unless the content is
 * plainly the other kind (XML for JSON or back), else the one its content shows
 * (`.ndjson` files are presslog's without looking). A reject when neither works.
 */
async function formatOf(
  file: InputFile,
  content: Buffer | undefined,
): Promise<{ format: SourceFormat } | { empty: true } | SourceItem> {
  const given = file.sourceFormat;
  if (file.format === 'ndjson' && (given === undefined || given === 'presslog'))
    return { format: 'presslog' };
  const location = { file: file.path };
  let sniffed: Sniffed;
  try {
    sniffed = content ? sniffHead(content) : await sniffFormat(file.path);
  } catch (err) {
    return cannotRead(file, err);
  }
  // Blank: no records (the caller warns), whatever the format.
  if ('empty' in sniffed) return sniffed;
  if (given !== undefined) {
    if ('format' in sniffed && isXml(sniffed.format) !== isXml(given)) {
      return {
        ok: false,
        location,
        reason: `--format ${given} was given, but the file's content is ${sniffed.format}`,
      };
    }
    return { format: given };
  }
  if ('unknown' in sniffed) {
    return {
      ok: false,
      location,
      reason: `not a format presslog reads (${sniffed.unknown}); expected presslog records, NITF, NewsML-G2, ninjs or a WordPress export`,
    };
  }
  return sniffed;
}

/**
 * Stream the records of one file as parsed values with their location; problems
 * (unreadable file, too long, bad UTF-8, bad JSON) come as `ok: false` items, never as
 * exceptions, so one bad record never stops the run. NITF, NewsML-G2, ninjs and
 * WordPress files come mapped to presslog records (ingest/formats).
 */
export async function* readRecords(
  file: InputFile,
  options: ReadRecordsOptions = {},
): AsyncGenerator<SourceItem> {
  const resolved = { ...options, maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES };
  const readPresslog = (f: InputFile) =>
    f.format === 'json' ? readJsonArray(f, resolved) : readNdjson(f, resolved);
  const resolvedFormat = await formatOf(file, options.content);
  if ('empty' in resolvedFormat) return;
  if (!('format' in resolvedFormat)) {
    yield resolvedFormat;
    return;
  }
  const { format } = resolvedFormat;
  if (format !== 'presslog') yield* readFormatted(file, format, { ...resolved, readValues: readPresslog });
  else if (file.format === 'xml')
    yield { ok: false, location: { file: file.path }, reason: 'presslog records are JSON, not XML' };
  else yield* readPresslog(file);
}
