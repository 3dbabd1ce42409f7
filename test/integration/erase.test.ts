import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { photo } from '../fixtures/images/craft.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { eventually, type TestNamespace, withNamespace } from '../support/env.ts';
import { allIndexed, namespaceCli, namespaceEnv, rawStream } from '../support/namespaceCli.ts';

const CANARY = {
  headline: 'QXHEADLINECANARY7731',
  body: 'QXBODYCANARY7731',
  caption: 'QXCAPTIONCANARY7731',
  name: 'QXNAMECANARY7731',
  revised: 'QXREVISEDCANARY7731',
};
const anyCanary = (text: string) => Object.values(CANARY).filter((c) => text.includes(c));

function records(revised: boolean): string {
  return [
    { kind: 'byline', id: 'b-canary', name: `Jane ${CANARY.name}` },
    { kind: 'byline', id: 'b-other', name: 'Other Writer' },
    {
      kind: 'image',
      id: 'img-canary',
      file: 'boats.jpg',
      caption: `Boats ${CANARY.caption}`,
      credit: 'Credit',
    },
    {
      kind: 'article',
      id: 'a-canary',
      headline: `Story ${revised ? CANARY.revised : CANARY.headline}`,
      body: `Body ${CANARY.body} text`,
      publishedAt: '2026-01-01',
      bylines: ['b-canary'],
      images: ['img-canary'],
    },
    {
      kind: 'article',
      id: 'a-kept',
      headline: 'A kept story about the harbour',
      body: 'It embeds the byline and the image that are erased.',
      publishedAt: '2026-01-02',
      bylines: ['b-canary', 'b-other'],
      images: ['img-canary'],
    },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n');
}

/** The bytes of every projection-state snapshot. */
async function snapshots(ns: TestNamespace): Promise<{ count: number; text: string }> {
  let os: Awaited<ReturnType<Objm['open']>>;
  try {
    os = await new Objm(jetstream(await ns.nats())).open(ns.names.bucket('state'));
  } catch {
    return { count: 0, text: '' };
  }
  let text = '';
  const list = await os.list();
  for (const info of list) {
    const data = await os.getBlob(info.name);
    if (data) text += Buffer.from(data).toString('latin1');
  }
  return { count: list.length, text };
}

async function redisText(ns: TestNamespace): Promise<string> {
  const redis = ns.redis();
  let text = '';
  for await (const keys of redis.scanStream({ match: `${ns.config.namespace}:*`, count: 1000 })) {
    for (const key of keys as string[]) {
      const type = await redis.type(key);
      if (type === 'hash') text += JSON.stringify(await redis.hgetall(key));
      else if (type === 'string') text += await redis.get(key);
      else if (type === 'list') text += JSON.stringify(await redis.lrange(key, 0, -1));
    }
  }
  return text;
}

async function blobFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(d, entry.name));
      else out.push(entry.name);
    }
  };
  await walk(dir);
  return out;
}

