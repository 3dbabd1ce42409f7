import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { createIngester } from '../../ingest/ingest.ts';
import { buildSampleArchive } from '../../ingest/sampleArchive.ts';
import { createBlobStore } from '../../log/blobStore.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import { type TestNamespace, withNamespace } from '../support/env.ts';
import { namespaceCli, rawStream } from '../support/namespaceCli.ts';

const CANARY = {
  headline: 'QXMIGRATEHEADLINE5521',
  body: 'QXMIGRATEBODY5521',
  revised: 'QXMIGRATEREVISED5521',
};
const anyCanary = (text: string) => Object.values(CANARY).filter((c) => text.includes(c));
/** In an article erased while the log was still plaintext: its message keeps it until the migration. */
const EARLY = 'QXERASEDBEFOREMIGRATION5521';

const canaryArticle = (revised: boolean) =>
  JSON.stringify({
    kind: 'article',
    id: 'a-canary',
    headline: `Story ${revised ? CANARY.revised : CANARY.headline}`,
    body: `Body ${CANARY.body} text`,
    publishedAt: '1999-01-01',
  });

/** Every document of every projection's live index, by projection, sorted by id. */
async function documents(ns: TestNamespace): Promise<Record<string, Array<{ id: string; source: unknown }>>> {
  const es = ns.es();
  const out: Record<string, Array<{ id: string; source: unknown }>> = {};
  for (const projection of PROJECTION_NAMES) {
    const index = ns.names.alias(projection);
    await es.indices.refresh({ index });
    const found = await es.search({ index, size: 10_000, query: { match_all: {} } });
    out[projection] = found.hits.hits
      .map((h) => ({ id: h._id!, source: h._source }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  return out;
}

test('log migrate: a plaintext log of the sample archive is sealed in place, resumable, an erasure honoured, rebuilds equal', async () => {
  await withNamespace(async (ns) => {
    const cli = namespaceCli(ns);
    const dir = await mkdtemp(join(tmpdir(), 'presslog-migrate-'));
    try {
      await cli(['init']);
      // A log written before encryption: appended by a content log opened without a key ring.
      const sample = await buildSampleArchive(join(dir, 'sample'));
      const plain = createContentLog({ nc: await ns.nats(), names: ns.names });
      const ingester = createIngester({ log: plain, blobs: createBlobStore(ns.config.blobDir) });
      await writeFile(join(dir, 'v1.ndjson'), canaryArticle(false));
      await writeFile(join(dir, 'v2.ndjson'), canaryArticle(true));
      await writeFile(
        join(dir, 'early.ndjson'),
        JSON.stringify({
          kind: 'article',
          id: 'a-early',
          headline: EARLY,
          body: 'x',
          publishedAt: '1999-01-02',
        }),
      );
      const inputs = [sample.dir, join(dir, 'v1.ndjson'), join(dir, 'v2.ndjson'), join(dir, 'early.ndjson')];
      for (const input of inputs) {
        const stats = await ingester.ingest([input]);
        assert.equal(stats.rejected, 0);
      }
      await plain.close();
      const before = await rawStream(ns);
      assert.deepEqual(anyCanary(before.text), Object.values(CANARY), 'the plaintext log holds the canaries');
      assert.ok(before.count > 200, `${before.count} messages`);
      const firstSpeech = /"body":"([^"]{40})/.exec(before.text)![1]!;
      // Erased before the migration: the keys are purged, but its plaintext message stays.
      await cli(['erase', 'article', 'a-early', '--reason', 'court order']);
      const beforeCount = (await rawStream(ns)).count;
      assert.ok((await rawStream(ns)).text.includes(EARLY), 'a plaintext log cannot honour the erasure');

      await cli(['reindex', 'all', '--no-progress']);
      const docsBefore = await documents(ns);
      assert.ok(docsBefore.articles!.length > 200);
      const historyBefore = JSON.parse((await cli(['--json', 'history', 'article', 'a-canary'])).stdout);

      // Stopped after the old stream was deleted and recreated empty: a crash's worst moment.
      const stopped = JSON.parse((await cli(['--json', 'log', 'migrate', '--until', 'recreated'])).stdout);
      assert.equal(stopped.status, 'stopped');
      assert.equal(stopped.step, 'recreated');
      assert.equal((await rawStream(ns)).count, 0, 'the content stream was recreated empty');
      const resumed = JSON.parse((await cli(['--json', 'log', 'migrate'])).stdout);
      assert.equal(resumed.status, 'migrated');
      assert.equal(resumed.resumedAt, 'recreated');
      assert.equal(resumed.messages, beforeCount);
      const jsm = await jetstreamManager(await ns.nats());
      const streams: string[] = [];
      for await (const name of jsm.streams.names()) streams.push(name);
      assert.ok(!streams.includes(`${ns.names.stream}_NEXT`), 'the temporary stream is deleted');

      const after = await rawStream(ns);
      assert.equal(after.count, beforeCount, 'same number of messages');
      assert.deepEqual(anyCanary(after.text), [], 'no canary readable in the migrated stream');
      assert.ok(!after.text.includes(EARLY), 'the erasure made before the migration is honoured now');
      const early = JSON.parse((await cli(['--json', 'history', 'article', 'a-early'])).stdout);
      assert.deepEqual(
        early.erased.map((e: { type: string }) => e.type),
        ['ArticlePublished'],
      );
      assert.ok(!after.text.includes(firstSpeech), 'no sample text either');
      // Same times, envelopes and payloads through the log's read paths.
      const historyAfter = JSON.parse((await cli(['--json', 'history', 'article', 'a-canary'])).stdout);
      assert.deepEqual(
        historyAfter.events.map((e: { time: string; type: string; seq: number }) => [e.seq, e.time, e.type]),
        historyBefore.events.map((e: { time: string; type: string; seq: number }) => [e.seq, e.time, e.type]),
      );

      await cli(['reindex', 'all', '--no-progress']);
      assert.deepEqual(
        await documents(ns),
        docsBefore,
        'a rebuild from the sealed log equals the one before',
      );

      await cli(['erase', 'article', 'a-canary', '--reason', 'court order']);
      assert.deepEqual(anyCanary((await rawStream(ns)).text), []);
      const erasedHistory = JSON.parse((await cli(['--json', 'history', 'article', 'a-canary'])).stdout);
      assert.deepEqual(
        erasedHistory.erased.map((e: { type: string }) => e.type),
        ['ArticlePublished', 'ArticleRevised'],
      );
      await cli(['reindex', 'all', '--no-progress']);
      const docsErased = await documents(ns);
      assert.deepEqual(docsErased, {
        ...docsBefore,
        articles: docsBefore.articles!.filter((d) => d.id !== 'a-canary'),
      });
      assert.deepEqual(anyCanary(JSON.stringify(docsErased)), []);

      // A sealed log has nothing to migrate.
      const again = JSON.parse((await cli(['--json', 'log', 'migrate'])).stdout);
      assert.equal(again.status, 'nothing-to-do');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
