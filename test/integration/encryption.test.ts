import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createContentLog } from '../../log/contentLog.ts';
import { newKey } from '../../log/crypto/sealing.ts';
import { openKeyRing } from '../../log/keyRing.ts';
import { loadMasterKey } from '../../log/masterKey.ts';
import { sampleArticle, sampleByline } from '../../log/sampleEvents.ts';
import type { ErasedEvent, ReplayItem } from '../../log/types.ts';
import { ConfigError, ErasedItemError } from '../../schemas/errors.ts';
import { createNames, type Names } from '../../schemas/names.ts';
import { uniqueNamespace } from '../support/env.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
let nc: NatsConnection;
let jsm: JetStreamManager;

before(async () => {
  nc = await connect({ servers: NATS_URL });
  jsm = await jetstreamManager(nc);
});
after(async () => {
  await nc.close();
});

/** A sealed log in a fresh namespace; its stream and keys bucket are deleted afterwards. */
async function withSealedLog(
  fn: (ctx: {
    log: ReturnType<typeof createContentLog>;
    keys: Awaited<ReturnType<typeof openKeyRing>>;
    names: Names;
    master: Uint8Array;
  }) => Promise<void>,
): Promise<void> {
  const names = createNames(uniqueNamespace());
  const master = newKey();
  const keys = await openKeyRing({ nc, names, masterKey: master });
  const log = createContentLog({ nc, names, keys });
  try {
    await log.init();
    await fn({ log, keys, names, master });
  } finally {
    await log.close();
    for (const name of [names.stream, `KV_${names.bucket('keys')}`])
      await jsm.streams.delete(name).catch(() => {});
  }
}

