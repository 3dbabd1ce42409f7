import { createReadStream } from 'node:fs';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { invalidUtf8Offset } from '../readRecords.ts';

/** One XML element, kept only for the small unit (an item, a document) being mapped. */
export interface XmlElement {
  /** The qualified name as written (`wp:post_id`). */
  name: string;
  /** The name without its prefix (`post_id`). */
  local: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** 1-based line of the start tag. */
  line: number;
}
export type XmlNode = XmlElement | string;

/** A unit read whole, or the reason the file could not be read on from `line`. */
export type XmlUnitItem =
  | { ok: true; unit: XmlElement; index: number }
  | { ok: false; line?: number; reason: string };

export interface ReadXmlUnitsOptions {
  /**
   * Whether the element opening at `path` (qualified names from the root, the new
   * element last) is a unit: kept whole and handed out when it closes. Elements
   * outside units are never kept.
   */
  isUnit(path: readonly string[]): boolean;
  /** A unit, or a text node anywhere, larger than this many characters stops the file. */
  maxUnitChars: number;
  onBytes?: (bytesRead: number) => void;
  signal?: AbortSignal;
  /** The file's content, already read: parsed instead of reading the file. */
  content?: Buffer;
}

const localOf = (name: string) => name.slice(name.indexOf(':') + 1);

class XmlStop extends Error {}

/** The parser and what it shares with the reading loop. */
function createUnitParser(options: ReadXmlUnitsOptions, done: XmlUnitItem[]) {
  const parser = new SaxesParser({ position: true, xmlns: false });
  const path: string[] = [];
  const open: XmlElement[] = [];
  let index = 0;
  const state = { charsAtLastEvent: 0, chars: 0, unitStartChars: 0 };
  const mark = () => {
    state.charsAtLastEvent = state.chars;
  };
  parser.on('doctype', (doctype) => {
    // An internal subset declaring entities is how XXE (external entities) and
    // "billion laughs" (nested expansion) arrive; presslog expands no DTD entities.
    if (/<!ENTITY/i.test(doctype)) {
      throw new XmlStop(
        'the DOCTYPE declares entities; presslog never expands DTD entities (external entities, entity expansion) and does not read this file',
      );
    }
  });
  let tagLine = 1;
  parser.on('opentagstart', () => {
    tagLine = parser.line;
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    mark();
    path.push(tag.name);
    const element: XmlElement = {
      name: tag.name,
      local: localOf(tag.name),
      attrs: tag.attributes as Record<string, string>,
      children: [],
      line: tagLine,
    };
    if (open.length > 0) open.at(-1)!.children.push(element);
    else if (options.isUnit(path)) state.unitStartChars = state.chars;
    else return;
    open.push(element);
  });
  const text = (value: string) => {
    mark();
    if (open.length > 0) open.at(-1)!.children.push(value);
  };
  parser.on('text', text);
  parser.on('cdata', text);
  parser.on('closetag', () => {
    mark();
    path.pop();
    const element = open.pop();
    if (element && open.length === 0) done.push({ ok: true, unit: element, index: index++ });
  });
  parser.on('error', (err) => {
    throw new XmlStop(
      `malformed XML (${err.message.replace(/^(?:[^:]*:)?\d+:\d+: /, '').replace(/\.$/, '')})`,
    );
  });
  return {
    parser,
    /** Feed decoded text; throws XmlStop on a problem. */
    write(chunk: string) {
      state.chars += chunk.length;
      if (open.length > 0 && state.chars - state.unitStartChars > options.maxUnitChars + chunk.length) {
        throw new XmlStop(
          `the element <${open[0]!.name}> starting at line ${open[0]!.line} is longer than ${options.maxUnitChars} characters; the rest of the file was not read`,
        );
      }
      parser.write(chunk);
      if (state.chars - state.charsAtLastEvent > options.maxUnitChars) {
        throw new XmlStop(
          `a text node at line ${parser.line} is longer than ${options.maxUnitChars} characters; the rest of the file was not read`,
        );
      }
    },
  };
}

/**
 * The length of `bytes` without an incomplete UTF-8 character at its end, one that the
 * next chunk may complete: a lead byte and the right continuation bytes so far (as a
 * streaming decoder waits for it). Anything else at the end is left in, for the decoder
 * to reject now.
 */