test('erase: article, image and byline canaries are gone from the log, every index, snapshots, Redis and blobs', async () => {
  await withNamespace(async (ns) => {
    const env = namespaceEnv(ns, { PRESSLOG_ACTOR: 'legal-desk' });
    const cli = namespaceCli(ns, { PRESSLOG_ACTOR: 'legal-desk' });
    const dir = await mkdtemp(join(tmpdir(), 'presslog-erase-'));
    try {
      await mkdir(join(dir, 'v1'));
      await mkdir(join(dir, 'v2'));
      for (const v of ['v1', 'v2']) {
        await writeFile(join(dir, v, 'boats.jpg'), photo());
        await writeFile(join(dir, v, 'records.ndjson'), records(v === 'v2'));
      }
      await cli(['init']);
      await cli(['ingest', join(dir, 'v1'), '--no-progress']);
      await cli(['images', 'process']);
      await cli(['ingest', join(dir, 'v2'), '--no-progress']);
      await cli(['reindex', 'all', '--no-progress']);
      await cli(['reindex', 'all', '--no-progress']); // the first one is kept for rollback
      await cli(['reindex', 'articles', '--as-of', new Date().toISOString(), '--no-progress']);
      // Before: the canaries are there (the test would prove nothing otherwise).
      assert.ok(anyCanary(await allIndexed(ns)).length >= 4, 'canaries indexed before');
      assert.ok((await snapshots(ns)).count > 0, 'a snapshot was saved');
      const blobsBefore = await blobFiles(ns.config.blobDir);
      assert.ok(blobsBefore.length >= 2, 'original and renditions stored');

      const erased = await cli([
        '--json',
        'erase',
        'article',
        'a-canary',
        '--reason',
        'court order',
        '--ticket',
        'LEGAL-1',
        '--public-note',
        'Removed by court order',
        '--verify',
      ]);
      const report = JSON.parse(erased.stdout);
      assert.equal(report.status, 'erased');
      assert.equal(report.audit.clean, true, JSON.stringify(report.audit));
      assert.ok(report.audit.checks.length >= 5, 'keys, stream, snapshots, indexes, dead letters, Redis');
      const image = JSON.parse(
        (await cli(['--json', 'erase', 'image', 'img-canary', '--reason', 'no rights'])).stdout,
      );
      assert.ok(image.imageJobsRemoved >= 1, 'the completed job (its result holds the placeholder) removed');
      assert.ok(image.blobsDeleted >= 2);
      await cli(['erase', 'byline', 'b-canary', '--reason', 'right to be forgotten']);
      await cli(['project', '--once']);
      for (const [type, id] of [
        ['article', 'a-canary'],
        ['image', 'img-canary'],
        ['byline', 'b-canary'],
      ]) {
        const audit = await cli(['audit', 'erasure', type!, id!]);
        assert.match(audit.stdout, /nothing of it found in any store checked/);
        assert.doesNotMatch(audit.stdout, /FOUND/);
      }
      // An item that was never erased fails the audit.
      await cli(['audit', 'erasure', 'article', 'a-kept'], 1);

      const raw = (await rawStream(ns)).text;
      assert.deepEqual(anyCanary(raw), [], 'no canary in any stored message');
      assert.match(raw, /"type":"ArticleErased"/);
      assert.match(raw, /"ticket":"LEGAL-1"/);
      assert.deepEqual(anyCanary(await allIndexed(ns)), [], 'no canary in any index');
      assert.deepEqual(anyCanary((await snapshots(ns)).text), [], 'no canary in snapshots');
      assert.deepEqual(anyCanary(await redisText(ns)), [], 'no canary in Redis');
      assert.equal((await blobFiles(ns.config.blobDir)).length, 0, 'original and renditions deleted');

      // The kept article stays, without the erased byline's name or image's caption.
      const kept = (await ns.es().get({ index: ns.names.alias('articles'), id: 'a-kept' }))._source as {
        bylines: { id: string; name?: string }[];
        images: { id: string; caption?: string }[];
      };
      assert.deepEqual(kept.bylines, [{ id: 'b-canary' }, { id: 'b-other', name: 'Other Writer' }]);
      assert.deepEqual(
        kept.images.map((i) => i.caption),
        [undefined],
      );
      const gone = await ns.es().exists({ index: ns.names.alias('articles'), id: 'a-canary' });
      assert.equal(gone, false);

      const history = JSON.parse((await cli(['--json', 'history', 'article', 'a-canary'])).stdout);
      assert.deepEqual(
        history.erased.map((e: { type: string }) => e.type),
        ['ArticlePublished', 'ArticleRevised'],
      );
      assert.deepEqual(
        history.events.map((e: { type: string }) => e.type),
        ['ArticleErased'],
      );
      assert.deepEqual(anyCanary(JSON.stringify(history)), []);

      // Idempotent; an unknown id is refused with exit 1.
      const again = await cli(['--json', 'erase', 'article', 'a-canary', '--reason', 'court order']);
      assert.equal(JSON.parse(again.stdout).status, 'already');
      const unknown = await cli(['erase', 'article', 'no-such-article', '--reason', 'x'], 1);
      assert.match(unknown.stderr, /no article "no-such-article" in the log/);
      // Nothing may be written to an erased item again.
      const reingest = await runCli(['ingest', join(dir, 'v1'), '--no-progress'], env);
      assert.deepEqual(
        anyCanary((await rawStream(ns)).text),
        [],
        `re-ingest stored nothing: ${reingest.stdout}`,
      );

      // A full rebuild gives the same documents: the erased ones stay out.
      await cli(['reindex', 'all', '--no-progress']);
      const after = anyCanary(await allIndexed(ns));
      assert.deepEqual(after, []);
      assert.equal((await ns.es().count({ index: ns.names.alias('articles') })).count, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('erase --history-only: earlier versions read as erased, the current one stays searchable', async () => {
  await withNamespace(async (ns) => {
    const cli = namespaceCli(ns);
    const dir = await mkdtemp(join(tmpdir(), 'presslog-redact-'));
    const article = (body: string) =>
      JSON.stringify({
        kind: 'article',
        id: 'a-r',
        headline: 'Harbour vote',
        body,
        publishedAt: '2026-01-01',
      });
    try {
      await writeFile(join(dir, 'v1.ndjson'), article(`Said ${CANARY.name} at the meeting`));
      await writeFile(join(dir, 'v2.ndjson'), article('Said a resident at the meeting'));
      await cli(['init']);
      await cli(['ingest', join(dir, 'v1.ndjson'), '--no-progress']);
      const between = new Date().toISOString();
      await cli(['ingest', join(dir, 'v2.ndjson'), '--no-progress']);
      await cli(['reindex', 'all', '--no-progress']);
      const before = JSON.parse((await cli(['--json', 'show', 'article', 'a-r', '--as-of', between])).stdout);
      assert.match(before.state.fields.body, new RegExp(CANARY.name));

      const run = await cli([
        '--json',
        'erase',
        'article',
        'a-r',
        '--history-only',
        '--reason',
        'name of a minor',
      ]);
      assert.equal(JSON.parse(run.stdout).erasedMessages, 2);
      await cli(['project', '--once']);

      assert.deepEqual(anyCanary((await rawStream(ns)).text), [], 'no stored message holds the old version');
      const asOf = JSON.parse((await cli(['--json', 'show', 'article', 'a-r', '--as-of', between])).stdout);
      assert.equal(asOf.state, null);
      assert.equal(asOf.erased, 1);
      const history = JSON.parse((await cli(['--json', 'history', 'article', 'a-r'])).stdout);
      assert.deepEqual(
        history.erased.map((e: { type: string }) => e.type),
        ['ArticlePublished', 'ArticleRevised'],
      );
      assert.deepEqual(
        history.events.map((e: { type: string }) => e.type),
        ['ArticleHistoryErased', 'ArticleRevised'],
      );
      const now = JSON.parse((await cli(['--json', 'show', 'article', 'a-r'])).stdout);
      assert.equal(now.state.fields.body, 'Said a resident at the meeting');
      const found = JSON.parse((await cli(['--json', 'search', 'resident'])).stdout);
      assert.deepEqual(
        found.hits.map((h: { id: string }) => h.id),
        ['a-r'],
      );
      assert.deepEqual(anyCanary(await allIndexed(ns)), []);
      // A rebuild gives the same current document.
      await cli(['reindex', 'all', '--no-progress']);
      const rebuilt = JSON.parse((await cli(['--json', 'search', 'resident'])).stdout);
      assert.deepEqual(
        rebuilt.hits.map((h: { id: string }) => h.id),
        ['a-r'],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('erase while the live projector runs: the erasure reaches the live index within seconds, with fan-out', async () => {
  await withNamespace(async (ns) => {
    const env = namespaceEnv(ns);
    const cli = namespaceCli(ns);
    const dir = await mkdtemp(join(tmpdir(), 'presslog-live-'));
    const projector = spawn(process.execPath, ['bin/presslog.js', 'project'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    try {
      const lines = [
        { kind: 'byline', id: 'b-live', name: `Live ${CANARY.name}` },
        {
          kind: 'article',
          id: 'a-live',
          headline: 'Live story',
          body: 'text',
          publishedAt: '2026-01-01',
          bylines: ['b-live'],
        },
      ];
      await writeFile(join(dir, 'r.ndjson'), lines.map((l) => JSON.stringify(l)).join('\n'));
      await cli(['init']);
      await cli(['ingest', dir, '--no-progress']);
      const es = ns.es();
      const article = async () => {
        await es.indices.refresh({ index: ns.names.alias('articles') }, { ignore: [404] });
        return (await es.get({ index: ns.names.alias('articles'), id: 'a-live' }, { ignore: [404] }))
          ._source as { bylines: { id: string; name?: string }[] } | undefined;
      };
      await eventually(async () => assert.equal((await article())?.bylines[0]?.name, `Live ${CANARY.name}`), {
        timeout: 60_000,
      });
      await cli(['erase', 'byline', 'b-live', '--reason', 'right to be forgotten']);
      // The running projector applies the erasure and re-renders the article (fan-out).
      await eventually(async () => assert.deepEqual((await article())?.bylines, [{ id: 'b-live' }]), {
        timeout: 30_000,
      });
      assert.deepEqual(anyCanary(await allIndexed(ns)), []);
    } finally {
      projector.kill('SIGTERM');
      await new Promise((resolve) => projector.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