async function collect(iterable: AsyncIterable<ReplayItem>): Promise<ReplayItem[]> {
  const out: ReplayItem[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Every message of the stream as stored, read past the log's decoder. */
async function rawMessages(names: Names): Promise<string[]> {
  const info = await jsm.streams.info(names.stream);
  const out: string[] = [];
  for (let seq = 1; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(names.stream, { seq });
    if (m) out.push(Buffer.from(m.data).toString('utf8'));
  }
  return out;
}

describe('sealed content log (crypto-shredding)', () => {
  test('payloads are stored sealed, read back in plaintext by every read path', async () => {
    await withSealedLog(async ({ log, names }) => {
      const article = sampleArticle('a-1', { headline: 'CANARY-ZX81-HEADLINE' });
      const byline = sampleByline('b-1', 'CANARY-ZX81-NAME');
      const stats = await log.append([{ event: byline }, { event: article }]);
      assert.equal(stats.appended, 2);
      // Stored ids are keyed: not the content-derived ones.
      assert.ok(stats.outcomes.every((o, i) => o.eventId !== [byline, article][i]!.id));
      for (const raw of await rawMessages(names)) {
        assert.ok(!raw.includes('CANARY-ZX81'), 'no plaintext in the stream');
        assert.match(raw, /"sealed":\{"key":1,/);
      }
      const replayed = await collect(log.replay());
      assert.deepEqual(
        replayed.map((i) => (i.kind === 'event' ? i.stored.event.payload : i.kind)),
        [byline.payload, article.payload],
      );
      const history = await log.readEntity('article', 'a-1');
      assert.equal(
        history[0]!.event.type === 'ArticlePublished' && history[0]!.event.payload.headline,
        'CANARY-ZX81-HEADLINE',
      );
      assert.equal((await log.lastEvent('byline', 'b-1'))?.event.id, stats.outcomes[0]!.eventId);
      // A reader in another process (a fresh key ring, nothing cached) opens them too.
      const again = await collect(log.replay({ entityType: 'article' }));
      assert.equal(again[0]!.kind, 'event');
      // Re-appending the same decision is a duplicate: keyed ids are still deterministic.
      const repeat = await log.append([{ event: article }]);
      assert.equal(repeat.duplicates, 1);
    });
  });

  test('a fresh reader with the same master key opens the log; another master key is refused', async () => {
    await withSealedLog(async ({ log, names, master }) => {
      await log.append([{ event: sampleByline('b-1', 'CANARY-NAME') }]);
      const otherRing = await openKeyRing({ nc, names, masterKey: master });
      const reader = createContentLog({ nc, names, keys: otherRing });
      const items = await collect(reader.replay());
      assert.deepEqual(items[0]!.kind === 'event' ? items[0]!.stored.event.payload : undefined, {
        name: 'CANARY-NAME',
      });
      await assert.rejects(openKeyRing({ nc, names, masterKey: newKey() }), ConfigError);
      const plainReader = createContentLog({ nc, names });
      const unread = await collect(plainReader.replay());
      assert.equal(unread[0]!.kind, 'unreadable');
    });
  });

  test('erasing an item purges its keys: its events read as erased everywhere, other items stay', async () => {
    await withSealedLog(async ({ log, keys, names, master }) => {
      await log.append([
        { event: sampleArticle('a-1', { headline: 'CANARY-ERASE' }) },
        { event: sampleArticle('a-2', { headline: 'kept' }) },
      ]);
      assert.equal(await keys.erase('article', 'a-1'), 'active');
      assert.equal(await keys.erase('article', 'a-1'), 'erased', 'idempotent');
      const fresh = createContentLog({
        nc,
        names,
        keys: await openKeyRing({ nc, names, masterKey: master }),
      });
      for (const reader of [log, fresh]) {
        const items = await collect(reader.replay());
        assert.deepEqual(
          items.map((i) => i.kind),
          ['erased', 'event'],
        );
        const erased: ErasedEvent[] = [];
        assert.deepEqual(await reader.readEntity('article', 'a-1', { onErased: (e) => erased.push(e) }), []);
        assert.equal(erased.length, 1);
        assert.equal(erased[0]!.type, 'ArticlePublished');
      }
      // Nothing in the keys bucket holds a key of a-1 any more.
      const kv = await new Kvm(nc).open(names.bucket('keys'));
      assert.equal((await kv.get('article.a-1'))?.operation, 'PURGE');
      const appended = await log.append([{ event: sampleArticle('a-1', { basisSeq: 1 }) }]);
      assert.equal(appended.invalid, 1);
      assert.ok(
        appended.outcomes[0]!.status === 'invalid' && appended.outcomes[0]!.error instanceof ErasedItemError,
      );
    });
  });

  test('a new generation with the older ones dropped: earlier events erased, later ones readable', async () => {
    await withSealedLog(async ({ log, keys }) => {
      await log.append([{ event: sampleArticle('a-1', { headline: 'OLD' }) }]);
      const next = await keys.rotateItem('article', 'a-1');
      assert.equal(next.gen, 2);
      await log.append([{ event: sampleArticle('a-1', { headline: 'NEW', basisSeq: 1 }) }]);
      await keys.dropBefore('article', 'a-1', 2);
      const items = await collect(log.replay());
      assert.deepEqual(
        items.map((i) =>
          i.kind === 'event' && i.stored.event.type === 'ArticlePublished'
            ? i.stored.event.payload.headline
            : i.kind,
        ),
        ['erased', 'NEW'],
      );
    });
  });

  test('new items get their keys in one key pack per batch; an erasure takes one item out of it', async () => {
    await withSealedLog(async ({ log, keys, names, master }) => {
      // As ingest appends new items: their first events expect no earlier event.
      const stats = await log.append(
        ['a-1', 'a-2', 'a-3'].map((id) => ({
          event: sampleArticle(id, { headline: `CANARY-PACK-${id}` }),
          expectedLastSeq: 0,
        })),
      );
      assert.equal(stats.appended, 3);
      const kv = await new Kvm(nc).open(names.bucket('keys'));
      const entries: string[] = [];
      for await (const k of await kv.keys()) entries.push(k);
      const packs = entries.filter((k) => k.startsWith('pack.'));
      assert.equal(packs.length, 1, `one pack, no item entries: ${entries.join(', ')}`);
      assert.ok(!entries.some((k) => k.startsWith('article.')));
      const raw = await rawMessages(names);
      assert.ok(raw.every((m) => m.includes(`"pack":"${packs[0]!.slice('pack.'.length)}"`)));
      assert.ok(!raw.some((m) => m.includes('CANARY-PACK')));
      // The item's later event (same process) is sealed under the adopted pack key.
      await log.append([
        { event: sampleArticle('a-1', { headline: 'CANARY-PACK-rev', basisSeq: 1 }), expectedLastSeq: 1 },
      ]);
      assert.equal((await kv.get('article.a-1'))?.operation, undefined, 'no entry was created');

      const fresh = () =>
        openKeyRing({ nc, names, masterKey: master }).then((ring) =>
          createContentLog({ nc, names, keys: ring }),
        );
      const events = await (await fresh()).readEntity('article', 'a-1');
      assert.deepEqual(
        events.map((e) => e.event.type === 'ArticlePublished' && e.event.payload.headline),
        ['CANARY-PACK-a-1', 'CANARY-PACK-rev'],
      );
      assert.deepEqual(new Set(events.map((e) => e.keyPack)), new Set([packs[0]!.slice('pack.'.length)]));

      assert.equal(await keys.erase('article', 'a-1', [events[0]!.keyPack!]), 'active');
      for (const reader of [log, await fresh()]) {
        const items = await collect(reader.replay());
        assert.deepEqual(
          items.map((i) =>
            i.kind === 'event' && i.stored.event.type === 'ArticlePublished'
              ? i.stored.event.payload.headline
              : i.kind,
          ),
          ['erased', 'CANARY-PACK-a-2', 'CANARY-PACK-a-3', 'erased'],
        );
      }
      // A revision of the erased item is refused; so is a new first event.
      const again = await log.append([{ event: sampleArticle('a-1', { basisSeq: 9 }), expectedLastSeq: 0 }]);
      assert.equal(again.appended, 0);
    });
  });

  test('a refused first event leaves its pack key unused; the stored one stays the key', async () => {
    await withSealedLog(async ({ log, names, master }) => {
      await log.append([{ event: sampleArticle('a-1', { headline: 'FIRST' }), expectedLastSeq: 0 }]);
      // Another writer that believed a-1 new: refused by the server (a conflict), nothing stored.
      const other = createContentLog({
        nc,
        names,
        keys: await openKeyRing({ nc, names, masterKey: master }),
      });
      const refused = await other.append([
        { event: sampleArticle('a-1', { headline: 'SECOND', seed: 7 }), expectedLastSeq: 0 },
      ]);
      assert.equal(refused.conflicts, 1);
      // Its retry after reading the item appends under a key the readers find.
      const retried = await other.append([
        { event: sampleArticle('a-1', { headline: 'SECOND', basisSeq: 1 }), expectedLastSeq: 1 },
      ]);
      assert.equal(retried.appended, 1);
      const reader = createContentLog({
        nc,
        names,
        keys: await openKeyRing({ nc, names, masterKey: master }),
      });
      const events = await reader.readEntity('article', 'a-1');
      assert.deepEqual(
        events.map(
          (e) =>
            e.event.type !== 'ArticleErased' && 'headline' in e.event.payload && e.event.payload.headline,
        ),
        ['FIRST', 'SECOND'],
      );
      await other.close();
      await reader.close();
    });
  });

  test('redacting a packed item: its first generation leaves the pack, the restated one stays readable', async () => {
    await withSealedLog(async ({ log, keys, names, master }) => {
      await log.append([
        { event: sampleArticle('a-1', { headline: 'OLD' }), expectedLastSeq: 0 },
        { event: sampleArticle('a-2', { headline: 'NEIGHBOUR' }), expectedLastSeq: 0 },
      ]);
      const [first] = await log.readEntity('article', 'a-1');
      const next = await keys.rotateItem('article', 'a-1');
      assert.equal(next.gen, 2, 'the entry starts at the second generation');
      await log.append([{ event: sampleArticle('a-1', { headline: 'NEW', basisSeq: 1 }) }]);
      await keys.dropBefore('article', 'a-1', 2, [first!.keyPack!]);
      const reader = createContentLog({
        nc,
        names,
        keys: await openKeyRing({ nc, names, masterKey: master }),
      });
      for (const r of [log, reader]) {
        const items = await collect(r.replay());
        assert.deepEqual(
          items.map((i) =>
            i.kind === 'event' && i.stored.event.type === 'ArticlePublished'
              ? i.stored.event.payload.headline
              : i.kind,
          ),
          ['erased', 'NEIGHBOUR', 'NEW'],
        );
      }
      await reader.close();
    });
  });

  test('rotation re-wraps every data key under a new master key', async () => {
    await withSealedLog(async ({ log, keys, names, master }) => {
      await log.append([{ event: sampleByline('b-1', 'Rotated Name') }]);
      await log.append([{ event: sampleByline('b-2', 'Packed Name'), expectedLastSeq: 0 }]);
      const next = newKey();
      assert.ok((await keys.rewrap(next)) >= 3, 'the item key, the key pack and the event-id key');
      await assert.rejects(openKeyRing({ nc, names, masterKey: master }), ConfigError);
      const reader = createContentLog({ nc, names, keys: await openKeyRing({ nc, names, masterKey: next }) });
      const items = await collect(reader.replay());
      assert.deepEqual(
        items.map((i) => (i.kind === 'event' ? i.stored.event.payload : i.kind)),
        [{ name: 'Rotated Name' }, { name: 'Packed Name' }],
      );
      // Keyed ids survive rotation (the event-id key is re-wrapped, not replaced).
      assert.equal((await log.append([{ event: sampleByline('b-1', 'Rotated Name') }])).duplicates, 1);
    });
  });

  test('the master key file: generated once with mode 0600, then read; an explicit missing path is an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'presslog-master-'));
    try {
      const path = join(dir, 'ns', 'master.key');
      const [a, b] = await Promise.all([
        loadMasterKey(path, { create: true }),
        loadMasterKey(path, { create: true }),
      ]);
      assert.deepEqual(a.key, b.key, 'two processes starting together agree');
      assert.equal([a.created, b.created].filter(Boolean).length, 1);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.match(await readFile(path, 'utf8'), /^[0-9a-f]{64}\n$/);
      await assert.rejects(loadMasterKey(join(dir, 'absent.key')), /does not exist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
