import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A scratch file for state kept out of memory (see recordFile.ts, pageFile.ts): created
 * in `dir` (default: the system's temporary directory), readable and writable, and
 * unlinked as soon as it is open, so nothing is left behind whatever way the process
 * ends. Its descriptor is held until `close()`: the owner must call it (the page and
 * record files do from their own `close()`); nothing closes it behind the owner's back.
 */
export interface TempFile {
  write(bytes: Uint8Array, length: number, position: number): void;
  /** Read exactly `length` bytes at `position` into `into`. */
  read(into: Uint8Array, length: number, position: number): void;
  /** Close the descriptor (idempotent); reads and writes throw afterwards. */
  close(): void;
}

let files = 0;

/** Create and open a temporary file. */
export function openTempFile(dir: string = tmpdir()): TempFile {
  const path = join(dir, `presslog-state-${process.pid}-${++files}-${Date.now()}`);
  let descriptor: number | undefined = openSync(path, 'wx+', 0o600);
  unlinkSync(path);
  const fd = () => {
    if (descriptor === undefined) throw new Error('temporary file is closed');
    return descriptor;
  };
  return {
    write(bytes, length, position) {
      let done = 0;
      while (done < length) done += writeSync(fd(), bytes, done, length - done, position + done);
    },
    read(into, length, position) {
      let done = 0;
      while (done < length) {
        const n = readSync(fd(), into, done, length - done, position + done);
        if (n === 0) throw new Error(`temporary file: unexpected end at ${position + done}`);
        done += n;
      }
    },
    close() {
      if (descriptor === undefined) return;
      const open = descriptor;
      descriptor = undefined;
      closeSync(open);
    },
  };
}
