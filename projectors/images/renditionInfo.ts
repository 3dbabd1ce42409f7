import type { RenditionInfo } from '../../schemas/documents.ts';
import type { Rendition } from '../../schemas/imageEvents.ts';

/** What documents embed of a rendition: field by field, so a field added to the event never leaks into a strict mapping. */
export function renditionInfo(r: Rendition): RenditionInfo {
  return {
    name: r.name,
    digest: r.digest,
    mediaType: r.mediaType,
    width: r.width,
    height: r.height,
    bytes: r.bytes,
  };
}
