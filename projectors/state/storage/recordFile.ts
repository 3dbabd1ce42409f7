import { grow } from './growArray.ts';
import { openTempFile, type TempFile } from './tempFile.ts';

/**
 * Values by slot number (0, 1, 2, ...), kept as JSON in a temporary file instead of the
 * heap, with a bounded cache of parsed values in front of it. The projection state keeps
 * the latest state of every byline and image here: ~1.4 KB of heap each when held as
 * objects, 72 MB for the 50,000 of a million-event log, and growing with the archive.
 * Here the memory is the cache, the write buffer and 12 bytes per value (where it is); the
 * rest is the kernel's page cache, not the process's.
 *
 * Writes append (a value changed is written anew, its old bytes become garbage) through a
 * write buffer; the file is only created when the buffer first fills, so a small state
 * never touches the disk, and it is unlinked as soon as it is open, so nothing is left
 * behind whatever way the process ends. When garbage is most of the file, the live
 * values are copied into a new one. Reads are synchronous `pread`s: the projection state
 * is a synchronous structure, and one value is a few hundred bytes the page cache holds.
 *
 * Values are shared with the caller, not copied: they must not be changed after `set`
 * nor after `get` (the projection state only ever replaces its states).
 */
export interface RecordFile<T> {
  /** The value stored at `slot`, or undefined when none was. */
  get(slot: number): T | undefined;
  /** Like `get`, but leaves the cache as it is: for a full scan, which would only evict what is in use. */
  peek(slot: number): T | undefined;
  set(slot: number, value: T): void;
  stats(): RecordFileStats;
  /** Close the file (idempotent); the store is unusable afterwards. */
  close(): void;
}

export interface RecordFileStats {
  /** Slots holding a value. */
  values: number;
  /** Bytes of the current values. */
  liveBytes: number;
  /** Bytes written to the file and the buffer, garbage included. */
  fileBytes: number;
  /** Values in the cache, and their size as JSON. */
  cached: number;
  cachedBytes: number;
  /** Values read from the file (cache misses that the write buffer did not hold). */
  reads: number;
  compactions: number;
}

export interface RecordFileOptions {
  /** Where the file is created (default: the system's temporary directory). */
  dir?: string;
  /** Bytes buffered before a write to the file (default 1 MiB). */
  bufferBytes?: number;
  /**
   * Parsed values kept in the cache, a power of two (default 8192). The cache is
   * direct-mapped (slot modulo its size): slots are dense, so while there are no more
   * values than places every value stays cached, and a hit costs no bookkeeping.
   */
  cacheEntries?: number;
  /** Copy the live values to a new file when the file is over this size and more than half garbage (default 64 MiB). */
  compactBytes?: number;
}

