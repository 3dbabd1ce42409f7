import { digestOf } from '../../log/blobStore.ts';
import { TransientError } from '../../schemas/errors.ts';
import { ImageRejectedError } from './renditions.ts';
import type { WorkerContext } from './workerContext.ts';

/**
 * An original's bytes from the blob store, checked against the size limit before reading
 * and against its digest after: a missing blob is worth retrying, a file too large or
 * not matching its digest never succeeds.
 */
export async function readOriginal(
  ctx: Pick<WorkerContext, 'blobs' | 'maxInputBytes'>,
  digest: string,
): Promise<Buffer> {
  const { blobs, maxInputBytes } = ctx;
  const size = await blobs.size(digest);
  if (size === undefined) {
    // Ingest stores the original before appending its event, so this is a blob store
    // on another machine or a copy still under way: worth retrying, then a failure.
    throw new TransientError(`original ${digest} is not in the blob store (${blobs.root})`);
  }
  if (size > maxInputBytes) {
    throw new ImageRejectedError(
      'too-large',
      `file too large: ${size} bytes, the limit is ${maxInputBytes} bytes`,
    );
  }
  const bytes = await blobs.read(digest);
  if (digestOf(bytes) !== digest) {
    throw new ImageRejectedError('corrupt', `stored original does not match its digest ${digest}`);
  }
  return bytes;
}
