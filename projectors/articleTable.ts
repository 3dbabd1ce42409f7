/**
 * The article records of the projection state in columns: one slot per article, numbers
 * in typed arrays, byline and image references as slot numbers of their own tables in one
 * shared pool. A record as objects (a Map entry, an object, two arrays of id strings) held
 * ~400 bytes per article and millions of objects for the garbage collector to trace on
 * every full collection; here it is ~90 bytes (ids included) in a handful of arrays, which
 * is what keeps a rebuild of a large archive from slowing down as its state grows.
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
  /** Byline slots the article references, in its own order (a view: copy before changing the table). */
  bylines(slot: number): Int32Array;
  /** Image slots the article references (a view, as above). */
  images(slot: number): Int32Array;
  set(slot: number, row: ArticleRow): void;
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

const scratch = new Int32Array(510);

function grow<T extends Float64Array | Uint32Array | Uint8Array | Int32Array>(array: T, size: number): T {
  if (size <= array.length) return array;
  // By half again, not double: less slack in the columns of a large table, still amortised O(1).
  let length = Math.max(array.length, 4);
  while (length < size) length = Math.ceil(length * 1.5);
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array);
  return bigger;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Create an empty article table. */
export function createArticleTable(initialCapacity = 1024): ArticleTable {
  // Ids as ASCII bytes in one pool (ids are 1-128 of [A-Za-z0-9_-]), the id of slot s at
  // idStart[s]..idStart[s+1], found through an open-addressing hash table of slot + 1
  // (0: empty) at most half full: ~25 bytes per article where a Map from id strings to
  // slots, and the strings, took ~75.
  let size = 0;
  let idBytes = Buffer.alloc(initialCapacity * 16);
  let idStart = new Uint32Array(initialCapacity + 1);
  let hashed = new Int32Array(2 ** Math.ceil(Math.log2(Math.max(2, initialCapacity * 2))));
  let firstSeq = new Float64Array(initialCapacity);
  let lastSeq = new Float64Array(initialCapacity);
  let publishedAtMs = new Float64Array(initialCapacity);
  let events = new Uint32Array(initialCapacity);
  let revisions = new Uint32Array(initialCapacity);
  let retracted = new Uint8Array(initialCapacity);
  /** Where the article's references start in `pool`: its bylines, then its images. */
  let refStart = new Uint32Array(initialCapacity);
  let bylineCount = new Uint8Array(initialCapacity);
  let imageCount = new Uint8Array(initialCapacity);
  /** Capacity of the article's region in `pool` (a revision that adds references moves it to the end). */
  let refRoom = new Uint8Array(initialCapacity);
  let pool = new Int32Array(initialCapacity * 2);
  let poolEnd = 0;

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
      const entry = hashed[place(id)]!;
      return entry === 0 ? undefined : entry - 1;
    },
    intern(id) {
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
      firstSeq = grow(firstSeq, size);
      lastSeq = grow(lastSeq, size);
      publishedAtMs = grow(publishedAtMs, size);
      events = grow(events, size);
      revisions = grow(revisions, size);
      retracted = grow(retracted, size);
      refStart = grow(refStart, size);
      bylineCount = grow(bylineCount, size);
      imageCount = grow(imageCount, size);
      refRoom = grow(refRoom, size);
      return slot;
    },
    id: idAt,
    firstSeq: (slot) => firstSeq[slot]!,
    lastSeq: (slot) => lastSeq[slot]!,
    events: (slot) => events[slot]!,
    revisions: (slot) => revisions[slot]!,
    retracted: (slot) => retracted[slot] === 1,
    publishedAtMs: (slot) => publishedAtMs[slot]!,
    bylines: (slot) => pool.subarray(refStart[slot]!, refStart[slot]! + bylineCount[slot]!),
    images(slot) {
      const start = refStart[slot]! + bylineCount[slot]!;
      return pool.subarray(start, start + imageCount[slot]!);
    },
    set(slot, row) {
      const { bylines, images } = row;
      if (bylines.length > 255 || images.length > 255) {
        throw new RangeError(`article ${idAt(slot)}: more than 255 bylines or images`);
      }
      firstSeq[slot] = row.firstSeq;
      lastSeq[slot] = row.lastSeq;
      events[slot] = row.events;
      revisions[slot] = row.revisions;
      retracted[slot] = row.retracted ? 1 : 0;
      publishedAtMs[slot] = row.publishedAtMs;
      const refs = bylines.length + images.length;
      // Copy first: the row's arrays may be views of the pool region about to be rewritten.
      for (let i = 0; i < bylines.length; i++) scratch[i] = bylines[i]!;
      for (let i = 0; i < images.length; i++) scratch[bylines.length + i] = images[i]!;
      if (refs > refRoom[slot]!) {
        pool = grow(pool, poolEnd + refs);
        refStart[slot] = poolEnd;
        refRoom[slot] = refs;
        poolEnd += refs;
      }
      pool.set(scratch.subarray(0, refs), refStart[slot]!);
      bylineCount[slot] = bylines.length;
      imageCount[slot] = images.length;
    },
  };
}
