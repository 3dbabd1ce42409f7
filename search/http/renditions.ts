import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../../log/blobStore.ts';
import { DigestParams } from '../apiSchemas.ts';
import { SNIFF_BYTES, sniffMediaType } from '../mediaType.ts';
import { withinDeadline } from './deadline.ts';
import { HttpError } from './errors.ts';

export interface RenditionRouteOptions {
  blobs: Pick<BlobStore, 'size' | 'head' | 'stream'>;
  /**
   * Whether a digest is one of the renditions the images projection lists. Only those are
   * served: the blob store also holds the originals, with whatever EXIF and GPS tags the
   * photographer's camera wrote, and the originals of files that failed processing.
   */
  isRendition(digest: string, signal: AbortSignal): Promise<boolean>;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === etag || tag === '*';
  });
}

/** `GET /renditions/:digest`: the bytes of a rendition, immutable, with ETag and caching. */
export function renditionRoute(api: FastifyInstance, options: RenditionRouteOptions): void {
  const { blobs } = options;
  api.get<{ Params: { digest: string } }>(
    '/renditions/:digest',
    {
      schema: {
        summary: 'Rendition bytes by content digest (immutable); originals are never served',
        params: DigestParams,
        response: { 404: { $ref: 'Error#' }, 400: { $ref: 'Error#' } },
      },
    },
    async (request, reply) => {
      const { digest } = request.params;
      const listed = await withinDeadline(request, (signal) => options.isRendition(digest, signal));
      // The same answer for an original as for a digest that is not there at all, so the
      // route does not even confirm which originals exist.
      const size = listed ? await blobs.size(digest) : undefined;
      if (size === undefined) throw new HttpError(404, 'not_found', `no rendition ${digest}`);
      const etag = `"${digest}"`;
      // The address is the hash of the bytes: they can never change, so caches may keep them forever.
      reply.header('etag', etag).header('cache-control', 'public, max-age=31536000, immutable');
      if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
      const [head, stream] = await Promise.all([blobs.head(digest, SNIFF_BYTES), blobs.stream(digest)]);
      if (!head || !stream) throw new HttpError(404, 'not_found', `no rendition ${digest}`);
      reply.type(sniffMediaType(head) ?? 'application/octet-stream').header('content-length', size);
      return reply.send(stream);
    },
  );
}
