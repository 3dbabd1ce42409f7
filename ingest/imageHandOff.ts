import { join } from 'node:path';
import { mapLimit } from '../log/async.ts';
import { InvalidRecordError } from '../schemas/errors.ts';
import type { Entry } from './entry.ts';
import { loadImage } from './imageFiles.ts';
import type { IngestRun } from './ingestRun.ts';

/** Image files read, checked and stored at once: this is disk I/O and hashing. */
const IMAGE_CONCURRENCY = 4;

/**
 * Hand a batch's image records' files to the blob store (in a dry run: only read and
 * hash them), so each `ImageSubmitted` names its stored original. An image file that
 * cannot be used rejects its record (field `file`), in input order; any other error
 * ends the run. Returns the entries whose image was refused.
 */
export async function storeImages(run: IngestRun, images: readonly Entry[]): Promise<Set<Entry>> {
  const refused = new Map<Entry, InvalidRecordError>();
  await mapLimit(images, IMAGE_CONCURRENCY, async (entry) => {
    if (entry.record.kind !== 'image' || !entry.file) return;
    try {
      const loaded = await loadImage({
        // A format's images are looked up in --media-dir when given (any name resolving there).
        root: entry.file.mediaDir ?? entry.file.root,
        recordFile: entry.file.mediaDir ? join(entry.file.mediaDir, 'media-dir') : entry.file.path,
        file: entry.record.file,
        maxBytes: run.settings.maxImageBytes,
        blobs: run.dryRun ? undefined : run.settings.blobs,
      });
      entry.original = { digest: loaded.digest, bytes: loaded.bytes, mediaType: loaded.mediaType };
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      refused.set(entry, err);
    }
  });
  for (const entry of images) {
    const err = refused.get(entry);
    if (err)
      await run.reject({ location: entry.location, field: 'file', reason: err.message, raw: entry.raw });
  }
  return new Set(refused.keys());
}
