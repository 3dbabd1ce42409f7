import { open, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { InputFile } from '../listInputFiles.ts';
import type { ReadRecordsOptions, RecordLocation, SourceItem } from '../readRecords.ts';
import type { MappedItem, SourceFormat } from './mapped.ts';
import { G2_UNITS, type G2Package, linkG2Packages, mapG2Unit } from './newsml.ts';
import { mapNinjs } from './ninjs.ts';
import { mapNitf } from './nitf.ts';
import { createWxrChannel, mapWxrItem, readWxrChannelUnit } from './wxr.ts';
import { readXmlUnits } from './xmlUnits.ts';

/** Options of the format readers: the record reader's plus where image files are. */
export interface ReadFormattedOptions extends ReadRecordsOptions {
  maxRecordBytes: number;
  /** Read a ninjs file's items (a JSON array or NDJSON) through the presslog reader. */
  readValues: (file: InputFile) => AsyncGenerator<SourceItem>;
}

/** What the first bytes of a file say it is, or why they say nothing known. */
export type Sniffed = { format: SourceFormat } | { unknown: string } | { empty: true };

const localName = (qualified: string) => qualified.slice(qualified.indexOf(':') + 1);

/**
 * Tell a file's format by its content (pure but for reading its first 16 KiB): the XML
 * root element and namespace (`nitf`; NewsML-G2 `newsItem`/`newsMessage`/`packageItem`;
 * `rss` with the WordPress export namespace), or the JSON shape (an object with `uri`
 * is ninjs; an array whose first record has `kind` is presslog's).
 */
export async function sniffFormat(path: string): Promise<Sniffed> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return sniffHead(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

const SNIFF_BYTES = 16 * 1024;
const PROLOG = /^(?:<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>)\s*/i;

/** {@link sniffFormat} on a file's first bytes already read (its first 16 KiB are looked at). */
export function sniffHead(bytes: Buffer): Sniffed {
  const head = bytes
    .subarray(0, SNIFF_BYTES)
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  const trimmed = head.trimStart();
  if (trimmed.startsWith('<')) {
    // The prolog (declaration, comments, DOCTYPE) skipped from the start only: one
    // anchored match per item, not a search through the whole head of every file.
    let body = trimmed;
    for (let m = PROLOG.exec(body); m; m = PROLOG.exec(body)) body = body.slice(m[0].length);
    const root = /^<([A-Za-z_][\w.:-]*)/.exec(body)?.[1];
    const local = root ? localName(root) : undefined;
    if (local === 'nitf') return { format: 'nitf' };
    if (local && (local === 'newsMessage' || G2_UNITS.has(local))) return { format: 'newsml' };
    if (local === 'rss' && /wordpress\.org\/export/.test(body)) return { format: 'wxr' };
    return { unknown: root ? `an XML document with root <${root}>` : 'XML without a root element' };
  }
  if (trimmed.startsWith('{')) {
    return /"kind"\s*:/.test(trimmed) && !/"uri"\s*:/.test(trimmed)
      ? { format: 'presslog' }
      : { format: 'ninjs' };
  }
  if (trimmed.startsWith('[')) {
    const first = /"(kind|uri)"\s*:/.exec(trimmed)?.[1];
    return { format: first === 'uri' ? 'ninjs' : 'presslog' };
  }
  return trimmed === '' ? { empty: true } : { unknown: 'neither XML nor JSON' };
}

/** The XML elements read whole as one source item, per format. */
const XML_UNITS: Record<'nitf' | 'newsml' | 'wxr', (path: readonly string[]) => boolean> = {
  nitf: (path) => path.length === 1,
  newsml: (path) =>
    G2_UNITS.has(localName(path.at(-1)!)) || (path.length === 1 && localName(path[0]!) === 'nitf'),
  wxr: (path) =>
    path.length === 3 &&
    path[1] === 'channel' &&
    ['item', 'wp:author', 'wp:base_site_url', 'link'].includes(path[2]!),
};

/**
 * A mapped record as a source item. Its `raw` (the record as JSON, for the rejects file
 * and the deferred spill) is written only when something asks for it: most records are
 * never rejected, and writing each one out (body and markup) was a cost the NDJSON
 * reader, which has the line already, does not pay.
 */
function withLazyRaw(location: RecordLocation, value: object): SourceItem {
  let raw: string | undefined;
  return {
    ok: true,
    location,
    value,
    get raw() {
      raw ??= JSON.stringify(value);
      return raw;
    },
  };
}

/** Emits the records of mapped items as source items, checking image files on the way. */
function createEmitter(file: InputFile, mediaDir: string | undefined) {
  const base = mediaDir ?? dirname(file.path);
  const bylinesSent = new Set<string>();
  /** Images of this file left out for a missing file: later articles drop them too. */
  const missing = new Set<string>();
  const exists = async (name: string) =>
    !isAbsolute(name) && (await stat(resolve(base, name)).catch(() => undefined))?.isFile() === true;
  return async function* emit(
    mapped: MappedItem,
    location: RecordLocation,
    warn: ReadRecordsOptions['onWarning'],
  ): AsyncGenerator<SourceItem> {
    if (mapped.reject) {
      yield { ok: false, location, field: mapped.reject.field, reason: mapped.reject.reason };
      return;
    }
    if (mapped.skipped) warn?.({ location, message: mapped.skipped });
    for (const record of mapped.records) {
      if (record.kind === 'image' && !(await exists(String(record.file)))) {
        missing.add(record.id);
        warn?.({
          location,
          message: `image ${JSON.stringify(record.file)} not found in ${base}; the item is ingested without it`,
        });
      }
    }
    for (const record of mapped.records) {
      if (missing.has(record.id)) continue;
      if (record.kind === 'byline') {
        if (bylinesSent.has(record.id)) continue;
        bylinesSent.add(record.id);
      }
      const value =
        record.kind === 'article' && (record.images as string[]).some((id) => missing.has(id))
          ? { ...record, images: (record.images as string[]).filter((id) => !missing.has(id)) }
          : record;
      yield withLazyRaw(location, value);
    }
  };
}

async function* readXmlFormat(
  file: InputFile,
  format: 'nitf' | 'newsml' | 'wxr',
  options: ReadFormattedOptions,
): AsyncGenerator<SourceItem> {
  const emit = createEmitter(file, file.mediaDir);
  const channel = createWxrChannel();
  const units = readXmlUnits(file.path, {
    content: options.content,
    isUnit: XML_UNITS[format],
    maxUnitChars: options.maxRecordBytes,
    onBytes: options.onBytes,
    signal: options.signal,
  });
  // NewsML-G2: the items of a file are held until it ends, so a package can link its
  // text and picture items whichever comes first (a news message is one delivery).
  const g2 = format === 'newsml' ? createG2Holder() : undefined;
  for await (const item of units) {
    if (!item.ok) {
      if (g2) yield* g2.release(emit, options.onWarning);
      yield {
        ok: false,
        location: { file: file.path, ...(item.line ? { line: item.line } : {}) },
        reason: item.reason,
      };
      continue;
    }
    const location = { file: file.path, line: item.unit.line };
    if (format === 'wxr' && readWxrChannelUnit(item.unit, channel)) continue;
    if (g2) {
      g2.hold(mapG2Unit(item.unit), location);
      continue;
    }
    const mapped = format === 'nitf' ? mapNitf(item.unit) : mapWxrItem(item.unit, channel);
    yield* emit(mapped, location, options.onWarning);
  }
  if (g2) yield* g2.release(emit, options.onWarning);
}

/** A NewsML-G2 file's mapped items and packages, held to be linked and emitted together. */
function createG2Holder() {
  let held: Array<{ mapped: MappedItem; location: RecordLocation }> = [];
  let packages: Array<{ pkg: G2Package; location: RecordLocation }> = [];
  return {
    hold(mapped: ReturnType<typeof mapG2Unit>, location: RecordLocation) {
      if (mapped.package) packages.push({ pkg: mapped.package, location });
      else held.push({ mapped, location });
    },
    async *release(
      emit: ReturnType<typeof createEmitter>,
      warn: ReadRecordsOptions['onWarning'],
    ): AsyncGenerator<SourceItem> {
      const items = held;
      const pkgs = packages;
      held = [];
      packages = [];
      if (pkgs.length > 0) {
        const linked = linkG2Packages(
          pkgs.map((p) => p.pkg),
          items.map((i) => i.mapped),
        );
        for (const w of linked.warnings) warn?.({ location: pkgs[w.package]!.location, message: w.message });
        for (const { mapped } of items) {
          mapped.records = mapped.records.map((r) =>
            r.kind === 'article' && linked.articles.has(r.id)
              ? { ...r, images: [...new Set([...(r.images as string[]), ...linked.articles.get(r.id)!])] }
              : r,
          );
        }
      }
      // Pictures before the articles that show them (an article waits for its images' files to be checked).
      const hasArticle = (i: (typeof items)[number]) => i.mapped.records.some((r) => r.kind === 'article');
      for (const i of items.filter((i) => !hasArticle(i))) yield* emit(i.mapped, i.location, warn);
      for (const i of items.filter(hasArticle)) yield* emit(i.mapped, i.location, warn);
    },
  };
}

async function firstChar(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer
      .subarray(0, bytesRead)
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .trimStart()
      .charAt(0);
  } finally {
    await handle.close();
  }
}

/** ninjs: one item per file (an object), or many (a JSON array, or NDJSON), each mapped alike. */
async function* readNinjs(file: InputFile, options: ReadFormattedOptions): AsyncGenerator<SourceItem> {
  const emit = createEmitter(file, file.mediaDir);
  if ((await firstChar(file.path).catch(() => '')) !== '{' || file.format === 'ndjson') {
    for await (const item of options.readValues(file)) {
      if (!item.ok) yield item;
      else yield* emit(mapNinjs(item.value), item.location, options.onWarning);
    }
    return;
  }
  const location = { file: file.path };
  if (file.bytes > options.maxRecordBytes) {
    yield {
      ok: false,
      location,
      reason: `a single ninjs item of ${file.bytes} bytes, over the ${options.maxRecordBytes}-byte record cap`,
    };
    return;
  }
  const bytes = options.content ?? (await readFile(file.path));
  options.onBytes?.(bytes.length);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    const reason = err instanceof TypeError ? 'not valid UTF-8' : `malformed JSON: ${(err as Error).message}`;
    yield { ok: false, location, reason };
    return;
  }
  yield* emit(mapNinjs(value), location, options.onWarning);
}

/** Read a file in one of the industry formats as presslog records, in order. */
export async function* readFormatted(
  file: InputFile,
  format: Exclude<SourceFormat, 'presslog'>,
  options: ReadFormattedOptions,
): AsyncGenerator<SourceItem> {
  if (format === 'ninjs') yield* readNinjs(file, options);
  else yield* readXmlFormat(file, format, options);
}
