import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type JetStreamManager, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { createContentLog } from '../../log/contentLog.ts';
import { sampleArticle, sampleByline, sampleEvent } from '../../log/sampleEvents.ts';
import type { ReplayItem, StoredEvent } from '../../log/types.ts';
import { MAX_BODY_CHARS } from '../../schemas/articleEvents.ts';
import {
  ConcurrencyError,
  ConfigError,
  InvalidEventError,
  InvalidRecordError,
  TransientError,
} from '../../schemas/errors.ts';
import { createNames, type Names } from '../../schemas/names.ts';
import type { ArticleState, BylineState } from '../../schemas/state.ts';
import { uniqueNamespace } from '../support/env.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
// Only the stream is created here, so deleting it is the whole cleanup (no cleanupNamespace round trips).
const uniqueNames = (): Names => createNames(uniqueNamespace());

let nc: NatsConnection;
let jsm: JetStreamManager;

before(async () => {
  nc = await connect({ servers: NATS_URL });
  jsm = await jetstreamManager(nc);
});
after(async () => {
  await nc.close();
});

/** A log over the shared connection in its own namespace; the stream is deleted afterwards. */
async function withLog(
  fn: (log: ReturnType<typeof createContentLog>, names: Names) => Promise<void>,
  options: { init?: boolean } = {},
): Promise<void> {
  const names = uniqueNames();
  const log = createContentLog({ nc, names });
  try {
    if (options.init !== false) await log.init();
    await fn(log, names);
  } finally {
    await log.close();
    await jsm.streams.delete(names.stream).catch(() => {});
  }
}

