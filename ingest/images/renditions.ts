import sharp, { type Metadata, type Sharp } from 'sharp';
import { InvalidRecordError, TransientError } from '../../schemas/errors.ts';

/**
 * Image processing as a function of bytes and options: metadata, auto-orientation,
 * renditions, dominant colour and a tiny placeholder. No I/O besides sharp, which is a
 * library working on the bytes it is given; storing the results and recording them in
 * the log is the worker's job.
 */

/** Output formats a rendition can have. */
export type RenditionFormat = 'jpeg' | 'png' | 'webp';

/** One rendition to make: a name consumers rely on, the box its longest side fits in, a format. */
export interface RenditionSpec {
  name: string;
  /** Longest side in pixels; never enlarged past the original. */
  size: number;
  format: RenditionFormat;
  quality: number;
}

export interface RenditionSizes {
  /** Longest side of the thumbnail (default 200). */
  thumb: number;
  /** Longest side of the medium rendition and its WebP twin (default 800). */
  medium: number;
}

/** When sharp aborts on bad pixel data: sharp's own levels, from least to most sensitive. */
export type FailOn = 'none' | 'truncated' | 'error' | 'warning';

export interface ProcessImageOptions {
  /** Inputs larger than this many bytes are refused before decoding (default 50 MiB). */
  maxInputBytes?: number;
  /**
   * Inputs declaring more pixels (width x height) than this are refused before decoding
   * (default 100 MP): the guard against decompression bombs, which are tiny files that
   * declare enormous dimensions. Also passed to sharp as `limitInputPixels`.
   */
  maxInputPixels?: number;
  /**
   * sharp's `failOn` (default `'error'`): truncated and corrupt files fail loudly, while a
   * mere libjpeg warning (extraneous bytes before a marker, common in camera files) does not.
   */
  failOn?: FailOn;
  sizes?: Partial<RenditionSizes>;
  /** Longest side of the inline placeholder (default 16 px). */
  placeholderSize?: number;
  /** Input formats accepted (default: raster photo formats; SVG and PDF are refused). */
  acceptFormats?: readonly string[];
}

export const DEFAULT_PROCESS_OPTIONS = Object.freeze({
  maxInputBytes: 50 * 1024 * 1024,
  maxInputPixels: 100_000_000,
  failOn: 'error' as FailOn,
  sizes: Object.freeze({ thumb: 200, medium: 800 }),
  placeholderSize: 16,
  acceptFormats: Object.freeze(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']),
});

export interface ImageMetadata {
  /** Width as displayed, after applying the EXIF orientation. */
  width: number;
  /** Height as displayed, after applying the EXIF orientation. */
  height: number;
  /** sharp's format name of the input: jpeg, png, webp, gif, tiff, heif... */
  format: string;
  /** EXIF orientation tag (1-8) when the file carries one. */
  orientation?: number;
  /** Colour space interpretation of the input (srgb, cmyk, b-w...). */
  space?: string;
  hasAlpha: boolean;
}

export interface RenditionOutput {
  name: string;
  bytes: Buffer;
  mediaType: string;
  width: number;
  height: number;
}

export interface ProcessedImage {
  metadata: ImageMetadata;
  renditions: RenditionOutput[];
  /** `#rrggbb`. */
  dominantColor: string;
  /** `data:image/webp;base64,...`, a few hundred bytes. */
  placeholder: string;
}

/** Why an image can never be processed, as a stable code next to the human message. */
export type RejectCode =
  | 'empty'
  | 'too-large'
  | 'not-an-image'
  | 'unsupported-format'
  | 'too-many-pixels'
  | 'corrupt';

/**
 * A file that can never become renditions, however often it is retried: empty, too big,
 * not an image, a decompression bomb, corrupt or truncated. The worker turns it into
 * BullMQ's UnrecoverableError and an ImageProcessingFailed event.
 */
export class ImageRejectedError extends InvalidRecordError {
  override name = 'ImageRejectedError';
  constructor(
    readonly code: RejectCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, { field: 'original' }, options);
  }
}

const MEDIA_TYPES: Record<RenditionFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

const QUALITY: Record<RenditionFormat, number> = { jpeg: 80, png: 100, webp: 75 };

/**
 * Which renditions to make for an image (pure). Every image gets the same names, so
 * consumers can rely on them: `thumb` and `medium` in the original's family (JPEG for
 * opaque images, PNG when there is an alpha channel, since JPEG would flatten it) and
 * `webp`, the medium size in WebP (which keeps alpha and is smaller).
 */