/** Create an empty record file. */
export function createRecordFile<T>(options: RecordFileOptions = {}): RecordFile<T> {
  const { dir } = options;
  const cacheEntries = options.cacheEntries ?? 8192;
  if (!Number.isInteger(Math.log2(cacheEntries)))
    throw new RangeError(`cacheEntries ${cacheEntries}: not a power of two`);
  const cacheMask = cacheEntries - 1;
  const compactBytes = options.compactBytes ?? 64 * 1024 * 1024;
  const buffer = Buffer.allocUnsafe(options.bufferBytes ?? 1024 * 1024);
  /** File offset of the buffer's first byte: the bytes before it are in the file. */
  let bufferAt = 0;
  let buffered = 0;
  let offsets = new Float64Array(0);
  /** Length of the slot's JSON; 0: no value. */
  let lengths = new Uint32Array(0);
  let values = 0;
  let liveBytes = 0;
  let reads = 0;
  let compactions = 0;
  let closed = false;
  let file: TempFile | undefined;
  /** Slot cached at each place of the cache (-1: none), and its value. */
  const cachedSlots = new Int32Array(cacheEntries).fill(-1);
  const cachedValues: (T | undefined)[] = new Array(cacheEntries).fill(undefined);
  let scratch = Buffer.allocUnsafe(4096);

  /** The slot's JSON bytes, from the buffer or the file (valid until the next read or write). */
  function bytesOf(slot: number): Buffer {
    const at = offsets[slot]!;
    const length = lengths[slot]!;
    if (at >= bufferAt) return buffer.subarray(at - bufferAt, at - bufferAt + length);
    if (scratch.length < length) scratch = Buffer.allocUnsafe(Math.max(length, scratch.length * 2));
    file!.read(scratch, length, at);
    reads++;
    return scratch.subarray(0, length);
  }

  function flush(): void {
    if (buffered === 0) return;
    file ??= openTempFile(dir);
    file.write(buffer, buffered, bufferAt);
    bufferAt += buffered;
    buffered = 0;
    if (bufferAt > compactBytes && bufferAt > 2 * liveBytes) compact();
  }

  /** Copy the live values, in slot order, to a new file. */
  function compact(): void {
    const next = openTempFile(dir);
    const out = Buffer.allocUnsafe(buffer.length);
    let written = 0;
    let used = 0;
    const drain = () => {
      next.write(out, used, written);
      written += used;
      used = 0;
    };
    for (let slot = 0; slot < lengths.length; slot++) {
      const length = lengths[slot]!;
      if (length === 0) continue;
      const bytes = bytesOf(slot);
      if (used + length > out.length) drain();
      if (length > out.length) {
        next.write(bytes, length, written);
        offsets[slot] = written;
        written += length;
        continue;
      }
      bytes.copy(out, used);
      offsets[slot] = written + used;
      used += length;
    }
    drain();
    file!.close();
    file = next;
    bufferAt = written;
    compactions++;
  }

  /** The slot's value parsed, or undefined when it has none. */
  function read(slot: number): T | undefined {
    if (slot >= lengths.length || lengths[slot] === 0) return undefined;
    return JSON.parse(bytesOf(slot).toString('utf8')) as T;
  }

  function usable(): void {
    if (closed) throw new Error('record file is closed');
  }

  const store: RecordFile<T> = {
    get(slot) {
      usable();
      const at = slot & cacheMask;
      if (cachedSlots[at] === slot) return cachedValues[at];
      const value = read(slot);
      if (value !== undefined) {
        cachedSlots[at] = slot;
        cachedValues[at] = value;
      }
      return value;
    },
    peek(slot) {
      usable();
      const at = slot & cacheMask;
      return cachedSlots[at] === slot ? cachedValues[at] : read(slot);
    },
    set(slot, value) {
      usable();
      const json = JSON.stringify(value);
      const length = Buffer.byteLength(json);
      if (length === 0 || length >= 2 ** 32) throw new RangeError(`record of ${length} bytes`);
      offsets = grow(offsets, slot + 1);
      lengths = grow(lengths, slot + 1);
      const previous = lengths[slot]!;
      if (previous === 0) values++;
      liveBytes += length - previous;
      if (buffered + length > buffer.length) flush();
      if (length > buffer.length) {
        file ??= openTempFile(dir);
        file.write(Buffer.from(json), length, bufferAt);
        offsets[slot] = bufferAt;
        bufferAt += length;
      } else {
        buffer.write(json, buffered);
        offsets[slot] = bufferAt + buffered;
        buffered += length;
      }
      lengths[slot] = length;
      cachedSlots[slot & cacheMask] = slot;
      cachedValues[slot & cacheMask] = value;
    },
    stats() {
      let cached = 0;
      let cachedBytes = 0;
      for (const slot of cachedSlots) {
        if (slot < 0) continue;
        cached++;
        cachedBytes += lengths[slot]!;
      }
      return {
        values,
        liveBytes,
        fileBytes: bufferAt + buffered,
        cached,
        cachedBytes,
        reads,
        compactions,
      };
    },
    close() {
      if (closed) return;
      closed = true;
      cachedValues.fill(undefined);
      file?.close();
    },
  };
  return store;
}
