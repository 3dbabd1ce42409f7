import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep, win32 } from 'node:path';
import type { BlobStore } from '../log/blobStore.ts';
import { digestOf } from '../log/blobStore.ts';
import { InvalidRecordError } from '../schemas/errors.ts';
import type { BlobRef } from '../schemas/imageEvents.ts';

/** 50 MiB: above any press photo's original, below what an image worker should be asked to decode. */
export const DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024;

const ascii = (bytes: Uint8Array, start: number, end: number) =>
  Buffer.from(bytes.subarray(start, end)).toString('latin1');

const HEIF_BRANDS: Record<string, string> = {
  avif: 'image/avif',
  avis: 'image/avif',
  heic: 'image/heic',
  heix: 'image/heic',
  heim: 'image/heic',
  heis: 'image/heic',
  hevc: 'image/heic-sequence',
  hevx: 'image/heic-sequence',
  mif1: 'image/heif',
  msf1: 'image/heif-sequence',
};

/**
 * The media type of an image by its leading bytes (pure), or undefined when they are
 * not one of the formats the image workers decode: JPEG, PNG, GIF, WebP, TIFF,
 * AVIF/HEIF. The extension is never trusted.
 */
export function sniffImageType(bytes: Uint8Array): string | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && ascii(bytes, 0, 8) === '\x89PNG\r\n\x1a\n') return 'image/png';
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a'))
    return 'image/gif';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP')
    return 'image/webp';
  if (bytes.length >= 4 && (ascii(bytes, 0, 4) === 'II*\0' || ascii(bytes, 0, 4) === 'MM\0*'))
    return 'image/tiff';
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp') return HEIF_BRANDS[ascii(bytes, 8, 12)];
  return undefined;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

export interface LoadImageOptions {
  /** Real path of the ingest root; the image must resolve inside it. */
  root: string;
  /** The record file the `file` path is relative to. */
  recordFile: string;
  /** The record's `file` field. */
  file: string;
  maxBytes?: number;
  /** Where the original goes; without it (dry run) the digest is computed and nothing is stored. */
  blobs?: BlobStore;
}

export interface LoadedImage extends BlobRef {
  /** Where the file was read from. */
  path: string;
  /** True when the blob store already held these bytes. */
  existed: boolean;
}

/**
 * Read an image record's file, check it and store it content-addressed. Refuses, with
 * an InvalidRecordError on field `file`: absolute paths, paths that leave the ingest
 * root lexically (`..`) or through a symlink (checked on the real path), anything but a
 * regular file, files over the size cap (checked on the opened file before reading,
 * so a 5 GB file is never read), and bytes that are not a known image format.
 */
export async function loadImage(options: LoadImageOptions): Promise<LoadedImage> {
  const { root, recordFile, file, maxBytes = DEFAULT_MAX_IMAGE_BYTES, blobs } = options;
  const fail = (message: string) => new InvalidRecordError(message, { field: 'file' });
  if (file.includes('\0')) throw fail('contains a NUL character');
  if (isAbsolute(file) || win32.isAbsolute(file)) {
    throw fail(`${JSON.stringify(file)} is an absolute path; image paths are relative to the record file`);
  }
  const recordDir = await realpath(dirname(recordFile));
  const target = resolve(recordDir, file);
  if (!inside(root, target)) throw fail(`${JSON.stringify(file)} points outside the ingest root ${root}`);
  let real: string;
  try {
    real = await realpath(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw fail(
      code === 'ENOENT'
        ? `${JSON.stringify(file)}: no such file (looked at ${target})`
        : `${JSON.stringify(file)}: cannot read (${code})`,
    );
  }
  if (!inside(root, real)) {
    throw fail(`${JSON.stringify(file)} resolves to ${real}, outside the ingest root ${root} (symlink)`);
  }
  // Open the resolved path without following a symlink swapped in since, then check
  // and read through the same handle.
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW).catch(
    (err: NodeJS.ErrnoException) => {
      throw fail(`${JSON.stringify(file)}: cannot open (${err.code})`);
    },
  );
  let bytes: Buffer;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw fail(`${JSON.stringify(file)} is not a regular file`);
    if (info.size > maxBytes) {
      throw fail(`${JSON.stringify(file)} is ${info.size} bytes, over the ${maxBytes}-byte image size cap`);
    }
    if (info.size === 0) throw fail(`${JSON.stringify(file)} is empty, not an image`);
    bytes = await handle.readFile();
  } finally {
    await handle.close();
  }
  if (bytes.length > maxBytes)
    throw fail(`${JSON.stringify(file)} grew over the ${maxBytes}-byte image size cap while read`);
  const mediaType = sniffImageType(bytes);
  if (!mediaType) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex');
    throw fail(
      `${JSON.stringify(file)} is not an image (JPEG, PNG, GIF, WebP, TIFF, AVIF or HEIF); it starts with 0x${head}`,
    );
  }
  if (!blobs) return { digest: digestOf(bytes), bytes: bytes.length, mediaType, path: real, existed: false };
  const stored = await blobs.put(bytes);
  return { digest: stored.digest, bytes: stored.bytes, mediaType, path: real, existed: stored.existed };
}
