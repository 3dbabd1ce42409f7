import { grow } from './storage/growArray.ts';
import { createPageFile, type PageFileStats } from './storage/pageFile.ts';

/**
 * The article records of the projection state: one slot per article, its numbers in a
 * fixed 40-byte row, its byline and image references as slot numbers of their own tables
 * in one shared pool. A record as objects (a Map entry, an object, two arrays of id
 * strings) held ~400 bytes per article and millions of objects for the garbage collector
 * to trace on every full collection. Here the ids and their hash index stay in memory
 * (~25 bytes an article, in a few typed arrays), while the rows and the pool are pages of
 * a temporary file behind a bounded cache (see pageFile.ts): ~55 bytes an article that
 * would otherwise grow with the archive. New articles fill the last pages, so the pages
 * in use are mostly cached; a revision of an old article costs a page read.
 */
export interface ArticleTable {
  /** Articles ever seen. */
  readonly size: number;
  /** The article's slot, or undefined when it was never seen. */
  slotOf(id: string): number | undefined;
  /** The article's slot, created (all zero) when it was never seen. */
  intern(id: string): number;
  id(slot: number): string;
  firstSeq(slot: number): number;
  lastSeq(slot: number): number;
  events(slot: number): number;
  revisions(slot: number): number;
  retracted(slot: number): boolean;
  publishedAtMs(slot: number): number;
  /** Byline slots the article references, in its own order (a view of a cached page: use or copy it before the next call on the table). */
  bylines(slot: number): Int32Array;
  /** Image slots the article references (a view, as above). */
  images(slot: number): Int32Array;
  set(slot: number, row: ArticleRow): void;
  /** The page files of the rows and of the references. */
  stats(): { rows: PageFileStats; refs: PageFileStats };
  /** Close the page files (idempotent); every other method throws afterwards. */
  close(): void;
}

/** The numbers the state keeps of an article. */
export interface ArticleFacts {
  firstSeq: number;
  /** Sequence of the article's last event: for an unretracted article, a Published/Revised event. */
  lastSeq: number;
  events: number;
  /** ArticlePublished/ArticleRevised events applied. */
  revisions: number;
  retracted: boolean;
  publishedAtMs: number;
}

/** The fields of one article record, references as slots. */
export interface ArticleRow extends ArticleFacts {
  bylines: ArrayLike<number>;
  images: ArrayLike<number>;
}

export interface ArticleTableOptions {
  /** Articles the id index has room for before it first grows (default 1,024). */
  initialCapacity?: number;
  /** Pages of rows (128 articles each) and of references (4,096) kept in memory (default 1,024 and 256: ~9 MiB). */
  cachePages?: { rows: number; refs: number };
}

const scratch = new Int32Array(510);

/** A row: firstSeq, lastSeq, publishedAtMs (f64); events, revisions, refStart (u32); (unused), bylineCount, imageCount, refRoom (u8). */
const ROW_BYTES = 40;
const ROW_SHIFT = 7;
const ROWS_PER_PAGE = 1 << ROW_SHIFT;
const ROW_MASK = ROWS_PER_PAGE - 1;
const REF_SHIFT = 12;
const REFS_PER_PAGE = 1 << REF_SHIFT;
const REF_MASK = REFS_PER_PAGE - 1;