async function collect(iterable: AsyncIterable<ReplayItem>): Promise<ReplayItem[]> {
  const out: ReplayItem[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const events = (items: ReplayItem[]): StoredEvent[] =>
  items.flatMap((i) => (i.kind === 'event' ? [i.stored] : []));

describe('content log', () => {
  test('init creates the stream with the immutable settings, then verifies it', async () => {
    await withLog(
      async (log, names) => {
        const first = await log.init();
        assert.deepEqual(first, { stream: names.stream, created: true, drift: [] });
        const info = await jsm.streams.info(names.stream);
        assert.equal(info.config.deny_delete, true);
        assert.equal(info.config.deny_purge, true);
        assert.equal(info.config.allow_direct, true);
        assert.equal(info.config.storage, StorageType.File);
        assert.deepEqual(info.config.subjects, [names.allSubjects]);
        assert.equal(info.config.max_age, 0);
        assert.equal(info.config.max_bytes, -1);
        const second = await log.init();
        assert.deepEqual(second, { stream: names.stream, created: false, drift: [] });
      },
      { init: false },
    );
  });

  test('init reports drift of an existing stream and changes nothing', async () => {
    await withLog(
      async (log, names) => {
        await jsm.streams.add({
          name: names.stream,
          subjects: [names.allSubjects],
          storage: StorageType.Memory,
          max_age: 3_600_000_000_000,
          duplicate_window: 10_000_000_000,
          deny_delete: false,
        });
        const report = await log.init();
        assert.equal(report.created, false);
        const fields = report.drift.map((d) => d.field).sort();
        assert.deepEqual(fields, [
          'allow_direct',
          'deny_delete',
          'deny_purge',
          'duplicate_window',
          'max_age',
          'storage',
        ]);
        const storage = report.drift.find((d) => d.field === 'storage');
        assert.deepEqual(storage, { field: 'storage', expected: 'file', actual: 'memory' });
        const info = await jsm.streams.info(names.stream);
        assert.equal(info.config.deny_delete, false, 'init must not silently update the stream');
        // Reads still work without allow_direct (through the stream API instead of direct gets).
        await log.append([{ event: sampleByline('b-1') }, { event: sampleByline('b-2') }]);
        assert.equal((await log.lastEvent('byline', 'b-2'))?.seq, 2);
        assert.deepEqual(
          (await log.readEntity('byline', 'b-1')).map((e) => e.seq),
          [1],
        );
      },
      { init: false },
    );
  });

  test('append reports appended, then duplicate on re-append of the same event', async () => {
    await withLog(async (log) => {
      const batch = [sampleByline('b-1'), sampleByline('b-2', 'Bo'), sampleArticle('a-1')].map((event) => ({
        event,
      }));
      const first = await log.append(batch);
      assert.equal(first.appended, 3);
      assert.deepEqual(
        first.outcomes.map((o) => o.status),
        ['appended', 'appended', 'appended'],
      );
      assert.equal(first.lastSeq, 3);
      const again = await log.append(batch);
      assert.equal(again.appended, 0);
      assert.equal(again.duplicates, 3);
      assert.deepEqual(
        again.outcomes.map((o) => (o.status === 'duplicate' ? o.seq : o.status)),
        [1, 2, 3],
      );
      assert.equal((await log.head()).messages, 3);
    });
  });

  test('expectedLastSeq: a stale writer gets a ConcurrencyError, never an overwrite', async () => {
    await withLog(async (log, names) => {
      const created = await log.append([{ event: sampleByline('b-1', 'Ann'), expectedLastSeq: 0 }]);
      assert.equal(created.outcomes[0]?.status, 'appended');
      // Two writers decided on seq 1; the first wins.
      const winner = sampleEvent('BylineUpdated', 'b-1', { name: 'Ann A.' }, { basisSeq: 1 });
      const loser = sampleEvent('BylineUpdated', 'b-1', { name: 'Ann B.' }, { basisSeq: 1 });
      assert.equal((await log.append([{ event: winner, expectedLastSeq: 1 }])).appended, 1);
      const lost = await log.append([{ event: loser, expectedLastSeq: 1 }]);
      const outcome = lost.outcomes[0]!;
      assert.equal(outcome.status, 'conflict');
      assert.ok(outcome.status === 'conflict' && outcome.error instanceof ConcurrencyError);
      assert.equal((outcome.error as ConcurrencyError).subject, names.subject('byline', 'b-1'));
      assert.equal((outcome.error as ConcurrencyError).expectedSeq, 1);
      // "must be new" (0) on an existing entity conflicts too
      const again = await log.append([{ event: sampleByline('b-1', 'Other'), expectedLastSeq: 0 }]);
      assert.equal(again.outcomes[0]?.status, 'conflict');
      const history = await log.readEntity('byline', 'b-1');
      assert.deepEqual(
        history.map((s) => (s.event.payload as { name: string }).name),
        ['Ann', 'Ann A.'],
      );
    });
  });

  test('invalid events are never published and the error names event, field and rule', async () => {
    await withLog(async (log) => {
      const bad = { ...sampleByline('b-1'), payload: { name: '' } };
      const badId = { ...sampleByline('b-2'), entityId: 'a.b' };
      const stats = await log.append([
        { event: bad as never },
        { event: badId as never },
        { event: sampleByline('b-3') },
      ]);
      assert.deepEqual(
        stats.outcomes.map((o) => o.status),
        ['invalid', 'invalid', 'appended'],
      );
      const error = (stats.outcomes[0] as { error: Error }).error;
      assert.ok(error instanceof InvalidEventError);
      assert.match(error.message, new RegExp(bad.id));
      assert.match(error.message, /\/payload\/name/);
      assert.match((stats.outcomes[1] as { error: Error }).error.message, /\/entityId/);
      assert.equal((await log.head()).messages, 1);
    });
  });

  test('readEntity is per entity (b-1 does not see b-10) and in order', async () => {
    await withLog(async (log) => {
      await log.append([
        { event: sampleByline('b-1', 'One') },
        { event: sampleByline('b-10', 'Ten') },
        { event: sampleEvent('BylineUpdated', 'b-1', { name: 'One again' }, { basisSeq: 1 }) },
        { event: sampleArticle('b-1') },
      ]);
      const one = await log.readEntity('byline', 'b-1');
      assert.deepEqual(
        one.map((s) => [s.seq, s.event.type]),
        [
          [1, 'BylineRegistered'],
          [3, 'BylineUpdated'],
        ],
      );
      const ten = await log.readEntity('byline', 'b-10');
      assert.deepEqual(
        ten.map((s) => s.seq),
        [2],
      );
      assert.deepEqual(await log.readEntity('byline', 'nobody'), []);
      const last = await log.lastEvent('byline', 'b-1');
      assert.equal(last?.seq, 3);
      assert.equal(await log.lastEvent('byline', 'nobody'), undefined);
      // Past the first few direct gets, the rest of a long history comes through a consumer.
      const more = Array.from({ length: 20 }, (_, k) => [
        { event: sampleEvent('BylineUpdated', 'b-1', { name: `One ${k}` }, { basisSeq: 100 + k }) },
        { event: sampleEvent('BylineUpdated', 'b-10', { name: `Ten ${k}` }, { basisSeq: 100 + k }) },
      ]).flat();
      assert.equal((await log.append(more)).appended, 40);
      const long = await log.readEntity('byline', 'b-1');
      assert.equal(long.length, 22);
      assert.ok(long.every((s) => s.event.entityId === 'b-1'));
      assert.deepEqual(
        long.map((s) => s.seq),
        [...long.map((s) => s.seq)].sort((a, b) => a - b),
      );
      assert.equal((long.at(-1)!.event.payload as { name: string }).name, 'One 19');
    });
  });

  test('replay yields every event in order with seq, time and stored version; ranges and entity filter', async () => {
    await withLog(async (log) => {
      const batch = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? sampleByline(`b-${i}`) : sampleArticle(`a-${i}`),
      ).map((event) => ({ event }));
      await log.append(batch);
      const all = events(await collect(log.replay()));
      assert.deepEqual(
        all.map((s) => s.seq),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.ok(all.every((s) => s.time instanceof Date && s.storedVersion >= 1));
      const range = events(await collect(log.replay({ fromSeq: 5, untilSeq: 9 })));
      assert.deepEqual(
        range.map((s) => s.seq),
        [5, 6, 7, 8, 9],
      );
      const articles = events(await collect(log.replay({ entityType: 'article' })));
      assert.equal(articles.length, 10);
      assert.ok(articles.every((s) => s.event.entityType === 'article'));
      // a filter whose last match is below the head still ends
      const bylinesFrom = events(await collect(log.replay({ entityType: 'byline', fromSeq: 19 })));
      assert.deepEqual(
        bylinesFrom.map((s) => s.seq),
        [19],
      );
      assert.deepEqual(await collect(log.replay({ fromSeq: 21 })), []);
    });
  });

  test('replay of an empty log ends at once', async () => {
    await withLog(async (log) => {
      assert.deepEqual(await collect(log.replay()), []);
      assert.deepEqual(await collect(log.replay({ entityType: 'image' })), []);
    });
  });

  test('lastSequences: the last message of each subject in stream order; a recreated consumer never yields another', async () => {
    await withLog(async (log, names) => {
      // 6,000 articles with one event (seq 1-6000), then 1,000 with two (6001-7000, 7001-8000).
      const articles = (prefix: string, count: number, headline: string) =>
        Array.from({ length: count }, (_, i) => ({
          event: sampleArticle(`${prefix}-${i}`, { bodyChars: 40, headline }),
        }));
      for (const batch of [
        articles('a', 6_000, 'One'),
        articles('b', 1_000, 'First'),
        articles('b', 1_000, 'Second'),
      ]) {
        const stats = await log.append(batch);
        assert.equal(stats.appended, batch.length);
      }
      const expected = [
        ...Array.from({ length: 6_000 }, (_, i) => i + 1),
        ...Array.from({ length: 1_000 }, (_, i) => 7_001 + i),
      ];
      const all: { id: string; seq: number }[] = [];
      for await (const item of log.lastSequences!('article')) all.push(item);
      assert.deepEqual(
        all.map((item) => item.seq),
        expected,
      );
      assert.deepEqual(
        [all[0]!.id, all[5_999]!.id, all[6_000]!.id, all[6_999]!.id],
        ['a-0', 'a-5999', 'b-0', 'b-999'],
      );

      // The consumer deleted after the first item: the ordered consumer recreates it from
      // a start sequence, which would deliver b-*'s first events (6001-7000) too.
      const lastOnes = new Set(expected);
      const seen: number[] = [];
      let deleted = 0;
      try {
        for await (const { seq } of log.lastSequences!('article')) {
          seen.push(seq);
          if (deleted === 0) {
            for await (const consumer of await jsm.consumers.list(names.stream)) {
              await jsm.consumers.delete(names.stream, consumer.name);
              deleted++;
            }
          }
        }
        assert.deepEqual(seen, expected);
      } catch (err) {
        assert.ok(err instanceof TransientError, `${(err as Error).name}: ${(err as Error).message}`);
      }
      assert.equal(deleted, 1);
      assert.deepEqual(
        seen.filter((seq) => !lastOnes.has(seq)),
        [],
      );
    });
  });

  test('a v1 event in the log is upcast to v2 on replay and read', async () => {
    await withLog(async (log, names) => {
      const v1 = {
        id: 'legacy-1',
        type: 'ArticlePublished',
        version: 1,
        entityType: 'article',
        entityId: 'a-old',
        occurredAt: '2015-05-05T10:00:00Z',
        recordedAt: '2015-05-05T10:00:01Z',
        source: 'legacy-cms',
        payload: {
          headline: 'Old story',
          body: 'Text.',
          publishedAt: '2015-05-05T10:00:00Z',
          bylineId: 'b-7',
          imageIds: [],
          tags: [],
        },
      };
      // Written by an older presslog: published straight to the subject, bypassing append's currentOnly check.
      await nc.request(names.subject('article', 'a-old'), JSON.stringify(v1));
      await log.append([{ event: sampleArticle('a-new') }]);
      const replayed = events(await collect(log.replay()));
      const old = replayed.find((s) => s.event.entityId === 'a-old')!;
      assert.equal(old.storedVersion, 1);
      assert.equal(old.event.version, 2);
      assert.deepEqual((old.event.payload as { bylineIds: string[] }).bylineIds, ['b-7']);
      assert.equal('bylineId' in (old.event.payload as object), false);
      const state = (await log.stateAsOf('article', 'a-old')) as ArticleState;
      assert.deepEqual(state.fields.bylineIds, ['b-7']);
      // append refuses old versions: only the current shape is written
      const stats = await log.append([{ event: v1 as never }]);
      assert.equal(stats.outcomes[0]?.status, 'invalid');
    });
  });

  test('unreadable messages are reported by replay, never thrown', async () => {
    await withLog(async (log, names) => {
      await log.append([{ event: sampleByline('b-1') }]);
      await nc.request(names.subject('byline', 'b-2'), 'not json');
      await nc.request(names.subject('byline', 'b-3'), JSON.stringify({ type: 'Nope', version: 1 }));
      const mismatched = sampleByline('b-4');
      await nc.request(names.subject('byline', 'b-5'), JSON.stringify(mismatched));
      await log.append([{ event: sampleByline('b-6') }]);
      const items = await collect(log.replay());
      assert.deepEqual(
        items.map((i) => i.kind),
        ['event', 'unreadable', 'unreadable', 'unreadable', 'event'],
      );
      const reasons = items.flatMap((i) => (i.kind === 'unreadable' ? [i.unreadable.reason] : []));
      assert.match(reasons[0]!, /not JSON/);
      assert.match(reasons[1]!, /unknown event type/);
      assert.match(reasons[2]!, /stored under/);
      await assert.rejects(log.readEntity('byline', 'b-2'), InvalidEventError);
      const seen: number[] = [];
      assert.deepEqual(await log.readEntity('byline', 'b-2', { onUnreadable: (u) => seen.push(u.seq) }), []);
      assert.deepEqual(seen, [2]);
    });
  });

  test('history order and state as of a time (stored and occurred)', async () => {
    await withLog(async (log) => {
      const e1 = sampleByline('b-1', 'First', { occurredAt: '2020-01-01T00:00:00Z' });
      await log.append([{ event: e1, expectedLastSeq: 0 }]);
      const between = new Date();
      await new Promise((r) => setTimeout(r, 20));
      const e2 = sampleEvent(
        'BylineUpdated',
        'b-1',
        { name: 'Second' },
        { basisSeq: 1, occurredAt: '2021-01-01T00:00:00Z' },
      );
      await log.append([{ event: e2, expectedLastSeq: 1 }]);
      const history = await log.readEntity('byline', 'b-1');
      assert.deepEqual(
        history.map((s) => s.event.id),
        [e1.id, e2.id],
      );
      assert.ok(history[0]!.time <= between && between < history[1]!.time);
      const then = (await log.stateAsOf('byline', 'b-1', between)) as BylineState;
      assert.equal(then.fields.name, 'First');
      assert.equal(then.lastSeq, 1);
      const now = (await log.stateAsOf('byline', 'b-1')) as BylineState;
      assert.equal(now.fields.name, 'Second');
      assert.equal(await log.stateAsOf('byline', 'b-1', new Date('2000-01-01T00:00:00Z')), undefined);
      const occurred = (await log.stateAsOf('byline', 'b-1', new Date('2020-06-01T00:00:00Z'), {
        basis: 'occurred',
      })) as BylineState;
      assert.equal(occurred.fields.name, 'First');
    });
  });

  test('the server refuses message delete and purge', async () => {
    await withLog(async (log, names) => {
      await log.append([{ event: sampleByline('b-1') }, { event: sampleByline('b-2') }]);
      await assert.rejects(jsm.streams.deleteMessage(names.stream, 1), /message delete not permitted/);
      await assert.rejects(jsm.streams.deleteMessage(names.stream, 2, false), /message delete not permitted/);
      await assert.rejects(jsm.streams.purge(names.stream), /purge not permitted/);
      await assert.rejects(
        jsm.streams.purge(names.stream, { filter: names.subject('byline', 'b-1') }),
        /purge not permitted/,
      );
      // Rollup headers would also erase history; the stream does not allow them.
      const h = headers();
      h.set('Nats-Rollup', 'sub');
      await assert.rejects(
        nc.request(names.subject('byline', 'b-1'), 'x', { headers: h, timeout: 2_000 }).then((m) => {
          const reply = m.json<{ error?: { description: string } }>();
          if (reply.error) throw new Error(reply.error.description);
        }),
        /rollup/i,
      );
      assert.equal((await log.head()).messages, 2);
    });
  });

  test('pipelined batch: per-entity prefix after a conflict, chained expectations', async () => {
    await withLog(async (log) => {
      await log.append([{ event: sampleByline('b-1', 'Existing') }]);
      const stats = await log.append([
        // conflicts: b-1 already has seq 1
        { event: sampleByline('b-1', 'Again'), expectedLastSeq: 0 },
        // same entity later in the batch: not sent, because its predecessor was not appended
        { event: sampleEvent('BylineUpdated', 'b-1', { name: 'x' }, { basisSeq: 9 }) },
        // a new entity with a chain of two conditional events
        { event: sampleByline('b-2', 'Two'), expectedLastSeq: 0 },
        {
          event: sampleEvent('BylineUpdated', 'b-2', { name: 'Two v2' }, { basisSeq: 3 }),
          expectedLastSeq: 0,
        },
      ]);
      assert.deepEqual(
        stats.outcomes.map((o) => o.status),
        ['conflict', 'conflict', 'appended', 'appended'],
      );
      const chain = stats.outcomes.slice(2).map((o) => (o.status === 'appended' ? o.seq : -1));
      assert.deepEqual(chain, [2, 3]);
      assert.equal((await log.head()).messages, 3);
    });
  });

  test('an event over the payload limit is rejected with its id and size; the body cap in ASCII fits', async () => {
    await withLog(async (log) => {
      const atCap = sampleArticle('a-cap', { bodyChars: MAX_BODY_CHARS });
      const multibyte = sampleEvent('ArticlePublished', 'a-cjk', {
        ...sampleArticle('a-cjk').payload,
        body: '記'.repeat(MAX_BODY_CHARS),
      });
      const stats = await log.append([{ event: atCap }, { event: multibyte }]);
      assert.equal(stats.outcomes[0]?.status, 'appended');
      const rejected = stats.outcomes[1]!;
      assert.equal(rejected.status, 'invalid');
      const message = (rejected as { error: Error }).error.message;
      assert.match(message, new RegExp(multibyte.id));
      assert.match(message, /encoded event is 157\d{4} bytes; the log accepts at most 1048064/);
      assert.equal((await log.head()).messages, 1);
    });
  });

  test('replay of a 10k-event log in order with bounded memory, also for a slow reader', async () => {
    // A real gc() makes heap samples comparable; the flag must be set before the context exists.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const memory = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    await withLog(async (log) => {
      const total = 10_000;
      for (let start = 0; start < total; start += 2_000) {
        const batch = Array.from({ length: 2_000 }, (_, i) => ({ event: sampleArticle(`a-${start + i}`) }));
        const stats = await log.append(batch);
        assert.equal(stats.appended, batch.length);
      }
      const head = await log.head();
      assert.equal(head.messages, total);
      const baseline = memory();
      let peak = -Infinity;
      let count = 0;
      let expected = 1;
      for await (const item of log.replay()) {
        assert.equal(item.kind, 'event');
        assert.equal(item.kind === 'event' && item.stored.seq, expected++);
        count++;
        // A slow reader: if the client buffered ahead without bound, the whole log would arrive now.
        if (count === 1) await new Promise((r) => setTimeout(r, 500));
        if (count % 1_000 === 1) peak = Math.max(peak, memory() - baseline);
      }
      assert.equal(count, total);
      const logBytes = head.bytes;
      // The log is ~16 MB on the wire; a bounded reader holds a few hundred messages at most.
      // (Measured: flat with the default batch of 512; +27 MB with a batch of 20,000.)
      assert.ok(peak < logBytes / 2, `heap grew ${peak} bytes during replay of a ${logBytes}-byte log`);
      assert.ok(peak < 8 * 1024 * 1024, `heap grew ${(peak / 1048576).toFixed(1)} MiB during replay`);
    });
  });

  test('replay: untilTime, abort and close stop it; an aborted replay throws rather than ending quietly', async () => {
    await withLog(async (log) => {
      await log.append(Array.from({ length: 5 }, (_, i) => ({ event: sampleByline(`b-${i}`) })));
      const cut = new Date();
      await new Promise((r) => setTimeout(r, 20));
      await log.append(Array.from({ length: 5 }, (_, i) => ({ event: sampleByline(`c-${i}`) })));
      assert.equal(events(await collect(log.replay({ untilTime: cut }))).length, 5);

      const controller = new AbortController();
      const reason = new Error('stop now');
      await assert.rejects(
        (async () => {
          for await (const _ of log.replay({ signal: controller.signal })) controller.abort(reason);
        })(),
        (err) => err === reason,
      );
      await assert.rejects(
        collect(log.replay({ signal: AbortSignal.abort(reason) })),
        (err) => err === reason,
      );

      const iterator = log.replay()[Symbol.asyncIterator]();
      assert.equal((await iterator.next()).done, false);
      await log.close();
      await assert.rejects(
        (async () => {
          for (let r = await iterator.next(); !r.done; r = await iterator.next()) {}
        })(),
        /closed during a read/,
      );
    });
  });

  test('append with an aborted signal sends nothing; append without a stream says to run init', async () => {
    await withLog(async (log) => {
      const stats = await log.append([{ event: sampleByline('b-1') }], {
        signal: AbortSignal.abort(new Error('bye')),
      });
      assert.equal(stats.failed, 1);
      assert.match((stats.outcomes[0] as { error: Error }).error.message, /not sent: bye/);
      assert.equal((await log.head()).messages, 0);
    });
    await withLog(
      async (log) => {
        const stats = await log.append([{ event: sampleByline('b-1') }, { event: sampleByline('b-2') }]);
        assert.equal(stats.failed, 2);
        assert.match((stats.outcomes[0] as { error: Error }).error.message, /presslog init/);
        await assert.rejects(
          log.head(),
          (err: Error) => err instanceof ConfigError && /presslog init/.test(err.message),
        );
        await assert.rejects(log.readEntity('byline', 'b-1'), ConfigError);
        await assert.rejects(log.readEntity('byline', 'b.1'), InvalidRecordError);
      },
      { init: false },
    );
  });

  test('close is idempotent, also before first use; use after close fails clearly', async () => {
    const log = createContentLog({ servers: NATS_URL, names: uniqueNames() });
    await Promise.all([log.close(), log.close()]);
    await log.close();
    await assert.rejects(log.head(), /closed/);
  });

  test('NATS unreachable: a clear TransientError within a few seconds', async () => {
    const log = createContentLog({
      servers: 'nats://127.0.0.1:1',
      names: uniqueNames(),
      connectTimeoutMs: 2_000,
    });
    const started = Date.now();
    try {
      await assert.rejects(log.init(), (err: Error) => {
        assert.ok(err instanceof TransientError);
        assert.match(err.message, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
        return true;
      });
      assert.ok(Date.now() - started < 5_000);
    } finally {
      await log.close();
    }
  });
});