export function planRenditions(
  image: { hasAlpha: boolean },
  sizes: RenditionSizes = DEFAULT_PROCESS_OPTIONS.sizes,
): RenditionSpec[] {
  const family: RenditionFormat = image.hasAlpha ? 'png' : 'jpeg';
  return [
    { name: 'thumb', size: sizes.thumb, format: family, quality: QUALITY[family] },
    { name: 'medium', size: sizes.medium, format: family, quality: QUALITY[family] },
    { name: 'webp', size: sizes.medium, format: 'webp', quality: QUALITY.webp },
  ];
}

/** Dimensions of an image fitted inside a `size` x `size` box, never enlarged (pure). */
export function fitInside(width: number, height: number, size: number): { width: number; height: number } {
  const longest = Math.max(width, height);
  if (longest <= size) return { width, height };
  const scale = size / longest;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** `#rrggbb` of an sRGB triple (pure). */
export function hexColor(rgb: { r: number; g: number; b: number }): string {
  const part = (v: number) =>
    Math.max(0, Math.min(255, Math.round(v)))
      .toString(16)
      .padStart(2, '0');
  return `#${part(rgb.r)}${part(rgb.g)}${part(rgb.b)}`;
}

/**
 * Sort a sharp error into permanent (the same bytes will always fail the same way) or
 * transient (the machine, not the file, is the problem: memory, the thread pool).
 * sharp reports errors as plain Errors with libvips' message, so the message is all
 * there is to go on.
 */
export function classifySharpError(err: unknown): ImageRejectedError | TransientError {
  const message = err instanceof Error ? err.message : String(err);
  if (/out of memory|memory allocation|cannot allocate|EMFILE|ENOMEM/i.test(message)) {
    return new TransientError(`image processing ran out of resources: ${message}`, { cause: err });
  }
  if (/unsupported image format/i.test(message)) {
    return new ImageRejectedError('not-an-image', 'not an image: no known image format in the file', {
      cause: err,
    });
  }
  if (/pixel limit/i.test(message)) {
    return new ImageRejectedError('too-many-pixels', `too many pixels: ${message}`, { cause: err });
  }
  if (/Buffer is empty/i.test(message)) {
    return new ImageRejectedError('empty', 'empty file (0 bytes)', { cause: err });
  }
  // Anything else libvips says about a file it was given is about the file.
  return new ImageRejectedError('corrupt', `corrupt or truncated image: ${message}`, { cause: err });
}

function resolveOptions(options: ProcessImageOptions) {
  return {
    maxInputBytes: options.maxInputBytes ?? DEFAULT_PROCESS_OPTIONS.maxInputBytes,
    maxInputPixels: options.maxInputPixels ?? DEFAULT_PROCESS_OPTIONS.maxInputPixels,
    failOn: options.failOn ?? DEFAULT_PROCESS_OPTIONS.failOn,
    sizes: { ...DEFAULT_PROCESS_OPTIONS.sizes, ...options.sizes },
    placeholderSize: options.placeholderSize ?? DEFAULT_PROCESS_OPTIONS.placeholderSize,
    acceptFormats: options.acceptFormats ?? DEFAULT_PROCESS_OPTIONS.acceptFormats,
  };
}

/**
 * Read an image's header and check it against the limits before any pixel is decoded.
 * Throws ImageRejectedError for a file that can never be processed.
 */
export async function inspectImage(
  bytes: Uint8Array,
  options: ProcessImageOptions = {},
): Promise<ImageMetadata> {
  const o = resolveOptions(options);
  if (bytes.byteLength === 0) throw new ImageRejectedError('empty', 'empty file (0 bytes)');
  if (bytes.byteLength > o.maxInputBytes) {
    throw new ImageRejectedError(
      'too-large',
      `file too large: ${bytes.byteLength} bytes, the limit is ${o.maxInputBytes} bytes`,
    );
  }
  let meta: Metadata;
  try {
    // Header only: no pixels are decoded, so this is safe on a bomb.
    meta = await sharp(bytes, { failOn: o.failOn, limitInputPixels: false }).metadata();
  } catch (err) {
    throw classifySharpError(err);
  }
  if (!o.acceptFormats.includes(meta.format)) {
    throw new ImageRejectedError(
      'unsupported-format',
      `unsupported format ${meta.format}: accepted are ${o.acceptFormats.join(', ')}`,
    );
  }
  const pixels = meta.width * meta.height;
  if (!(pixels > 0))
    throw new ImageRejectedError('corrupt', `corrupt image: declares ${meta.width}x${meta.height}`);
  if (pixels > o.maxInputPixels) {
    throw new ImageRejectedError(
      'too-many-pixels',
      `possible decompression bomb: declares ${meta.width}x${meta.height} = ${pixels} pixels, the limit is ${o.maxInputPixels}`,
    );
  }
  const oriented = meta.autoOrient ?? { width: meta.width, height: meta.height };
  return {
    width: oriented.width,
    height: oriented.height,
    format: meta.format,
    ...(meta.orientation !== undefined ? { orientation: meta.orientation } : {}),
    ...(meta.space !== undefined ? { space: meta.space } : {}),
    hasAlpha: meta.hasAlpha,
  };
}

interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

function fromRaw(raw: RawImage): Sharp {
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
}

async function toRaw(pipeline: Sharp): Promise<RawImage> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

async function shrinkRaw(raw: RawImage, size: number): Promise<RawImage> {
  const target = fitInside(raw.width, raw.height, size);
  if (target.width === raw.width && target.height === raw.height) return raw;
  return toRaw(fromRaw(raw).resize(target.width, target.height, { fit: 'fill' }));
}

async function encode(raw: RawImage, spec: RenditionSpec): Promise<RenditionOutput> {
  const pipeline = fromRaw(raw);
  const bytes =
    spec.format === 'jpeg'
      ? await pipeline.jpeg({ quality: spec.quality }).toBuffer()
      : spec.format === 'png'
        ? await pipeline.png({ compressionLevel: 6 }).toBuffer()
        : await pipeline.webp({ quality: spec.quality }).toBuffer();
  return {
    name: spec.name,
    bytes,
    mediaType: MEDIA_TYPES[spec.format],
    width: raw.width,
    height: raw.height,
  };
}

/**
 * Process one image: check its header against the limits, decode it once (auto-oriented,
 * converted to sRGB, shrunk on load to the largest rendition), then encode every planned
 * rendition from that decoded copy, and derive the dominant colour and placeholder from
 * the smallest one. Decoding once is what makes three renditions cost little more than one.
 *
 * Throws ImageRejectedError for a file that can never succeed (empty, too big, not an
 * image, a bomb, corrupt or truncated) and TransientError when the machine ran out of
 * resources. Deterministic: the same bytes and options give the same rendition bytes
 * (with the same sharp/libvips build).
 */
export async function processImage(
  bytes: Uint8Array,
  options: ProcessImageOptions = {},
): Promise<ProcessedImage> {
  const o = resolveOptions(options);
  const metadata = await inspectImage(bytes, o);
  const specs = planRenditions(metadata, o.sizes);
  const largest = Math.max(...specs.map((s) => s.size));
  try {
    const target = fitInside(metadata.width, metadata.height, largest);
    const base = await toRaw(
      sharp(bytes, { failOn: o.failOn, limitInputPixels: o.maxInputPixels, autoOrient: true })
        .resize(target.width, target.height, { fit: 'fill' })
        // Rendition consumers are browsers: sRGB, 8 bits, alpha only when the input had it.
        .toColourspace('srgb'),
    );
    const bySize = new Map<number, RawImage>([[largest, base]]);
    for (const size of [...new Set(specs.map((s) => s.size))].sort((a, b) => b - a)) {
      if (!bySize.has(size)) bySize.set(size, await shrinkRaw(base, size));
    }
    const renditions = await Promise.all(specs.map((spec) => encode(bySize.get(spec.size)!, spec)));
    const smallest = bySize.get(Math.min(...bySize.keys()))!;
    const [stats, placeholder] = await Promise.all([
      fromRaw(smallest).stats(),
      shrinkRaw(smallest, o.placeholderSize).then((tiny) =>
        fromRaw(tiny).webp({ quality: 30, alphaQuality: 30 }).toBuffer(),
      ),
    ]);
    return {
      metadata,
      renditions,
      dominantColor: hexColor(stats.dominant),
      placeholder: `data:image/webp;base64,${placeholder.toString('base64')}`,
    };
  } catch (err) {
    if (err instanceof ImageRejectedError || err instanceof TransientError) throw err;
    throw classifySharpError(err);
  }
}

/** Apply process-wide sharp settings (entry points call this once). */
export function configureSharp(settings: { concurrency?: number; cacheMemoryMb?: number }): void {
  // libvips threads per image: with several jobs in flight, one thread each keeps the
  // cores busy without oversubscribing them (jobs run on libuv's pool, UV_THREADPOOL_SIZE).
  if (settings.concurrency !== undefined) sharp.concurrency(settings.concurrency);
  // The operation cache helps repeated operations on the same input, which a worker never does.
  sharp.cache(settings.cacheMemoryMb === undefined ? false : { memory: settings.cacheMemoryMb });
}