function completeUtf8Length(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let k = n - 1; k >= Math.max(0, n - 3); k--) {
    const lead = bytes[k]!;
    if (lead < 0x80) return n;
    if (lead < 0xc0) continue; // a continuation byte: its lead is further back
    const need =
      lead >= 0xc2 && lead <= 0xdf
        ? 2
        : lead >= 0xe0 && lead <= 0xef
          ? 3
          : lead >= 0xf0 && lead <= 0xf4
            ? 4
            : 0;
    if (need === 0 || k + need <= n) return n;
    if (k + 1 < n) {
      // The second byte's range depends on the lead (no overlong forms, surrogates or code points past U+10FFFF).
      const second = bytes[k + 1]!;
      const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
      const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
      if (second < low || second > high) return n;
    }
    return k;
  }
  return n;
}

/**
 * Decodes a file's chunks as one streaming, fatal TextDecoder does (the same text, an
 * error in the same chunk, a leading byte order mark dropped), but each chunk's complete
 * characters in one non-streaming call: Node's fast UTF-8 path, which a decoder once
 * used to stream never takes again (5,000 NITF files: ~23 ms instead of ~120 ms). An
 * incomplete character at a chunk's end waits for the next chunk; `end` throws, as the
 * streaming decoder's last call does, when one is still waiting.
 */
function createChunkDecoder() {
  let waiting: Uint8Array | undefined;
  let atStart = true;
  return {
    decode(chunk: Uint8Array): string {
      const bytes = waiting ? Buffer.concat([waiting, chunk]) : chunk;
      const end = completeUtf8Length(bytes);
      waiting = end < bytes.length ? bytes.slice(end) : undefined;
      if (end === 0) return '';
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: !atStart }).decode(
        bytes.subarray(0, end),
      );
      atStart = false;
      return text;
    },
    end(): string {
      if (waiting) throw new TypeError('an incomplete UTF-8 character at the end');
      return '';
    },
  };
}

/**
 * Stream an XML file and hand out its units (each item of an export, or the document
 * itself) as small element trees, in order. Memory stays bounded by the unit size:
 * nothing outside a unit is kept, and a unit or text node over the cap stops the file.
 * No DTD is read and no entity beyond XML's five (and character references) is
 * expanded: a file declaring entities, malformed XML, invalid UTF-8 or a truncated file
 * ends with one `ok: false` item naming the line; the units before it are handed out.
 */
export async function* readXmlUnits(file: string, options: ReadXmlUnitsOptions): AsyncGenerator<XmlUnitItem> {
  const done: XmlUnitItem[] = [];
  const unitParser = createUnitParser(options, done);
  const decoder = createChunkDecoder();
  const input: Iterable<Buffer> | (AsyncIterable<Buffer> & { destroy(): void }) = options.content
    ? [options.content]
    : createReadStream(file, { highWaterMark: 256 * 1024 });
  let bytes = 0;
  try {
    for await (const chunk of input) {
      let text: string;
      try {
        text = decoder.decode(chunk);
      } catch {
        const offset = invalidUtf8Offset(chunk);
        // Parse the good text before the bad byte, so the reject names its line.
        try {
          unitParser.write(new TextDecoder('utf-8').decode(chunk.subarray(0, offset)));
        } catch (err) {
          if (!(err instanceof XmlStop)) throw err;
        }
        yield* done.splice(0);
        yield {
          ok: false,
          line: unitParser.parser.line,
          reason: `not valid UTF-8 at byte ${bytes + offset} of the file`,
        };
        return;
      }
      bytes += chunk.length;
      options.onBytes?.(bytes);
      try {
        unitParser.write(text);
      } catch (err) {
        if (!(err instanceof XmlStop)) throw err;
        yield* done.splice(0);
        yield { ok: false, line: unitParser.parser.line, reason: err.message };
        return;
      }
      yield* done.splice(0);
      if (options.signal?.aborted) return;
    }
    try {
      unitParser.write(decoder.end());
      unitParser.parser.close();
    } catch (err) {
      if (!(err instanceof XmlStop) && !(err instanceof TypeError)) throw err;
      yield* done.splice(0);
      const reason = err instanceof XmlStop ? err.message : 'not valid UTF-8 at the end of the file';
      yield { ok: false, line: unitParser.parser.line, reason: `${reason} (a truncated file?)` };
      return;
    }
    yield* done.splice(0);
  } catch (err) {
    yield {
      ok: false,
      reason: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    };
  } finally {
    if ('destroy' in input) input.destroy();
  }
}
