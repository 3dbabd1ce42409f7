import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '../schemas/names.ts';
import { bucketRead } from './contentLog/request.ts';
import { openObjectStore } from './stores.ts';

/**
 * The content-addressed store of image originals and renditions: a blob's address is
 * the sha256 of its bytes (`sha256:<hex>`), so writing the same bytes twice is a no-op,
 * a blob never changes, and any copy can be verified against the digest the events
 * carry. Two backends behind one interface: a directory (one machine, the default) and a
 * JetStream object store (every host sees it, replicated like the log).
 */
export interface BlobStore {
  /** Where the blobs are, for messages: a directory, or `nats:<bucket>`. */
  readonly root: string;
  /** Store bytes; returns the digest and whether they were already there. */
  put(bytes: Uint8Array): Promise<{ digest: string; bytes: number; existed: boolean }>;
  has(digest: string): Promise<boolean>;
  read(digest: string): Promise<Buffer>;
  /** The blob's bytes as a stream (for the HTTP server), or undefined when it is not stored. */
  stream(digest: string): Promise<Readable | undefined>;
  /** Its first `bytes` bytes (to sniff a media type), or undefined when it is not stored. */
  head(digest: string, bytes: number): Promise<Uint8Array | undefined>;
  size(digest: string): Promise<number | undefined>;
  /** Remove a blob for good (an erased image's original and renditions); false when it was not there. */
  delete(digest: string): Promise<boolean>;
  /** Every stored digest (for `blobs copy`), in no particular order. */
  list(): AsyncIterable<string>;
}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function hexOf(digest: string): string {
  const hex = DIGEST.exec(digest)?.[1];
  if (!hex) throw new Error(`not a blob digest: ${JSON.stringify(digest)}`);
  return hex;
}

/** Where the directory store keeps a blob: `<root>/sha256/ab/cd/<hex>`. */
export function blobPath(root: string, digest: string): string {
  const hex = hexOf(digest);
  return join(root, 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex);
}

/**
 * A directory (see {@link blobPath}). Writes are atomic (temp file, fsync, rename), so a
 * reader never sees half a file.
 */
export function createBlobStore(root: string): BlobStore {
  const pathOf = (digest: string) => blobPath(root, digest);
  const size = async (digest: string) => {
    try {
      return (await stat(pathOf(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  async function* list(): AsyncIterable<string> {
    const top = join(root, 'sha256');
    const dirs = async (path: string) => (await readdir(path).catch(() => [] as string[])).sort();
    for (const a of await dirs(top)) {
      for (const b of await dirs(join(top, a))) {
        for (const hex of await dirs(join(top, a, b))) {
          if (/^[0-9a-f]{64}$/.test(hex)) yield `sha256:${hex}`;
        }
      }
    }
  }
  return {
    root,
    size,
    list,
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
    async stream(digest) {
      return (await size(digest)) === undefined ? undefined : createReadStream(pathOf(digest));
    },
    async head(digest, bytes) {
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(pathOf(digest), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      try {
        const buffer = Buffer.alloc(bytes);
        const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },
  };
}

/** Options of {@link createNatsBlobStore}. */
export interface NatsBlobStoreOptions {
  nc: NatsConnection;
  names: Names;
  /** Replicas of the bucket when this process creates it (default 1). */
  replicas?: number;
}

/**
 * A JetStream object store, `<NS>_BLOBS`: one object per blob, named by its digest. The
 * object store splits a blob into chunks and checks its own sha256 on every read; we
 * check ours (the name) on write. Every host with the NATS URL sees the same blobs, and
 * with `PRESSLOG_REPLICAS=3` they survive the loss of a node, like the log.
 */
export function createNatsBlobStore(options: NatsBlobStoreOptions): BlobStore {
  const { nc, names } = options;
  let bucket: Promise<ObjectStore> | undefined;
  const store = () => {
    bucket ??= openObjectStore(nc, names, 'blobs', options.replicas);
    bucket.catch(() => {
      bucket = undefined;
    });
    return bucket;
  };
  const size = async (digest: string) => {
    hexOf(digest);
    const info = await bucketRead(nc, async () => (await store()).info(digest));
    return info && !info.deleted ? info.size : undefined;
  };
  async function stream(digest: string): Promise<Readable | undefined> {
    hexOf(digest);
    const found = await bucketRead(nc, async () => (await store()).get(digest));
    if (!found) return undefined;
    return Readable.fromWeb(found.data as unknown as WebReadableStream<Uint8Array>);
  }
  return {
    root: `nats:${names.bucket('blobs')}`,
    size,
    stream,
    has: async (digest) => (await size(digest)) !== undefined,
    async put(bytes) {
      const digest = digestOf(bytes);
      if ((await size(digest)) === bytes.byteLength)
        return { digest, bytes: bytes.byteLength, existed: true };
      await (await store()).putBlob({ name: digest }, bytes);
      return { digest, bytes: bytes.byteLength, existed: false };
    },
    async read(digest) {
      hexOf(digest);
      const bytes = await bucketRead(nc, async () => (await store()).getBlob(digest));
      if (!bytes)
        throw Object.assign(new Error(`no blob ${digest} in ${names.bucket('blobs')}`), { code: 'ENOENT' });
      return Buffer.from(bytes);
    },
    async head(digest, bytes) {
      const readable = await stream(digest);
      if (!readable) return undefined;
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of readable) {
        chunks.push(chunk as Buffer);
        length += (chunk as Buffer).length;
        if (length >= bytes) break;
      }
      readable.destroy();
      return Buffer.concat(chunks).subarray(0, bytes);
    },
    async *list() {
      for (const info of await bucketRead(nc, async () => (await store()).list()))
        if (!info.deleted && DIGEST.test(info.name)) yield info.name;
    },
    async delete(digest) {
      // The object store purges the chunks and keeps a delete marker: the bytes are gone.
      if ((await size(digest)) === undefined) return false;
      await (await store()).delete(digest);
      return true;
    },
  };
}

/** What {@link copyBlobs} did. */
export interface BlobCopyStats {
  copied: number;
  /** Already in the target (a resumed copy skips what an earlier run copied). */
  skipped: number;
  bytes: number;
  /** Blobs whose bytes do not match their digest: not copied. */
  corrupt: string[];
}

/**
 * Copy every blob of `from` that `to` lacks, verifying each against its digest first:
 * moving an archive between the directory and the object store. Resumable: what is
 * already in `to` is skipped, so an interrupted copy is simply run again.
 */
export async function copyBlobs(
  from: BlobStore,
  to: BlobStore,
  options: { signal?: AbortSignal; onProgress?: (stats: BlobCopyStats) => void } = {},
): Promise<BlobCopyStats> {
  const stats: BlobCopyStats = { copied: 0, skipped: 0, bytes: 0, corrupt: [] };
  for await (const digest of from.list()) {
    options.signal?.throwIfAborted();
    if (await to.has(digest)) {
      stats.skipped++;
    } else {
      const bytes = await from.read(digest);
      if (digestOf(bytes) !== digest) {
        stats.corrupt.push(digest);
        continue;
      }
      await to.put(bytes);
      stats.copied++;
      stats.bytes += bytes.byteLength;
    }
    options.onProgress?.(stats);
  }
  return stats;
}
