import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A content-addressed directory of blobs (image originals and renditions): a blob's
 * address is the sha256 of its bytes, stored at `<root>/sha256/ab/cd/<hex>`. Writes are
 * atomic (temp file + rename), so a reader never sees half a file, and writing the same
 * bytes twice is a no-op. Events carry the digest, so any copy can be verified.
 */
export interface BlobStore {
  readonly root: string;
  /** Store bytes; returns the digest (`sha256:<hex>`) and whether they were already there. */
  put(bytes: Uint8Array): Promise<{ digest: string; bytes: number; existed: boolean }>;
  has(digest: string): Promise<boolean>;
  /** Path on disk of a stored blob (for sharp, sendfile). Throws on a malformed digest. */
  pathOf(digest: string): string;
  read(digest: string): Promise<Buffer>;
  stream(digest: string): ReadStream;
  size(digest: string): Promise<number | undefined>;
  /** Remove a blob for good (an erased image's original and renditions); false when it was not there. */
  delete(digest: string): Promise<boolean>;
}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function createBlobStore(root: string): BlobStore {
  const pathOf = (digest: string): string => {
    const hex = DIGEST.exec(digest)?.[1];
    if (!hex) throw new Error(`not a blob digest: ${JSON.stringify(digest)}`);
    return join(root, 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex);
  };
  const size = async (digest: string) => {
    try {
      return (await stat(pathOf(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  return {
    root,
    pathOf,
    size,
    has: async (digest) => (await size(digest)) !== undefined,
    async put(bytes) {
      const digest = digestOf(bytes);
      const target = pathOf(digest);
      if ((await size(digest)) === bytes.byteLength)
        return { digest, bytes: bytes.byteLength, existed: true };
      const dir = target.slice(0, target.lastIndexOf('/'));
      await mkdir(dir, { recursive: true });
      const temp = join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await rename(temp, target);
      } catch (err) {
        await unlink(temp).catch(() => {});
        throw err;
      }
      return { digest, bytes: bytes.byteLength, existed: false };
    },
    async delete(digest) {
      try {
        await unlink(pathOf(digest));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    },
    read: (digest) => readFile(pathOf(digest)),
    stream: (digest) => createReadStream(pathOf(digest)),
  };
}
