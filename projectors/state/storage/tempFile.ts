import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A scratch file for state kept out of memory (see recordFile.ts, pageFile.ts): created
 * in `dir` (default: the system's temporary directory), readable and writable, and
 * unlinked as soon as it is open, so nothing is left behind whatever way the process
 * ends. Its descriptor is closed by `close()`, or when `owner` is garbage collected.
 */
export interface TempFile {
  write(bytes: Uint8Array, length: number, position: number): void;
  /** Read exactly `length` bytes at `position` into `into`. */
  read(into: Uint8Array, length: number, position: number): void;
  close(): void;
}

// A file whose owner was dropped without close() (a projection state replaced by a
// restored one) still gives its descriptor back.
const descriptors = new FinalizationRegistry<{ fd: number | undefined }>((held) => {
  if (held.fd !== undefined) closeSync(held.fd);
});

let files = 0;

/** Create and open a temporary file owned by `owner`. */
export function openTempFile(owner: object, dir: string = tmpdir()): TempFile {
  const path = join(dir, `presslog-state-${process.pid}-${++files}-${Date.now()}`);
  const held: { fd: number | undefined } = { fd: openSync(path, 'wx+', 0o600) };
  unlinkSync(path);
  const token = {};
  descriptors.register(owner, held, token);
  const fd = () => {
    if (held.fd === undefined) throw new Error('temporary file is closed');
    return held.fd;
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
      if (held.fd === undefined) return;
      descriptors.unregister(token);
      closeSync(held.fd);
      held.fd = undefined;
    },
  };
}
