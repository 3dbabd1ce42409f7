import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createIngester } from '../../ingest/ingest.ts';
import type { ArticleRecord, BylineRecord, ImageRecord } from '../../ingest/records.ts';
import { type BlobStore, createBlobStore } from '../../log/blobStore.ts';
import { type CheckpointStore, createCheckpointStore } from '../../log/checkpoints.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { deploymentSecret } from '../../log/secrets.ts';
import type { ContentLog } from '../../log/types.ts';
import { openLeaseBucket } from '../../projectors/lease.ts';
import { createProjector, type Projector } from '../../projectors/live/projector.ts';
import { createDeadLetterStore } from '../../projectors/write/deadLetters.ts';
import type { Config } from '../../schemas/config.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import type { CliContext } from '../../scripts/commands/cliContext.ts';
import { type PreparedArchive, prepareSampleArchive } from '../../scripts/commands/start.ts';
import { openConfiguredKeyRing } from '../../scripts/keys.ts';
import { connectNats, createEsClient } from '../../scripts/runtime.ts';
import { createSearcher, type Searcher } from '../../search/searcher.ts';
import { buildServer } from '../../search/server.ts';
import { cleanupNamespace, testConfig } from './env.ts';

/** The CLI context a command would get, for calling command-level functions in-process. */
export function testContext(config: Config, signal = new AbortController().signal): CliContext {
  const logger = pino({ level: process.env.PRESSLOG_LOG_LEVEL ?? 'warn' });
  return {
    config: () => config,
    log: () => logger,
    json: () => false,
    signal,
    output: () => {},
  };
}

/** Everything a test of the query layer, the API or the page needs, up and listening. */
export interface SearchFixture {
  config: Config;
  /** The deployment key the fixture's searcher signs cursors with. */
  cursorKey: Uint8Array;
  es: Client;
  nc: NatsConnection;
  log: ContentLog;
  blobs: BlobStore;
  checkpoints: CheckpointStore;
  searcher: Searcher;
  app: FastifyInstance;
  /** e.g. `http://127.0.0.1:41234` */
  base: string;
  prepared: PreparedArchive;
  /** The sample's source records, to compute expected answers from. */
  articles: ArticleRecord[];
  bylines: BylineRecord[];
  images: ImageRecord[];
  /** The article that was revised after the first ingest (its history has two events). */
  revisedId: string;
  /** Its headline before and after the revision. */
  revisedHeadlines: { before: string; after: string };
  /** Run the live projector until it has caught up with the log. */
  catchUp(): Promise<void>;
  /** Run the live projector in the background until the returned stop() is called. */
  projectLive(): { stop(): Promise<void> };
  close(): Promise<void>;
}

async function readNdjson<T>(file: string): Promise<T[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as T);
}

/** The article the fixture revises: Lincoln's address of 1862. */
export const REVISED_ID = 'sotu-1862-abraham-lincoln';

/**
 * A fresh namespace holding the real sample archive the way a user gets it: `presslog
 * sample` → ingest → images processed by the BullMQ workers → reindex (the quick start's
 * own pipeline, in-process), then one article revised through a second ingest and
 * projected live, and the API listening on a loopback port.
 */
export async function setUpSearchFixture(
  options: { readYourWritesTimeoutMs?: number } = {},
): Promise<SearchFixture> {
  const config = testConfig();
  const sampleDir = await mkdtemp(join(tmpdir(), 'presslog-sample-'));
  const es = createEsClient(config);
  const closers: (() => Promise<unknown>)[] = [
    () => rm(sampleDir, { recursive: true, force: true }),
    () => cleanupNamespace(config).catch((err) => console.warn(err)),
    () => es.close(),
  ];
  const close = async () => {
    while (closers.length > 0) await closers.pop()!();
  };
  try {
    const ctx = testContext(config);
    const prepared = await prepareSampleArchive(ctx, { sampleDir });
    const articles = await readNdjson<ArticleRecord>(join(sampleDir, '3-articles.ndjson'));
    const images = await readNdjson<ImageRecord>(join(sampleDir, '2-images.ndjson'));
    const bylines = await readNdjson<BylineRecord>(join(sampleDir, '1-bylines.ndjson'));

    const nc = await connectNats(config);
    closers.push(() => nc.close());
    // The quick start's pipeline above sealed the log: this log opens it with the same keys.
    const keys = await openConfiguredKeyRing(config, nc);
    const log = createContentLog({ nc, names: config.names, keys });
    closers.push(() => log.close());
    const blobs = createBlobStore(config.blobDir);
    const checkpoints = createCheckpointStore({ nc, names: config.names });
    closers.push(() => checkpoints.close());
    const leaseBucket = await openLeaseBucket(nc, config.names);
    const newProjector = (): Projector =>
      createProjector({
        log,
        client: es,
        checkpoints,
        leaseBucket,
        deadLetters: createDeadLetterStore({ client: es, names: config.names }),
        names: config.names,
        projections: PROJECTION_NAMES,
        logger: ctx.log(),
        idlePollMs: 20,
        batchDelayMs: 20,
      });
    const catchUp = async () => {
      const projector = newProjector();
      try {
        await projector.run({ untilCaughtUp: true, wait: true });
      } finally {
        await projector.close();
      }
    };
    const projectLive = () => {
      const controller = new AbortController();
      const projector = newProjector();
      const running = projector.run({ signal: controller.signal, wait: true }).catch(() => {});
      return {
        async stop() {
          controller.abort();
          await running;
          await projector.close();
        },
      };
    };

    // A correction, the way an editor's system would send it: the same record, a new headline.
    const original = articles.find((a) => a.id === REVISED_ID);
    if (!original) throw new Error(`the sample has no ${REVISED_ID}`);
    const revisedHeadline = `${original.headline} (annual message to Congress)`;
    const correction = join(sampleDir, 'correction.ndjson');
    await writeFile(correction, `${JSON.stringify({ ...original, headline: revisedHeadline })}\n`);
    await createIngester({ log, blobs, logger: ctx.log() }).ingest([correction]);
    await catchUp();

    const cursorKey = await deploymentSecret('cursor', { nc, names: config.names });
    const searcher = createSearcher({ es, names: config.names, cursorKey });
    closers.push(() => searcher.close());
    const app = buildServer({
      searcher,
      log,
      blobs,
      checkpoints,
      readYourWritesTimeoutMs: options.readYourWritesTimeoutMs,
    });
    closers.push(() => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    return {
      config,
      cursorKey,
      es,
      nc,
      log,
      blobs,
      checkpoints,
      searcher,
      app,
      base,
      prepared,
      articles: articles.map((a) => (a.id === REVISED_ID ? { ...a, headline: revisedHeadline } : a)),
      bylines,
      images,
      revisedId: REVISED_ID,
      revisedHeadlines: { before: original.headline, after: revisedHeadline },
      catchUp,
      projectLive,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Count source records by a key, for comparing with facets. */
export function countBy<T>(
  items: readonly T[],
  key: (item: T) => string | number | (string | number)[],
): Map<string | number, number> {
  const counts = new Map<string | number, number>();
  for (const item of items) {
    const keys = key(item);
    for (const k of Array.isArray(keys) ? keys : [keys]) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** The year of an ISO date as written. */
export const yearOf = (iso: string) => Number(iso.slice(0, 4));
