import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tinyPng } from '../../ingest/generate.ts';
import { loadImage, sniffImageType } from '../../ingest/imageFiles.ts';
import { createBlobStore, digestOf } from '../../log/blobStore.ts';
import { InvalidRecordError } from '../../schemas/errors.ts';

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('sniffImageType', () => {
  test('knows the formats the image workers decode, by their leading bytes', () => {
    const cases: Array<[Buffer, string | undefined]> = [
      [bytes([0xff, 0xd8, 0xff, 0xe0]), 'image/jpeg'],
      [tinyPng([1, 2, 3]), 'image/png'],
      [bytes('GIF89a', [1, 0]), 'image/gif'],
      [bytes('GIF87a'), 'image/gif'],
      [bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 '), 'image/webp'],
      [bytes('II*', [0]), 'image/tiff'],
      [bytes('MM', [0], '*'), 'image/tiff'],
      [bytes([0, 0, 0, 0x1c], 'ftypavif'), 'image/avif'],
      [bytes([0, 0, 0, 0x18], 'ftypheic'), 'image/heic'],
      [bytes([0, 0, 0, 0x18], 'ftypisom'), undefined],
      [bytes('%PDF-1.7'), undefined],
      [bytes('<svg xmlns="http://www.w3.org/2000/svg"/>'), undefined],
      [bytes('RIFF', [0, 0, 0, 0], 'WAVE'), undefined],
      [bytes([0xff, 0xd8]), undefined],
      [Buffer.alloc(0), undefined],
    ];
    for (const [input, expected] of cases)
      assert.equal(sniffImageType(input), expected, input.toString('hex'));
  });
});

describe('loadImage', () => {
  let root: string;
  let outside: string;
  const png = tinyPng([200, 100, 50]);
  before(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), 'presslog-img-root-')));
    outside = await realpath(await mkdtemp(join(tmpdir(), 'presslog-img-out-')));
    await mkdir(join(root, 'records', 'images'), { recursive: true });
    await writeFile(join(root, 'records', 'images', 'ok.png'), png);
    await writeFile(join(root, 'records', 'images', 'fake.jpg'), 'not an image at all');
    await writeFile(join(root, 'records', 'images', 'empty.jpg'), '');
    await writeFile(join(root, 'top.png'), png);
    await writeFile(join(outside, 'secret.png'), png);
    await symlink(join(outside, 'secret.png'), join(root, 'records', 'images', 'link-out.png'));
    await symlink(join(root, 'top.png'), join(root, 'records', 'images', 'link-in.png'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  const recordFile = () => join(root, 'records', 'a.ndjson');
  const load = (
    file: string,
    extra: { maxBytes?: number; blobs?: ReturnType<typeof createBlobStore> } = {},
  ) => loadImage({ root, recordFile: recordFile(), file, ...extra });

  async function refused(file: string, pattern: RegExp, extra: { maxBytes?: number } = {}) {
    await assert.rejects(load(file, extra), (err: unknown) => {
      assert.ok(err instanceof InvalidRecordError, String(err));
      assert.equal(err.location.field, 'file');
      assert.match(err.message, pattern);
      return true;
    });
  }

  test('reads a file relative to the record file, checks it and computes its digest (dry run: nothing stored)', async () => {
    const image = await load('images/ok.png');
    assert.deepEqual(
      { digest: image.digest, bytes: image.bytes, mediaType: image.mediaType },
      { digest: digestOf(png), bytes: png.length, mediaType: 'image/png' },
    );
  });

  test('stores the original content-addressed', async () => {
    const blobs = createBlobStore(join(root, '.blobs'));
    const first = await load('images/ok.png', { blobs });
    assert.equal(first.existed, false);
    assert.ok(await blobs.has(first.digest));
    assert.deepEqual(await blobs.read(first.digest), png);
    assert.equal((await load('images/ok.png', { blobs })).existed, true);
  });

  test('may go up inside the root, and follow a symlink that stays inside', async () => {
    assert.equal((await load('../top.png')).mediaType, 'image/png');
    assert.equal((await load('images/link-in.png')).mediaType, 'image/png');
  });

  test('refuses paths leaving the root: .., absolute, a symlink out', async () => {
    await refused('../../outside.png', /points outside the ingest root/);
    await refused(join(outside, 'secret.png'), /is an absolute path/);
    await refused('C:\\images\\x.png', /is an absolute path/);
    await refused('images/link-out.png', /resolves to .*outside the ingest root .*\(symlink\)/);
  });

  test('refuses a missing file, a directory, a non-image, an empty file and one over the cap', async () => {
    await refused('images/missing.jpg', /no such file/);
    await refused('images', /not a regular file/);
    await refused('images/fake.jpg', /is not an image .*starts with 0x6e6f7420616e2069/);
    await refused('images/empty.jpg', /is empty/);
    await refused('images/ok.png', new RegExp(`is ${png.length} bytes, over the 10-byte image size cap`), {
      maxBytes: 10,
    });
  });
});
