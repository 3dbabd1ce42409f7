import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import {
  classifySharpError,
  fitInside,
  hexColor,
  ImageRejectedError,
  inspectImage,
  planRenditions,
  processImage,
} from '../../ingest/images/renditions.ts';
import { TransientError } from '../../schemas/errors.ts';
import {
  photo,
  pngBomb,
  pngWithAlpha,
  rotatedJpeg,
  svgFile,
  textFile,
  truncatedJpeg,
  zeroBytes,
} from '../fixtures/images/craft.ts';

async function rejects(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ImageRejectedError, `expected ImageRejectedError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('rendition planning (pure)', () => {
  it('plans JPEG renditions for opaque images and PNG for images with alpha, plus WebP', () => {
    assert.deepEqual(
      planRenditions({ hasAlpha: false }).map((r) => [r.name, r.size, r.format]),
      [
        ['thumb', 200, 'jpeg'],
        ['medium', 800, 'jpeg'],
        ['webp', 800, 'webp'],
      ],
    );
    assert.deepEqual(
      planRenditions({ hasAlpha: true }, { thumb: 100, medium: 400 }).map((r) => [r.name, r.size, r.format]),
      [
        ['thumb', 100, 'png'],
        ['medium', 400, 'png'],
        ['webp', 400, 'webp'],
      ],
    );
  });

  it('fits the longest side inside the box and never enlarges', () => {
    assert.deepEqual(fitInside(1024, 819, 200), { width: 200, height: 160 });
    assert.deepEqual(fitInside(819, 1024, 800), { width: 640, height: 800 });
    assert.deepEqual(fitInside(150, 100, 800), { width: 150, height: 100 });
    assert.deepEqual(fitInside(10_000, 3, 200), { width: 200, height: 1 });
  });

  it('formats colours as #rrggbb', () => {
    assert.equal(hexColor({ r: 255, g: 0, b: 16 }), '#ff0010');
    assert.equal(hexColor({ r: 300, g: -4, b: 7.6 }), '#ff0008');
  });

  it('classifies sharp errors: the file is the problem, unless the machine is', () => {
    assert.equal(
      (classifySharpError(new Error('Input buffer contains unsupported image format')) as ImageRejectedError)
        .code,
      'not-an-image',
    );
    assert.equal(
      (classifySharpError(new Error('Input image exceeds pixel limit')) as ImageRejectedError).code,
      'too-many-pixels',
    );
    assert.equal(
      (classifySharpError(new Error('VipsJpeg: premature end of JPEG image')) as ImageRejectedError).code,
      'corrupt',
    );
    assert.ok(classifySharpError(new Error('vips_malloc: out of memory')) instanceof TransientError);
  });
});

describe('processImage on real and crafted images', () => {
  it('reads metadata and makes thumb, medium and WebP renditions of a real photo', async () => {
    const bytes = photo('nagasaki-boats');
    const meta = await sharp(bytes).metadata();
    const result = await processImage(bytes);
    assert.deepEqual(result.metadata, {
      width: meta.width,
      height: meta.height,
      format: 'jpeg',
      space: 'srgb',
      hasAlpha: false,
    });
    const byName = Object.fromEntries(result.renditions.map((r) => [r.name, r]));
    assert.deepEqual(Object.keys(byName), ['thumb', 'medium', 'webp']);
    assert.equal(Math.max(byName.thumb!.width, byName.thumb!.height), 200);
    assert.equal(Math.max(byName.medium!.width, byName.medium!.height), 800);
    assert.equal(byName.webp!.width, byName.medium!.width);
    assert.equal(byName.thumb!.mediaType, 'image/jpeg');
    assert.equal(byName.webp!.mediaType, 'image/webp');
    // Aspect ratio kept within a pixel.
    assert.ok(Math.abs(byName.medium!.height - (800 * meta.height) / meta.width) <= 1);
    for (const r of result.renditions) {
      const out = await sharp(r.bytes).metadata();
      assert.equal(out.width, r.width, r.name);
      assert.equal(out.height, r.height, r.name);
      assert.equal(`image/${out.format}`, r.mediaType, r.name);
      assert.ok(r.bytes.length < bytes.length, `${r.name} smaller than the original`);
    }
    assert.match(result.dominantColor, /^#[0-9a-f]{6}$/);
    assert.match(result.placeholder, /^data:image\/webp;base64,/);
    assert.ok(result.placeholder.length < 1_000, `placeholder is ${result.placeholder.length} chars`);
    const tiny = await sharp(Buffer.from(result.placeholder.split(',')[1]!, 'base64')).metadata();
    assert.equal(Math.max(tiny.width, tiny.height), 16);
  });

  it('renditions carry no metadata: no EXIF (author, GPS), XMP, IPTC or ICC of the original', async () => {
    const plain = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#808040' } })
      .jpeg()
      .toBuffer();
    const tagged = await sharp(plain)
      .withExif({
        IFD0: { Artist: 'Jane Source', Copyright: 'Jane Source 2026' },
        IFD3: {
          GPSLatitudeRef: 'N',
          GPSLatitude: '51/1 30/1 0/1',
          GPSLongitudeRef: 'W',
          GPSLongitude: '0/1 7/1 0/1',
        },
      })
      .jpeg()
      .toBuffer();
    const original = await sharp(tagged).metadata();
    assert.ok(original.exif?.toString('latin1').includes('Jane Source'), 'the test image carries EXIF');
    const result = await processImage(tagged);
    assert.equal(result.renditions.length, 3);
    for (const r of result.renditions) {
      const out = await sharp(r.bytes).metadata();
      assert.equal(out.exif, undefined, `${r.name}: EXIF`);
      assert.equal(out.xmp, undefined, `${r.name}: XMP`);
      assert.equal(out.iptc, undefined, `${r.name}: IPTC`);
      assert.equal(out.icc, undefined, `${r.name}: ICC`);
      assert.ok(!Buffer.from(r.bytes).toString('latin1').includes('Jane Source'), `${r.name}: bytes`);
    }
  });

  it('is deterministic: the same bytes give the same renditions', async () => {
    const bytes = photo('black-canyon');
    const [a, b] = await Promise.all([processImage(bytes), processImage(bytes)]);
    assert.deepEqual(
      a.renditions.map((r) => r.bytes.toString('base64')),
      b.renditions.map((r) => r.bytes.toString('base64')),
    );
    assert.equal(a.placeholder, b.placeholder);
  });

  it('applies the EXIF orientation: dimensions as displayed, pixels turned upright', async () => {
    const bytes = await rotatedJpeg();
    const stored = await sharp(bytes).metadata();
    assert.deepEqual([stored.width, stored.height, stored.orientation], [300, 200, 6]);
    const result = await processImage(bytes);
    assert.equal(result.metadata.orientation, 6);
    assert.deepEqual([result.metadata.width, result.metadata.height], [200, 300]);
    const thumb = result.renditions.find((r) => r.name === 'thumb')!;
    assert.deepEqual([thumb.width, thumb.height], [133, 200]);
    const out = await sharp(thumb.bytes).metadata();
    assert.equal(out.orientation, undefined, 'renditions are upright, no orientation tag left');
    // Red was on the stored left; turned clockwise it is on top.
    const { data, info } = await sharp(thumb.bytes).raw().toBuffer({ resolveWithObject: true });
    const pixel = (x: number, y: number) => [
      ...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3),
    ];
    const [tr, , tb] = pixel(66, 20);
    const [br, , bb] = pixel(66, 180);
    assert.ok(tr! > 200 && tb! < 60, `top is red, got ${pixel(66, 20)}`);
    assert.ok(bb! > 200 && br! < 60, `bottom is blue, got ${pixel(66, 180)}`);
  });

  it('keeps alpha: PNG and WebP renditions of a PNG with transparency', async () => {
    const result = await processImage(await pngWithAlpha());
    assert.equal(result.metadata.hasAlpha, true);
    assert.equal(result.metadata.format, 'png');
    assert.deepEqual(
      result.renditions.map((r) => [r.name, r.mediaType, r.width, r.height]),
      [
        ['thumb', 'image/png', 200, 150],
        ['medium', 'image/png', 400, 300],
        ['webp', 'image/webp', 400, 300],
      ],
    );
    for (const r of result.renditions) {
      const { data, info } = await sharp(r.bytes).raw().toBuffer({ resolveWithObject: true });
      assert.equal(info.channels, 4, `${r.name} has an alpha channel`);
      assert.equal(data[3], 0, `${r.name}: the corner stays transparent`);
    }
  });

  it('rejects a truncated JPEG as corrupt', async () => {
    await rejects(processImage(truncatedJpeg()), 'corrupt', /corrupt or truncated image: .*premature end/i);
  });

  it('rejects a text file named .jpg as not an image', async () => {
    await rejects(processImage(textFile()), 'not-an-image', /not an image/);
  });

  it('rejects a zero-byte file', async () => {
    await rejects(processImage(zeroBytes()), 'empty', /empty file/);
  });

  it('rejects a decompression bomb from its header, before decoding a pixel', async () => {
    const bomb = pngBomb();
    assert.ok(bomb.length < 2_000, `the bomb is ${bomb.length} bytes`);
    const started = performance.now();
    await rejects(
      processImage(bomb),
      'too-many-pixels',
      /decompression bomb: declares 100000x100000 = 10000000000 pixels, the limit is 100000000/,
    );
    assert.ok(performance.now() - started < 1_000, 'refused without decoding');
    // sharp's own limit stops it too if our header check were ever bypassed.
    await assert.rejects(sharp(bomb, { limitInputPixels: 100_000_000 }).raw().toBuffer(), /pixel limit/);
  });

  it('enforces the byte-size cap and the format allow-list', async () => {
    await rejects(
      processImage(photo(), { maxInputBytes: 1_000 }),
      'too-large',
      /file too large: \d+ bytes, the limit is 1000 bytes/,
    );
    await rejects(processImage(svgFile()), 'unsupported-format', /unsupported format svg/);
    await rejects(processImage(photo(), { maxInputPixels: 1_000 }), 'too-many-pixels', /the limit is 1000$/);
  });

  it('inspects headers without decoding', async () => {
    const meta = await inspectImage(await rotatedJpeg());
    assert.deepEqual(meta, {
      width: 200,
      height: 300,
      format: 'jpeg',
      orientation: 6,
      space: 'srgb',
      hasAlpha: false,
    });
  });
});
