import type { ImageProcessed, PhotoMetadata } from '../../schemas/imageEvents.ts';
import type { ProcessedImage } from './renditions.ts';

/** The ImageProcessed payload for processed bytes whose renditions are stored (pure). */
export function processedPayload(
  originalDigest: string,
  result: ProcessedImage,
  stored: readonly { digest: string; bytes: number }[],
  /** What the file says about itself (caption, credit, keywords...), when it says anything. */
  embedded?: PhotoMetadata,
): ImageProcessed['payload'] {
  const { metadata } = result;
  return {
    original: originalDigest,
    width: metadata.width,
    height: metadata.height,
    format: metadata.format,
    ...(metadata.orientation !== undefined ? { orientation: metadata.orientation } : {}),
    ...(metadata.space !== undefined ? { space: metadata.space } : {}),
    hasAlpha: metadata.hasAlpha,
    dominantColor: result.dominantColor,
    placeholder: result.placeholder,
    renditions: result.renditions.map((r, i) => ({
      name: r.name,
      digest: stored[i]!.digest,
      bytes: stored[i]!.bytes,
      mediaType: r.mediaType,
      width: r.width,
      height: r.height,
    })),
    ...(embedded ? { embedded } : {}),
  };
}