interface RowPage {
  f64: Float64Array;
  u32: Uint32Array;
  u8: Uint8Array;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Create an empty article table. */
export function createArticleTable(options: ArticleTableOptions = {}): ArticleTable {
  const initialCapacity = options.initialCapacity ?? 1024;
  // Ids as ASCII bytes in one pool (ids are 1-128 of [A-Za-z0-9_-]), the id of slot s at
  // idStart[s]..idStart[s+1], found through an open-addressing hash table of slot + 1
  // (0: empty) at most half full: ~25 bytes per article where a Map from id strings to
  // slots, and the strings, took ~75.
  let size = 0;
  let idBytes = Buffer.alloc(initialCapacity * 16);
  let idStart = new Uint32Array(initialCapacity + 1);
  let hashed = new Int32Array(2 ** Math.ceil(Math.log2(Math.max(2, initialCapacity * 2))));
  // Whether each article is retracted, one bit an article in memory (100 KB at 1M) rather
  // than in its row: every image and byline document lists or counts its live articles,
  // and reading those rows back was 77,214 of the 97,247 row page reads of a rebuild of
  // 400,000 articles (the image documents' final render; ~300,000 reads at 1M).
  let retractedBits = new Int32Array(Math.ceil(initialCapacity / 32));
  const rows = createPageFile<RowPage>({
    pageBytes: ROWS_PER_PAGE * ROW_BYTES,
    cachePages: options.cachePages?.rows ?? 1024,
    views: (bytes) => ({
      f64: new Float64Array(bytes),
      u32: new Uint32Array(bytes),
      u8: new Uint8Array(bytes),
    }),
  });
  /**
   * References: an article's bylines then its images, in a region of `refRoom` places
   * starting at `refStart` (a revision that adds references moves it to the end), never
   * across a page boundary.
   */
  const pool = createPageFile<Int32Array>({
    pageBytes: REFS_PER_PAGE * 4,
    cachePages: options.cachePages?.refs ?? 256,
    views: (bytes) => new Int32Array(bytes),
  });
  let poolEnd = 0;
  let closed = false;
  const open = () => {
    if (closed) throw new Error('article table is closed');
  };
  // Where a row's fields are in its page's views (f64: 5 per row, u32: 10, u8: 40).
  const F64 = ROW_BYTES / 8;
  const U32 = ROW_BYTES / 4;
  const row = (slot: number) => {
    open();
    return rows.page(slot >>> ROW_SHIFT);
  };
  const f64 = (slot: number, field: number) => row(slot).f64[(slot & ROW_MASK) * F64 + field]!;
  const u32 = (slot: number, field: number) => row(slot).u32[(slot & ROW_MASK) * U32 + 6 + field]!;
  const u8 = (slot: number, field: number) => row(slot).u8[(slot & ROW_MASK) * ROW_BYTES + 36 + field]!;
  const refs = (slot: number, from: number, count: number) => {
    const start = u32(slot, 2) + from;
    return pool.page(start >>> REF_SHIFT).subarray(start & REF_MASK, (start & REF_MASK) + count);
  };

  const idAt = (slot: number) => idBytes.toString('latin1', idStart[slot]!, idStart[slot + 1]!);
  const hashOfString = (id: string) => {
    let hash = FNV_OFFSET;
    for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), FNV_PRIME);
    return hash >>> 0;
  };
  const hashOfSlot = (slot: number) => {
    let hash = FNV_OFFSET;
    for (let i = idStart[slot]!; i < idStart[slot + 1]!; i++) hash = Math.imul(hash ^ idBytes[i]!, FNV_PRIME);
    return hash >>> 0;
  };
  const idEquals = (slot: number, id: string) => {
    const start = idStart[slot]!;
    if (idStart[slot + 1]! - start !== id.length) return false;
    for (let i = 0; i < id.length; i++) if (idBytes[start + i] !== id.charCodeAt(i)) return false;
    return true;
  };
  /** Where `id` is in `hashed`, or the empty place it would take. */
  const place = (id: string) => {
    const mask = hashed.length - 1;
    let at = hashOfString(id) & mask;
    for (;;) {
      const entry = hashed[at]!;
      if (entry === 0 || idEquals(entry - 1, id)) return at;
      at = (at + 1) & mask;
    }
  };
  const rehash = () => {
    hashed = new Int32Array(hashed.length * 2);
    const mask = hashed.length - 1;
    for (let slot = 0; slot < size; slot++) {
      let at = hashOfSlot(slot) & mask;
      while (hashed[at] !== 0) at = (at + 1) & mask;
      hashed[at] = slot + 1;
    }
  };

  return {
    get size() {
      return size;
    },
    slotOf(id) {
      open();
      const entry = hashed[place(id)]!;
      return entry === 0 ? undefined : entry - 1;
    },
    intern(id) {
      open();
      let at = place(id);
      if (hashed[at] !== 0) return hashed[at]! - 1;
      for (let i = 0; i < id.length; i++) {
        if (id.charCodeAt(i) > 0x7f) throw new RangeError(`article id ${JSON.stringify(id)} is not ASCII`);
      }
      const slot = size++;
      idStart = grow(idStart, size + 1);
      const start = idStart[slot]!;
      if (start + id.length > idBytes.length) {
        const bigger = Buffer.alloc(Math.max(Math.ceil(idBytes.length * 1.5), start + id.length + 128));
        idBytes.copy(bigger);
        idBytes = bigger;
      }
      idBytes.write(id, start, 'latin1');
      idStart[size] = start + id.length;
      if (size * 2 > hashed.length) {
        rehash();
        at = place(id);
      }
      hashed[at] = slot + 1;
      return slot;
    },
    id(slot) {
      open();
      return idAt(slot);
    },
    firstSeq: (slot) => f64(slot, 0),
    lastSeq: (slot) => f64(slot, 1),
    publishedAtMs: (slot) => f64(slot, 2),
    events: (slot) => u32(slot, 0),
    revisions: (slot) => u32(slot, 1),
    retracted(slot) {
      open();
      return ((retractedBits[slot >>> 5] ?? 0) & (1 << (slot & 31))) !== 0;
    },
    bylines: (slot) => refs(slot, 0, u8(slot, 1)),
    images: (slot) => refs(slot, u8(slot, 1), u8(slot, 2)),
    set(slot, row) {
      open();
      const { bylines, images } = row;
      if (bylines.length > 255 || images.length > 255) {
        throw new RangeError(`article ${idAt(slot)}: more than 255 bylines or images`);
      }
      const count = bylines.length + images.length;
      // Copy first: the row's arrays may be views of the pool region about to be rewritten.
      for (let i = 0; i < bylines.length; i++) scratch[i] = bylines[i]!;
      for (let i = 0; i < images.length; i++) scratch[bylines.length + i] = images[i]!;
      const word = slot >>> 5;
      const bit = 1 << (slot & 31);
      retractedBits = grow(retractedBits, word + 1);
      retractedBits[word] = row.retracted ? retractedBits[word]! | bit : retractedBits[word]! & ~bit;
      const page = rows.page(slot >>> ROW_SHIFT, true);
      const f = (slot & ROW_MASK) * F64;
      const u = (slot & ROW_MASK) * U32 + 6;
      const b = (slot & ROW_MASK) * ROW_BYTES + 36;
      page.f64[f] = row.firstSeq;
      page.f64[f + 1] = row.lastSeq;
      page.f64[f + 2] = row.publishedAtMs;
      page.u32[u] = row.events;
      page.u32[u + 1] = row.revisions;
      page.u8[b + 1] = bylines.length;
      page.u8[b + 2] = images.length;
      if (count > page.u8[b + 3]!) {
        // A new region at the end of the pool, on the next page if it would cross this one's end.
        if ((poolEnd & REF_MASK) + count > REFS_PER_PAGE) poolEnd = (poolEnd | REF_MASK) + 1;
        page.u32[u + 2] = poolEnd;
        page.u8[b + 3] = count;
        poolEnd += count;
      }
      const start = page.u32[u + 2]!;
      pool.page(start >>> REF_SHIFT, true).set(scratch.subarray(0, count), start & REF_MASK);
    },
    stats: () => ({ rows: rows.stats(), refs: pool.stats() }),
    close() {
      if (closed) return;
      closed = true;
      rows.close();
      pool.close();
    },
  };
}
