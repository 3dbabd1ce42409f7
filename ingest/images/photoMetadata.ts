import exifr from 'exifr';
import type { PhotoMetadata } from '../../schemas/imageEvents.ts';

type Segment = Record<string, unknown> | undefined;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** exifr leaves XML character references in XMP values (`O&#39;Sullivan`): decode them. */
function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, ref: string) => {
    if (ref[0] !== '#') return ENTITIES[ref.toLowerCase()]!;
    const code = ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
    return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : '';
  });
}

/** A text value as exifr gives it: a string, a number, `{lang, value}`, or a list of them (first wins). */
function text(value: unknown, max: number): string | undefined {
  if (Array.isArray(value)) return text(value[0], max);
  if (value !== null && typeof value === 'object' && 'value' in value) return text(value.value, max);
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const clean = decodeXml(String(value)).replace(/\0/g, '').trim();
  return clean === '' ? undefined : clean.slice(0, max);
}

function list(...values: unknown[]): string[] | undefined {
  const out = new Set<string>();
  for (const value of values) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      const t = text(item, 100);
      if (t) out.add(t);
    }
  }
  return out.size > 0 ? [...out].slice(0, 100) : undefined;
}

/** IIM `18730101`, EXIF `1873:01:01 10:00:00` or XMP ISO → ISO 8601 (date, or date-time as written). */
function date(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  const raw = text(value, 40);
  if (!raw) return undefined;
  const iim = /^(\d{4})(\d{2})(\d{2})$/.exec(raw);
  if (iim) return `${iim[1]}-${iim[2]}-${iim[3]}`;
  const exif = /^(\d{4}):(\d{2}):(\d{2})(?: (\d{2}:\d{2}:\d{2}))?$/.exec(raw);
  if (exif)
    return exif[4] ? `${exif[1]}-${exif[2]}-${exif[3]}T${exif[4]}` : `${exif[1]}-${exif[2]}-${exif[3]}`;
  return /^\d{4}-\d{2}-\d{2}/.test(raw) ? raw : undefined;
}

/** Drop undefined fields, so an image whose file says nothing gets no `embedded` at all. */
function defined(value: PhotoMetadata): PhotoMetadata | undefined {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return entries.length > 0 ? (Object.fromEntries(entries) as PhotoMetadata) : undefined;
}

/**
 * The caption, credit, creator, copyright, date created, keywords and GPS position a
 * photo file carries (IPTC IIM, XMP, EXIF, read by exifr), or undefined when it carries
 * none. XMP wins over IIM (it is the newer, Unicode form), IIM over EXIF. Never throws:
 * unreadable metadata is no metadata (the pixels are what the worker must not fail on).
 */
export async function readPhotoMetadata(bytes: Uint8Array): Promise<PhotoMetadata | undefined> {
  let parsed: Record<string, Segment> | undefined;
  try {
    parsed = await exifr.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      iptc: true,
      xmp: true,
      tiff: true,
      exif: true,
      gps: true,
      ifd1: false,
      icc: false,
      jfif: false,
      mergeOutput: false,
    });
  } catch {
    return undefined;
  }
  if (!parsed) return undefined;
  const { iptc, dc, photoshop, ifd0, exif, gps } = parsed;
  const lat = gps?.latitude;
  const lon = gps?.longitude;
  return defined({
    caption:
      text(dc?.description, 5_000) ?? text(iptc?.Caption, 5_000) ?? text(ifd0?.ImageDescription, 5_000),
    credit: text(photoshop?.Credit, 500) ?? text(iptc?.Credit, 500),
    creator: text(dc?.creator, 300) ?? text(iptc?.Byline, 300) ?? text(ifd0?.Artist, 300),
    copyright: text(dc?.rights, 500) ?? text(iptc?.CopyrightNotice, 500) ?? text(ifd0?.Copyright, 500),
    dateCreated: date(photoshop?.DateCreated) ?? date(iptc?.DateCreated) ?? date(exif?.DateTimeOriginal),
    keywords: list(dc?.subject, iptc?.Keywords),
    gps:
      typeof lat === 'number' && typeof lon === 'number' && Math.abs(lat) <= 90 && Math.abs(lon) <= 180
        ? { lat, lon }
        : undefined,
  });
}
