import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openSealed, sealEvent } from '../../log/crypto/sealedCodec.ts';
import {
  isSealedPayload,
  keyedEventId,
  newKey,
  openPayloadBytes,
  sealPayload,
  unwrapKey,
  wrapKey,
} from '../../log/crypto/sealing.ts';
import { sampleArticle } from '../../log/sampleEvents.ts';

const meta = { seq: 7, time: new Date('2026-01-01T00:00:00Z'), subject: 'ns.content.article.a-1' };

describe('sealing (crypto-shredding, pure)', () => {
  test('a sealed event holds no plaintext, opens back to the same payload, and its id is keyed', () => {
    const event = sampleArticle('a-1', { headline: 'CANARY-HEADLINE-42' });
    const dataKey = { gen: 1, key: newKey() };
    const idKey = newKey();
    const { id, bytes } = sealEvent(event, dataKey, idKey);
    const text = Buffer.from(bytes).toString('utf8');
    assert.ok(!text.includes('CANARY-HEADLINE-42'));
    assert.ok(!text.includes(event.payload.body.slice(0, 30)));
    assert.ok(!text.includes(event.id), 'the content-derived id is not stored');
    assert.equal(id, keyedEventId(idKey, event.id));
    assert.notEqual(id, keyedEventId(newKey(), event.id), 'another key gives another id');
    const stored = JSON.parse(text);
    assert.ok(isSealedPayload(stored.payload));
    const opened = openSealed(stored, meta, { lookup: () => dataKey.key });
    assert.ok('value' in opened);
    assert.deepEqual((opened.value as typeof event).payload, event.payload);
  });

  test('a missing key reads as erased, an uncached one as a key miss, a wrong one as unreadable', () => {
    const event = sampleArticle('a-1');
    const stored = JSON.parse(
      Buffer.from(sealEvent(event, { gen: 1, key: newKey() }, newKey()).bytes).toString(),
    );
    const erased = openSealed(stored, meta, { lookup: () => 'erased' });
    assert.ok('item' in erased && erased.item.kind === 'erased');
    assert.equal(erased.item.erased.entityId, 'a-1');
    assert.equal(erased.item.erased.type, 'ArticlePublished');
    const miss = openSealed(stored, meta, { lookup: () => undefined });
    assert.ok('item' in miss && miss.item.kind === 'unreadable');
    assert.deepEqual(miss.item.unreadable.keyMiss, { entityType: 'article', entityId: 'a-1' });
    const wrong = openSealed(stored, meta, { lookup: () => newKey() });
    assert.ok('item' in wrong && wrong.item.kind === 'unreadable');
    assert.match(wrong.item.unreadable.reason, /does not open/);
    const noRing = openSealed(stored, meta, undefined);
    assert.ok('item' in noRing && noRing.item.kind === 'unreadable');
  });

  test('a sealed payload moved to another item or type does not open (bound by its associated data)', () => {
    const key = newKey();
    const sealed = sealPayload(
      { type: 'BylineRegistered', entityType: 'byline', entityId: 'b-1' },
      { name: 'x' },
      { gen: 1, key },
    );
    assert.throws(() =>
      openPayloadBytes({ type: 'BylineRegistered', entityType: 'byline', entityId: 'b-2' }, sealed, key),
    );
    assert.throws(() =>
      openPayloadBytes({ type: 'BylineUpdated', entityType: 'byline', entityId: 'b-1' }, sealed, key),
    );
    assert.equal(
      openPayloadBytes(
        { type: 'BylineRegistered', entityType: 'byline', entityId: 'b-1' },
        sealed,
        key,
      ).toString(),
      '{"name":"x"}',
    );
  });

  test('wrapped keys open only under the same master key and label', () => {
    const master = newKey();
    const key = newKey();
    const wrapped = wrapKey(master, 'article.a-1.1', key);
    assert.deepEqual(unwrapKey(master, 'article.a-1.1', wrapped), key);
    assert.throws(() => unwrapKey(newKey(), 'article.a-1.1', wrapped));
    assert.throws(() => unwrapKey(master, 'article.a-2.1', wrapped));
  });

  test('plaintext payloads (a log from before encryption) pass through unchanged', () => {
    const event = sampleArticle('a-1');
    const opened = openSealed(JSON.parse(JSON.stringify(event)), meta, undefined);
    assert.ok('value' in opened);
    assert.deepEqual(opened.value, event);
  });
});
