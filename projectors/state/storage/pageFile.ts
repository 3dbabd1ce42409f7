import { openTempFile, type TempFile } from './tempFile.ts';

/**
 * Fixed-size pages numbered 0, 1, 2, ..., kept in a temporary file behind a bounded cache
 * of the pages last used: columns of numbers that would otherwise grow with the archive
 * in memory (the article table's, see articleTable.ts). A page never written reads as
 * zeros. Pages are written back only when the cache drops them, and the file is only
 * created then, so a table that fits the cache never touches the disk.
 *
 * `page(n)` returns the page's views (built by `views` once per buffer: a dropped page's
 * buffer and views are reused for the next page loaded). They show page n until
 * `cachePages` other pages were asked for since, and writes through them must be
 * announced with `page(n, true)` before they are made, or they may be lost.
 */
export interface PageFile<V> {
  page(n: number, forWrite?: boolean): V;
  stats(): PageFileStats;
  /** Close the file (idempotent); the page file is unusable afterwards. */
  close(): void;
}

export interface PageFileStats {
  cached: number;
  /** Pages read from the file, and written to it. */
  reads: number;
  writes: number;
}

export interface PageFileOptions<V> {
  pageBytes: number;
  /** Pages kept in memory (default 1,024). */
  cachePages?: number;
  /** The typed-array views a page is used through. */
  views(bytes: ArrayBuffer): V;
  /** Where the file is created (default: the system's temporary directory). */
  dir?: string;
}

interface Loaded<V> {
  readonly bytes: Uint8Array;
  readonly views: V;
  dirty: boolean;
}

/** Create a page file whose pages are all zeros. */
export function createPageFile<V>(options: PageFileOptions<V>): PageFile<V> {
  const { pageBytes, views, dir } = options;
  const cachePages = Math.max(2, options.cachePages ?? 1024);
  /** Loaded pages, least recently used first. */
  const cache = new Map<number, Loaded<V>>();
  /** Pages below this were written to the file at least once. */
  let pagesInFile = 0;
  let file: TempFile | undefined;
  let reads = 0;
  let writes = 0;
  let closed = false;
  // The page last asked for: most accesses are to the same page as the one before.
  let lastN = -1;
  let last: Loaded<V> | undefined;

  function drop(n: number, page: Loaded<V>): void {
    cache.delete(n);
    if (!page.dirty) return;
    file ??= openTempFile(dir);
    file.write(page.bytes, pageBytes, n * pageBytes);
    writes++;
    pagesInFile = Math.max(pagesInFile, n + 1);
  }

  function load(n: number): Loaded<V> {
    let page: Loaded<V>;
    if (cache.size < cachePages) {
      const buffer = new ArrayBuffer(pageBytes);
      page = { bytes: new Uint8Array(buffer), views: views(buffer), dirty: false };
    } else {
      // Reuse the memory of the page dropped: a new buffer per load was most of the
      // cost of a miss, in allocation and in the collections external memory triggers.
      const [oldest, dropped] = cache.entries().next().value as [number, Loaded<V>];
      drop(oldest, dropped);
      page = dropped;
      page.dirty = false;
    }
    // A page beyond the last one written, or one in a hole below it, reads as zeros.
    if (file && n < pagesInFile) {
      file.read(page.bytes, pageBytes, n * pageBytes);
      reads++;
    } else {
      page.bytes.fill(0);
    }
    cache.set(n, page);
    return page;
  }

  const pages: PageFile<V> = {
    page(n, forWrite = false) {
      if (n !== lastN) {
        if (closed) throw new Error('page file is closed');
        let page = cache.get(n);
        if (page) {
          cache.delete(n);
          cache.set(n, page);
        } else {
          page = load(n);
        }
        lastN = n;
        last = page;
      }
      if (forWrite) last!.dirty = true;
      return last!.views;
    },
    stats: () => ({ cached: cache.size, reads, writes }),
    close() {
      if (closed) return;
      closed = true;
      lastN = -1;
      last = undefined;
      cache.clear();
      file?.close();
    },
  };
  return pages;
}
