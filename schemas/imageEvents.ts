import { type Static, Type } from '@sinclair/typebox';
import { envelope } from './envelope.ts';

/** `sha256:<64 hex>`: the digest of a blob's bytes, which is also its address in the blob store. */
export const Digest = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });

/** A stored file: its content digest (its address), size and media type. */
export const BlobRef = Type.Object(
  {
    digest: Digest,
    bytes: Type.Integer({ minimum: 0 }),
    mediaType: Type.String({ minLength: 1, maxLength: 100 }),
  },
  { additionalProperties: false },
);
export type BlobRef = Static<typeof BlobRef>;

/** Editorial fields of an image: what people search for. */
export const ImageFields = Type.Object(
  {
    caption: Type.Optional(Type.String({ maxLength: 5_000 })),
    credit: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type ImageFields = Static<typeof ImageFields>;

/** Submission: the original is stored and handed to the image workers by its digest. */
export const ImageSubmitted = envelope(
  'ImageSubmitted',
  1,
  'image',
  Type.Object(
    {
      caption: Type.Optional(Type.String({ maxLength: 5_000 })),
      credit: Type.Optional(Type.String({ maxLength: 500 })),
      fileName: Type.String({ minLength: 1, maxLength: 1_000 }),
      original: BlobRef,
    },
    { additionalProperties: false },
  ),
);
export type ImageSubmitted = Static<typeof ImageSubmitted>;

/** A new caption/credit, or a replaced file (then `original` is set and the image is processed again). */
export const ImageUpdated = envelope(
  'ImageUpdated',
  1,
  'image',
  Type.Object(
    {
      caption: Type.Optional(Type.String({ maxLength: 5_000 })),
      credit: Type.Optional(Type.String({ maxLength: 500 })),
      fileName: Type.Optional(Type.String({ minLength: 1, maxLength: 1_000 })),
      original: Type.Optional(BlobRef),
    },
    { additionalProperties: false },
  ),
);
export type ImageUpdated = Static<typeof ImageUpdated>;

export const Rendition = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 50 }),
    digest: Digest,
    bytes: Type.Integer({ minimum: 0 }),
    mediaType: Type.String(),
    width: Type.Integer({ minimum: 1 }),
    height: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type Rendition = Static<typeof Rendition>;

/**
 * What the photo file says about itself (IPTC IIM, XMP, EXIF), read by the image worker.
 * Optional in `ImageProcessed` (added later): events without it stay valid as they are.
 */
export const PhotoMetadata = Type.Object(
  {
    caption: Type.Optional(Type.String({ maxLength: 5_000 })),
    credit: Type.Optional(Type.String({ maxLength: 500 })),
    creator: Type.Optional(Type.String({ maxLength: 300 })),
    copyright: Type.Optional(Type.String({ maxLength: 500 })),
    /** ISO 8601 date or date-time, as the file states it. */
    dateCreated: Type.Optional(Type.String({ maxLength: 40 })),
    keywords: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 })),
    gps: Type.Optional(
      Type.Object(
        {
          lat: Type.Number({ minimum: -90, maximum: 90 }),
          lon: Type.Number({ minimum: -180, maximum: 180 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PhotoMetadata = Static<typeof PhotoMetadata>;

export const ImageProcessed = envelope(
  'ImageProcessed',
  1,
  'image',
  Type.Object(
    {
      /** Digest of the original these results were made from (a later replacement makes them stale). */
      original: Digest,
      width: Type.Integer({ minimum: 1 }),
      height: Type.Integer({ minimum: 1 }),
      format: Type.String(),
      orientation: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
      space: Type.Optional(Type.String()),
      hasAlpha: Type.Boolean(),
      dominantColor: Type.String({ pattern: '^#[0-9a-f]{6}$' }),
      /** A tiny inline preview: a `data:image/webp;base64,...` URI of a few hundred bytes. */
      placeholder: Type.String({ maxLength: 4_000 }),
      renditions: Type.Array(Rendition, { maxItems: 20 }),
      /** Caption, credit, creator, keywords... embedded in the file; absent when it says nothing. */
      embedded: Type.Optional(PhotoMetadata),
    },
    { additionalProperties: false },
  ),
);
export type ImageProcessed = Static<typeof ImageProcessed>;

export const ImageProcessingFailed = envelope(
  'ImageProcessingFailed',
  1,
  'image',
  Type.Object(
    {
      original: Digest,
      reason: Type.String({ minLength: 1, maxLength: 2_000 }),
      attempts: Type.Integer({ minimum: 1 }),
    },
    { additionalProperties: false },
  ),
);
export type ImageProcessingFailed = Static<typeof ImageProcessingFailed>;

export const ImageRemoved = envelope(
  'ImageRemoved',
  1,
  'image',
  Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2_000 })) }, { additionalProperties: false }),
);
export type ImageRemoved = Static<typeof ImageRemoved>;
