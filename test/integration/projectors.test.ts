import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import type { ContentLog } from '../../log/types.ts';
import { listProjectionIndexes, setIndexMeta } from '../../projectors/indexes.ts';
import { createLease, LeaseHeldError } from '../../projectors/lease.ts';
import { lineageOf } from '../../projectors/lineage.ts';
import { createProjector } from '../../projectors/live/projector.ts';
import { verifyIndex } from '../../projectors/rebuild/verify.ts';
import { createProjectionState } from '../../projectors/state/projectionState.ts';
import { snapshotName } from '../../projectors/state/stateSnapshots.ts';
import { outdatedIndexes, projectionStatus } from '../../projectors/status.ts';
import type { ArticleDoc, BylineDoc, ImageDoc } from '../../schemas/documents.ts';
import { TransientError } from '../../schemas/errors.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import { eventually } from '../support/env.ts';
import { assertSameDocs, dumpAll, projectOnce, reindexAll, withProjectorEnv } from '../support/projectors.ts';
import {
  articleFields,
  digest,
  makeEvent,
  processedPayload,
  randomLog,
} from '../support/projectorsEvents.ts';

describe('projectors', () => {
  for (const seed of [42, 7, 1234]) {
    test(`live projection and a full reindex of the same log produce identical documents (seed ${seed})`, async () => {
      await withProjectorEnv(async (env) => {
        const events = randomLog(400, seed);
        // Live, in three steps, so the projector starts from its checkpoint twice.
        await env.append(events.slice(0, 150));
        await projectOnce(env, { batchDocs: 7 });
        await env.append(events.slice(150, 300));
        await projectOnce(env, { batchDocs: 50 });
        await env.append(events.slice(300));
        const stats = await projectOnce(env);
        assert.equal(stats.deadLettered, 0);
        const live = await dumpAll(env.client, env.names);
        assert.ok(live.size > 10, `live holds ${live.size} documents`);

        const report = await reindexAll(env);
        assert.equal(report.seq, 400);
        assert.ok(report.indexes.every((r) => r.verification.ok));
        const rebuilt = await dumpAll(env.client, env.names);
        assertSameDocs(rebuilt, live, 'reindex differs from live projection');
        // Tiny batches: successive writes of one article overlap in flight and must be deferred, not reordered.
        // Without the articles' last sequences every article is written at each of its events.
        const blind = { ...env.log, lastSequences: undefined };
        const small = await reindexAll(env, { log: blind, batchDocs: 2, maxInFlight: 3 });
        assert.ok(small.indexes.every((r) => r.verification.ok));
        assertSameDocs(await dumpAll(env.client, env.names), live, 'reindex with tiny batches differs');
        const once = await reindexAll(env, { batchDocs: 2, maxInFlight: 3 });
        assert.ok(once.docsWritten < small.docsWritten, 'knowing where articles end saves writes');
        assertSameDocs(
          await dumpAll(env.client, env.names),
          live,
          'reindex writing each article once differs',
        );
        // The last sequences' read, interrupted after a few, is read again from the start:
        // the same writes, the same documents.
        let interrupted = false;
        const flaky: ContentLog = {
          ...env.log,
          async *lastSequences(entityType, options) {
            let read = 0;
            for await (const item of env.log.lastSequences!(entityType, options)) {
              if (!interrupted && ++read > 5) {
                interrupted = true;
                throw new TransientError('test: the read was interrupted');
              }
              yield item;
            }
          },
        };
        const resumed = await reindexAll(env, { log: flaky, batchDocs: 2, maxInFlight: 3 });
        assert.ok(interrupted, 'the read was interrupted');
        assert.equal(resumed.docsWritten, once.docsWritten);
        assertSameDocs(
          await dumpAll(env.client, env.names),
          live,
          'reindex after an interrupted read differs',
        );
      });
    });
  }

  test('verification sums the index in Elasticsearch and catches a missing, a stale and an extra document', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(randomLog(300, 11));
      const report = await reindexAll(env);
      const articles = report.indexes.find((r) => r.projection === 'articles')!;
      assert.ok(articles.verification.ok, JSON.stringify(articles.verification));
      assert.ok(articles.verification.expectedDocs >= 5, JSON.stringify(articles.verification));
      const index = articles.index;
      const state = createProjectionState();
      for await (const item of env.log.replay({ fromSeq: 1 })) {
        if (item.kind === 'event') state.apply(item.stored.seq, item.stored.event);
      }
      const expected = () => state.expectedDocs('articles');
      const again = await verifyIndex(env.client, index, expected);
      assert.deepEqual(
        [again.ok, again.actualDocs, again.actualChecksum],
        [true, articles.verification.actualDocs, articles.verification.expectedChecksum],
      );

      const docs = [...expected()];
      const [first, firstAsOf, firstOwn] = docs[0]!;
      const second = docs[1]![0];
      const doc = (await env.client.get<ArticleDoc>({ index, id: second }))._source!;
      await env.client.delete({ index, id: first, refresh: true });
      const missing = await verifyIndex(env.client, index, expected);
      assert.equal(missing.ok, false);
      assert.equal(missing.actualDocs, missing.expectedDocs - 1);
      assert.deepEqual(missing.differences, [{ id: first, expected: `${firstAsOf}/${firstOwn}` }]);

      // Same count, one document a version behind (its check values say so too).
      const stale = { ...doc, lineage: lineageOf(doc.id, doc.lineage.asOfSeq - 1, doc.lineage.ownSeq, {}) };
      await env.client.index({ index, id: doc.id, document: stale, refresh: true });
      await env.client.index({ index, id: first, document: { ...stale, id: first }, refresh: true });
      const changed = await verifyIndex(env.client, index, expected);
      assert.equal(changed.ok, false);
      assert.equal(changed.actualDocs, changed.expectedDocs);
      assert.notEqual(changed.actualChecksum, changed.expectedChecksum);
      assert.ok(changed.differences.some((d) => d.id === doc.id));

      await env.client.index({ index, id: 'intruder', document: { ...doc, id: 'intruder' }, refresh: true });
      const extra = await verifyIndex(env.client, index, expected);
      assert.equal(extra.actualDocs, extra.expectedDocs + 1);
      assert.ok(extra.differences.some((d) => d.id === 'intruder' && d.expected === undefined));
    });
  });

  test('an aliased index built by another definition is reported outdated (the quick start then rebuilds)', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(randomLog(50, 5));
      const report = await reindexAll(env);
      assert.deepEqual(await outdatedIndexes(env.client, env.names, PROJECTION_NAMES), []);
      const articles = report.indexes.find((r) => r.projection === 'articles')!.index;
      const [info] = (await listProjectionIndexes(env.client, env.names, 'articles')).filter(
        (i) => i.name === articles,
      );
      await setIndexMeta(env.client, articles, { ...info!.meta!, fingerprint: 'an older mapping' });
      assert.deepEqual(await outdatedIndexes(env.client, env.names, PROJECTION_NAMES), [articles]);
    });
  });

  test('state snapshots: a restart replays only what came after, with the documents of a full replay; unusable ones are ignored', async () => {
    await withProjectorEnv(async (env) => {
      const events = randomLog(400, 99);
      await env.append(events.slice(0, 250));
      const first = await projectOnce(env, { snapshots: env.snapshots, snapshotEveryEvents: 1 });
      assert.equal(first.restoredFrom, undefined);
      assert.equal(first.snapshotsSaved, 1);
      const name = snapshotName(PROJECTION_NAMES);
      assert.equal((await env.snapshots.info(name))?.position, 250);

      // Renames and caption edits right after the snapshot reach the articles only through
      // the reverse references the snapshot restored; then the rest of the log.
      const edits = [
        ...['b0', 'b1', 'b2', 'b3', 'b4'].map((id, i) =>
          makeEvent('BylineUpdated', id, { name: `Renamed ${id}` }, 1000 + i),
        ),
        ...['i0', 'i1', 'i2', 'i3', 'i4', 'i5'].map((id, i) =>
          makeEvent('ImageUpdated', id, { caption: `Recaptioned ${id}` }, 2000 + i),
        ),
      ];
      await env.append(edits);
      const second = await projectOnce(env, { snapshots: env.snapshots, snapshotEveryEvents: 1_000_000 });
      assert.equal(second.restoredFrom?.position, 250);
      assert.equal(second.events, edits.length, 'only the events after the snapshot are read');
      let embedded = 0;
      for (const [key, json] of await dumpAll(env.client, env.names)) {
        if (!key.startsWith('articles/')) continue;
        const doc = JSON.parse(json) as ArticleDoc;
        for (const byline of doc.bylines) {
          if (byline.name === undefined) continue;
          assert.equal(byline.name, `Renamed ${byline.id}`, `${key} embeds a stale byline name`);
          embedded++;
        }
        for (const image of doc.images) {
          if (image.caption === undefined) continue;
          assert.equal(image.caption, `Recaptioned ${image.id}`, `${key} embeds a stale caption`);
          embedded++;
        }
      }
      assert.ok(embedded > 5, `only ${embedded} embedded names and captions to check`);
      await env.append(events.slice(250));
      const rest = await projectOnce(env, { snapshots: env.snapshots, snapshotEveryEvents: 1 });
      assert.equal(rest.restoredFrom?.position, 250, 'no snapshot was due after the edits');
      assert.equal(rest.events, 150 + edits.length);
      assert.equal(rest.deadLettered, 0);
      const live = await dumpAll(env.client, env.names);

      const head = await env.log.head();
      const lastSeq = head.lastSeq;
      const ahead = await env.snapshots.load(name, { maxPosition: lastSeq - 1, head });
      assert.match(ahead.state ? '' : ahead.reason, new RegExp(`ahead of the checkpoint ${lastSeq - 1}`));
      const otherStream = await env.snapshots.load(name, {
        maxPosition: lastSeq,
        head: { ...head, created: new Date(0) },
      });
      assert.match(otherStream.state ? '' : otherStream.reason, /another stream/);

      // The reference: a rebuild from the whole log, which also leaves its state for the next start.
      await env.snapshots.save(name, createProjectionState(), head); // an older snapshot (position 0)
      const report = await reindexAll(env, { snapshots: env.snapshots });
      assert.equal(report.snapshot?.position, lastSeq);
      assertSameDocs(
        await dumpAll(env.client, env.names),
        live,
        'restored live projection differs from a rebuild',
      );
      const third = await projectOnce(env, { snapshots: env.snapshots });
      assert.equal(third.restoredFrom?.position, lastSeq);
      assert.equal(third.events, 0);
    });
  });

  test('a live projector stopped on request saves its state, and the next one starts from it', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(randomLog(120, 5));
      const controller = new AbortController();
      let caughtUp = false;
      const projector = createProjector({
        ...env.common(),
        projections: PROJECTION_NAMES,
        snapshots: env.snapshots,
        snapshotEveryEvents: 1_000_000,
        leaseTtlMs: 3000,
        idlePollMs: 20,
        onCaughtUp: () => {
          caughtUp = true;
        },
      });
      const running = projector.run({ signal: controller.signal });
      try {
        await eventually(() => caughtUp, { timeout: 15_000 });
        const seq = await env.append([
          makeEvent('BylineRegistered', 'late-byline', { name: 'Late Arrival' }),
        ]);
        assert.equal((await env.checkpoints.waitForSeq('bylines', seq, { timeoutMs: 15_000 })).reached, true);
        assert.equal(await env.snapshots.info(snapshotName(PROJECTION_NAMES)), undefined, 'none due yet');
        controller.abort();
        const stats = await running;
        assert.equal(stats.snapshotsSaved, 1);
        assert.equal((await env.snapshots.info(snapshotName(PROJECTION_NAMES)))?.position, seq);
      } finally {
        controller.abort();
        await running.catch(() => {});
        await projector.close();
      }
      const next = await projectOnce(env, { snapshots: env.snapshots });
      assert.equal(next.restoredFrom?.position, 121);
      assert.equal(next.events, 0);
    });
  });

  test('live mode: fan-out, dangling references, retraction, read-your-writes, status, one projector at a time', async () => {
    await withProjectorEnv(async (env) => {
      const controller = new AbortController();
      const projector = createProjector({
        ...env.common(),
        projections: PROJECTION_NAMES,
        leaseTtlMs: 3000,
        idlePollMs: 20,
        aliasCheckMs: 500,
      });
      const running = projector.run({ signal: controller.signal });
      try {
        // References before their targets: the article arrives first.
        let seq = await env.append([
          makeEvent(
            'ArticlePublished',
            'a1',
            articleFields({ headline: 'Harbour news', bylineIds: ['b1'], imageIds: ['i1'] }),
          ),
        ]);
        const waited = await env.checkpoints.waitForSeq('articles', seq, { timeoutMs: 15_000 });
        assert.equal(waited.reached, true, JSON.stringify(waited));
        let a1 = (await env.client.get<ArticleDoc>({ index: env.names.alias('articles'), id: 'a1' }))
          ._source!;
        assert.deepEqual(a1.bylines, [{ id: 'b1' }]);
        assert.deepEqual(a1.images, [{ id: 'i1', renditions: [] }]);

        seq = await env.append([
          makeEvent('BylineRegistered', 'b1', { name: 'Ada Lovelace' }),
          makeEvent('ImageSubmitted', 'i1', {
            caption: 'Boats in the harbour',
            fileName: 'boats.jpg',
            original: { digest: digest(1), bytes: 100, mediaType: 'image/jpeg' },
          }),
          makeEvent('ImageProcessed', 'i1', processedPayload(digest(1), 1)),
        ]);
        assert.equal(
          (await env.checkpoints.waitForSeq('articles', seq, { timeoutMs: 15_000 })).reached,
          true,
        );
        // Searchable, not only stored: the caption and the byline name find the article.
        const byCaption = await env.client.search({
          index: env.names.alias('articles'),
          query: { match: { 'images.caption': 'harbour' } },
        });
        assert.equal(byCaption.hits.hits[0]?._id, 'a1');
        const byName = await env.client.search({
          index: env.names.alias('articles'),
          query: { match: { 'bylines.name': 'lovelace' } },
        });
        assert.equal(byName.hits.hits[0]?._id, 'a1');
        a1 = (await env.client.get<ArticleDoc>({ index: env.names.alias('articles'), id: 'a1' }))._source!;
        assert.equal(a1.images[0]?.width, 101);
        assert.equal(a1.lineage.asOfSeq, seq);
        assert.equal(a1.lineage.embeddedSeqs['byline:b1'], seq - 2);

        // A byline rename reaches the article; the image and byline documents carry their articles.
        seq = await env.append([makeEvent('BylineUpdated', 'b1', { name: 'Augusta Ada King' })]);
        assert.equal((await env.checkpoints.waitForSeq('bylines', seq, { timeoutMs: 15_000 })).reached, true);
        await env.checkpoints.waitForSeq('articles', seq, { timeoutMs: 15_000 });
        a1 = (await env.client.get<ArticleDoc>({ index: env.names.alias('articles'), id: 'a1' }))._source!;
        assert.deepEqual(a1.bylines, [{ id: 'b1', name: 'Augusta Ada King' }]);
        const b1 = (await env.client.get<BylineDoc>({ index: env.names.alias('bylines'), id: 'b1' }))
          ._source!;
        assert.equal(b1.articleCount, 1);
        const i1 = (await env.client.get<ImageDoc>({ index: env.names.alias('images'), id: 'i1' }))._source!;
        assert.deepEqual(i1.articleIds, ['a1']);
        assert.equal(i1.status, 'processed');

        // A second live projector is refused, naming the holder.
        const second = createProjector({ ...env.common(), projections: ['articles'], leaseTtlMs: 3000 });
        await assert.rejects(second.run({ untilCaughtUp: true }), (err: unknown) => {
          assert.ok(err instanceof LeaseHeldError);
          assert.match(err.message, /project\.articles is held by .*pid/);
          return true;
        });
        await second.close();

        // Retraction removes the article and updates the statistics.
        seq = await env.append([makeEvent('ArticleRetracted', 'a1', { reason: 'wrong' })]);
        assert.equal(
          (await env.checkpoints.waitForSeq('articles', seq, { timeoutMs: 15_000 })).reached,
          true,
        );
        await env.checkpoints.waitForSeq('bylines', seq, { timeoutMs: 15_000 });
        const gone = await env.client.get(
          { index: env.names.alias('articles'), id: 'a1' },
          { ignore: [404] },
        );
        assert.equal(gone.found, false);
        const b1After = (await env.client.get<BylineDoc>({ index: env.names.alias('bylines'), id: 'b1' }))
          ._source!;
        assert.equal(b1After.articleCount, 0);

        const status = await projectionStatus({ ...env.common(), projections: PROJECTION_NAMES });
        const articles = status.projections.find((p) => p.projection === 'articles')!;
        assert.equal(articles.lagEvents, 0);
        assert.equal(articles.docs, 0);
        assert.equal(articles.current, true);
        assert.ok(articles.live, 'the running projector shows in status');
        assert.equal(status.projections.find((p) => p.projection === 'images')!.docs, 1);
      } finally {
        controller.abort();
        await running.catch(() => {});
        await projector.close();
      }
      // Closing released the lease: the next projector starts at once.
      const stats = await projectOnce(env, { projections: ['articles'] });
      assert.equal(stats.indexed, 0, 'nothing to do after a clean stop');
    });
  });

  test('an unreadable event is dead-lettered and skipped; a rejected document too, and neither blocks the rest', async () => {
    await withProjectorEnv(async (env) => {
      await env.append([makeEvent('ArticlePublished', 'a1', articleFields({ section: 'news' }))]);
      // A message that fails its schema, written around the content log's validation.
      const js = jetstream(env.nc);
      await js.publish(
        env.names.subject('article', 'bad'),
        JSON.stringify({ type: 'ArticlePublished', version: 2, payload: {} }),
      );
      // Provoke a mapping error: the alias already points at an index where `section` is a number.
      const index = `${env.names.indexPrefix('articles')}20000101t000000000`;
      await env.client.indices.create({
        index,
        aliases: { [env.names.alias('articles')]: {} },
        mappings: { dynamic: true, properties: { section: { type: 'integer' } } },
      });
      const last = await env.append([
        makeEvent('ArticlePublished', 'a2', articleFields({ headline: 'No section' })),
        makeEvent('ArticlePublished', 'a3', articleFields({ section: 'sport' })),
      ]);
      const stats = await projectOnce(env, { projections: ['articles'] });
      assert.equal(stats.unreadable, 1);
      assert.equal(stats.deadLettered, 3, 'one unreadable event, two rejected documents');
      const checkpoint = await env.checkpoints.get(index);
      assert.equal(checkpoint?.seq, last, 'the checkpoint moves past dead letters');
      const docs = await env.client.search({ index, query: { match_all: {} } });
      assert.deepEqual(
        docs.hits.hits.map((h) => h._id),
        ['a2'],
      );
      const letters = await env.deadLetters.list(index);
      assert.deepEqual(letters.map((l) => `${l.kind}:${l.docId ?? l.subject}`).sort(), [
        'rejected:a1',
        'rejected:a3',
        `unreadable:${env.names.subject('article', 'bad')}`,
      ]);
      const status = await projectionStatus({ ...env.common(), projections: ['articles'] });
      assert.equal(status.projections[0]!.deadLetters.count, 3);
      // Running again neither duplicates dead letters nor changes anything.
      await projectOnce(env, { projections: ['articles'] });
      assert.equal((await env.deadLetters.summary(index)).count, 3);
    });
  });

  test('reindex: an article whose last message is unreadable is built from its last readable event', async () => {
    await withProjectorEnv(async (env) => {
      await env.append([
        makeEvent('ArticlePublished', 'a1', articleFields({ headline: 'Readable' })),
        makeEvent('ArticlePublished', 'a2', articleFields({ headline: 'Other' })),
      ]);
      await jetstream(env.nc).publish(
        env.names.subject('article', 'a1'),
        '{"type":"ArticleRevised","version":2}',
      );
      await projectOnce(env);
      const live = await dumpAll(env.client, env.names);
      const report = await reindexAll(env);
      assert.equal(report.unreadable, 1);
      assert.equal(report.stats.deadLettered, 3, 'one dead letter per projection index');
      assertSameDocs(await dumpAll(env.client, env.names), live);
      const a1 = (await env.client.get<ArticleDoc>({ index: env.names.alias('articles'), id: 'a1' }))
        ._source!;
      assert.equal(a1.headline, 'Readable');
    });
  });

  test('reindex of an empty log yields empty indexes; a concurrent reindex is refused', async () => {
    await withProjectorEnv(async (env) => {
      const report = await reindexAll(env);
      assert.equal(report.seq, 0);
      for (const result of report.indexes) {
        assert.equal(result.verification.actualDocs, 0);
        assert.deepEqual(await env.client.indices.getAlias({ name: result.alias! }).then(Object.keys), [
          result.index,
        ]);
      }
      // Hold the lock as a running reindex would.
      const { createLease } = await import('../../projectors/lease.ts');
      const lock = createLease({
        kv: env.leaseBucket,
        key: 'reindex.images',
        purpose: 'reindex of images',
        ttlMs: 5000,
      });
      await lock.acquire();
      try {
        await assert.rejects(
          reindexAll(env, { projections: ['images'] }),
          /reindex\.images is held by .*reindex of images|held by/,
        );
      } finally {
        await lock.release();
      }
      // Rollback returns to the previous (empty) indexes of the first run.
      const again = await reindexAll(env, { projections: ['bylines'], keep: 1 });
      const { rollback } = await import('../../projectors/rebuild/rollback.ts');
      const back = await rollback({ ...env.common(), projection: 'bylines' });
      assert.equal(back.to, report.indexes.find((r) => r.projection === 'bylines')!.index);
      assert.deepEqual(back.from, [again.indexes[0]!.index]);
    });
  });

  test('as-of builds the archive as it stood into an unaliased index', async () => {
    await withProjectorEnv(async (env) => {
      await env.append([
        makeEvent('BylineRegistered', 'b1', { name: 'Old name' }),
        makeEvent('ArticlePublished', 'a1', articleFields({ headline: 'First version', bylineIds: ['b1'] })),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const asOf = new Date();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await env.append([
        makeEvent('BylineUpdated', 'b1', { name: 'New name' }),
        makeEvent('ArticleRevised', 'a1', articleFields({ headline: 'Second version', bylineIds: ['b1'] })),
        makeEvent('ArticlePublished', 'a2', articleFields({ headline: 'Later' })),
      ]);
      const report = await reindexAll(env, { asOf, projections: ['articles'] });
      const [result] = report.indexes;
      assert.match(result!.index, /-articles-asof-/);
      assert.equal(result!.alias, undefined);
      assert.equal(report.seq, 2);
      const hits = await env.client.search<ArticleDoc>({ index: result!.index, query: { match_all: {} } });
      assert.deepEqual(
        hits.hits.hits.map((h) => [h._id, h._source!.headline, h._source!.bylines[0]?.name]),
        [['a1', 'First version', 'Old name']],
      );
      const aliases = await env.client.indices.getAlias({ index: result!.index });
      assert.deepEqual(aliases[result!.index]!.aliases, {});
    });
  });

  test('status reports lag before anything is projected', async () => {
    await withProjectorEnv(async (env) => {
      await env.append([makeEvent('BylineRegistered', 'b1', { name: 'x' })]);
      const before = await projectionStatus({ ...env.common(), projections: ['bylines'] });
      assert.equal(before.projections[0]!.index, undefined);
      await projectOnce(env, { projections: ['bylines'] });
      await env.append([makeEvent('BylineUpdated', 'b1', { name: 'y' })]);
      const after = await eventually(async () => {
        const s = await projectionStatus({ ...env.common(), projections: ['bylines'] });
        assert.equal(s.projections[0]!.lagEvents, 1);
        return s;
      });
      assert.equal(after.head.seq, 2);
      assert.equal(after.projections[0]!.docs, 1);
    });
  });

  test('leases: a renewal applied but answered too late is not taken for a takeover', async () => {
    await withProjectorEnv(async (env) => {
      const kv = env.leaseBucket;
      let late = 0;
      // The server applies the update, the answer misses the request's timeout (a busy server).
      const slowKv = Object.create(kv) as typeof kv;
      slowKv.update = async (...args: Parameters<typeof kv.update>) => {
        const revision = await kv.update(...args);
        if (late++ < 2) throw Object.assign(new Error('timeout'), { name: 'TimeoutError' });
        return revision;
      };
      const lease = createLease({ kv: slowKv, key: 'project.late', purpose: 'late', ttlMs: 600 });
      await lease.acquire();
      await eventually(() => late > 3, { timeout: 3000 });
      assert.equal(lease.lost.aborted, false, 'the lease was given up');
      const entry = await kv.get('project.late');
      assert.equal(entry?.json<{ purpose: string }>().purpose, 'late');
      await lease.release();
      assert.equal((await kv.get('project.late'))?.operation, 'DEL');
    });
  });

  test('leases: a release during a renewal frees the key (the renewal answered after the delete was due)', async () => {
    await withProjectorEnv(async (env) => {
      const kv = env.leaseBucket;
      let inFlight = false;
      let answer: (() => void) | undefined;
      // The server applies the renewal at once; its answer arrives only when the test says so.
      const slowKv = Object.create(kv) as typeof kv;
      slowKv.update = async (...args: Parameters<typeof kv.update>) => {
        const revision = await kv.update(...args);
        inFlight = true;
        await new Promise<void>((resolve) => {
          answer = resolve;
        });
        return revision;
      };
      const lease = createLease({ kv: slowKv, key: 'project.release', purpose: 'release', ttlMs: 600 });
      await lease.acquire();
      await eventually(() => inFlight, { timeout: 3000 });
      const released = lease.release();
      setTimeout(() => answer?.(), 100);
      await released;
      assert.equal((await kv.get('project.release'))?.operation, 'DEL', 'the key is free after release');
      const next = createLease({ kv, key: 'project.release', purpose: 'next', ttlMs: 600 });
      await next.acquire();
      await next.release();
    });
  });

  test('leases: one holder, refusal names it, expiry frees it, a taken-over holder learns it lost', async () => {
    await withProjectorEnv(async (env) => {
      const a = createLease({ kv: env.leaseBucket, key: 'project.test', purpose: 'first', ttlMs: 600 });
      const b = createLease({ kv: env.leaseBucket, key: 'project.test', purpose: 'second', ttlMs: 600 });
      await a.acquire();
      await assert.rejects(
        b.acquire(),
        (err: unknown) => err instanceof LeaseHeldError && err.holder.purpose === 'first',
      );
      // Someone else writes the key (as a takeover after expiry would): the holder notices on renewal.
      await env.leaseBucket.put(
        'project.test',
        JSON.stringify({
          owner: 'intruder',
          host: 'x',
          pid: 1,
          purpose: 'intruder',
          acquiredAt: '',
          expiresAt: new Date(Date.now() + 500).toISOString(),
        }),
      );
      await eventually(() => a.lost.aborted, { timeout: 3000 });
      // The intruder never renews: after its expiry the waiting contender gets the lease.
      const started = Date.now();
      await b.acquire({ wait: true });
      assert.ok(Date.now() - started < 3000);
      await a.release();
      await b.release();
      await b.release();
      const c = createLease({ kv: env.leaseBucket, key: 'project.test', purpose: 'third', ttlMs: 600 });
      await c.acquire();
      await c.release();
    });
  });
});
