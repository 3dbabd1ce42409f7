import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { decodeMessage, encodeEvent, encodeWithPayload } from '../../log/codec.ts';
import { sealEvent } from '../../log/crypto/sealedCodec.ts';
import { newKey } from '../../log/crypto/sealing.ts';
import { sampleArticle, sampleByline } from '../../log/sampleEvents.ts';
import type { ReplayItem } from '../../log/types.ts';
import { docJson, docJsonHead } from '../../projectors/write/docJson.ts';
import { canonicalJson } from '../../schemas/eventId.ts';
import { createNames } from '../../schemas/names.ts';
import { JSON_SPECIAL, randomText } from '../support/randomText.ts';

const names = createNames('codec');
const SPECIAL = [...JSON_SPECIAL, '"body":"'];
const text = (random: () => number, length: number) => randomText(random, length, 0.02, SPECIAL);

function decode(data: Uint8Array, subject: string, rawBody: boolean): ReplayItem {
  return decodeMessage(names, data, { seq: 1, time: new Date(0), subject }, { rawBody });
}

describe('bytes made with the event from its payload JSON (one serialisation)', () => {
  it('are the event, are what encodeEvent returns for it, decode alike with or without the raw body, and cannot go stale', () => {
    const random = createRandom(7);
    for (let i = 0; i < 500; i++) {
      const event = sampleArticle(`a-${i}`, { headline: text(random, 1 + Math.floor(random() * 30)) });
      event.payload.body = text(random, Math.floor(random() * 200));
      const plain = encodeEvent(event);
      const made = encodeWithPayload(event, Buffer.from(canonicalJson(event.payload)));
      const bytes = encodeEvent(made);
      assert.equal(encodeEvent(made), bytes, 'made once, then returned as made');
      assert.deepEqual(
        JSON.parse(Buffer.from(bytes).toString('utf8')),
        JSON.parse(Buffer.from(plain).toString()),
      );
      const subject = names.subject('article', event.entityId);
      const full = decode(bytes, subject, false);
      const lazy = decode(bytes, subject, true);
      assert.ok(full.kind === 'event' && lazy.kind === 'event');
      assert.deepEqual(full.stored.event, JSON.parse(JSON.stringify(event)));
      if (lazy.stored.rawBody)
        assert.equal(Buffer.from(lazy.stored.rawBody).toString('utf8'), JSON.stringify(event.payload.body));
      assert.throws(() => {
        (made.payload as { body: string }).body = 'changed';
      }, TypeError);
      assert.throws(() => {
        made.payload.tags.push('x');
      }, TypeError);
    }
  });
});

/**
 * Asserts that a decode with the raw body equals the full decode, but for the body left as
 * its JSON literal (only a literal with no escape in it); says which way it went.
 */
function assertLazyMatches(full: ReplayItem, lazy: ReplayItem, body: string): 'raw' | 'decoded' {
  assert.ok(full.kind === 'event' && lazy.kind === 'event', JSON.stringify(full));
  const rawBody = lazy.stored.rawBody;
  if (!rawBody) {
    assert.deepEqual(lazy.stored, full.stored);
    return 'decoded';
  }
  assert.equal(Buffer.from(rawBody).toString('utf8'), JSON.stringify(body));
  // No escape in the literal: no quote, backslash or control character in the body.
  assert.ok(!JSON.stringify(body).slice(1, -1).includes('\\'), `left raw: ${JSON.stringify(body)}`);
  const { rawBody: _, ...rest } = lazy.stored;
  assert.deepEqual(rest, {
    ...full.stored,
    event: { ...full.stored.event, payload: { ...full.stored.event.payload, body: '' } },
  });
  return 'raw';
}

describe('decoding article events around their bodies', () => {
  it('leaves exactly the bodies JSON.stringify writes unchanged as bytes, and decodes the rest alike', () => {
    const random = createRandom(13);
    let raw = 0;
    let decoded = 0;
    for (let i = 0; i < 3_000; i++) {
      const event = sampleArticle(`a-${i}`, { headline: text(random, 1 + Math.floor(random() * 30)) });
      event.payload.body = text(random, Math.floor(random() * 120));
      // Other writers may order the keys differently: the body first, or last.
      if (i % 3 === 1) {
        const { body, ...rest } = event.payload;
        event.payload = { body, ...rest };
      }
      if (i % 3 === 2) {
        const { body, ...rest } = event.payload;
        event.payload = { ...rest, body };
      }
      const data = encodeEvent(event);
      const subject = names.subject('article', event.entityId);
      const full = decode(data, subject, false);
      const lazy = decode(data, subject, true);
      const body = event.payload.body;
      if (assertLazyMatches(full, lazy, body) === 'raw') raw++;
      else decoded++;
    }
    // Both ways occur: plain bodies (non-ASCII ones too) and bodies with escapes.
    assert.ok(raw > 500 && decoded > 500, `${raw} raw, ${decoded} decoded`);
  });

  it('does the same inside sealed payloads: the opened body left as its literal, the rest decoded alike', () => {
    const random = createRandom(17);
    const key = { gen: 1, key: newKey() };
    const keys = { lookup: () => key.key };
    const idKey = newKey();
    let raw = 0;
    let decoded = 0;
    for (let i = 0; i < 1_000; i++) {
      const event = sampleArticle(`a-${i}`, { headline: text(random, 1 + Math.floor(random() * 30)) });
      event.payload.body = text(random, Math.floor(random() * 120));
      const sealed = sealEvent(event, key, idKey);
      const meta = { seq: 1, time: new Date(0), subject: names.subject('article', event.entityId) };
      const full = decodeMessage(names, sealed.bytes, meta, { keys });
      const lazy = decodeMessage(names, sealed.bytes, meta, { keys, rawBody: true });
      assert.equal(
        full.kind === 'event' &&
          full.stored.event.type === 'ArticlePublished' &&
          full.stored.event.payload.body,
        event.payload.body,
      );
      if (assertLazyMatches(full, lazy, event.payload.body) === 'raw') raw++;
      else decoded++;
    }
    assert.ok(raw > 100 && decoded > 100, `${raw} raw, ${decoded} decoded`);
  });

  it('decodes everything else as usual and reports unreadable messages the same way', () => {
    const article = sampleArticle('a-1', { bodyChars: 200 });
    const subject = names.subject('article', 'a-1');
    const text = new TextDecoder().decode(encodeEvent(article));
    const cases: [string, string][] = [
      // A raw control character in the body (at every alignment): not JSON, either way.
      ...Array.from({ length: 12 }, (_, k): [string, string] => {
        const at = text.indexOf('"body":"') + 8 + 40 + k;
        return [`control character ${k}`, `${text.slice(0, at)}${k % 2 ? '\u001f' : '\t'}${text.slice(at)}`];
      }),
      // A key that ends in `"body` (escaped quote) precedes the real body.
      ['forged key', text.replace('"section":', '"x\\"body":"y","section":')],
      ['unterminated', text.slice(0, text.indexOf('"body":"') + 20)],
      ['body not a string', text.replace(/"body":"[^"]*"/, '"body":7')],
      ['wrong subject', text],
    ];
    for (const [name, variant] of cases) {
      const data = Buffer.from(variant);
      const where = name === 'wrong subject' ? names.subject('article', 'a-2') : subject;
      const lazy = decode(data, where, true);
      assert.deepEqual(lazy, decode(data, where, false), name);
      assert.equal(lazy.kind, 'unreadable', name);
    }
    // Invalid UTF-8 in the body.
    const bytes = Buffer.from(encodeEvent(article));
    bytes[bytes.indexOf('"body":"') + 50] = 0xff;
    assert.deepEqual(decode(bytes, subject, true), decode(bytes, subject, false));
    assert.equal(decode(bytes, subject, true).kind, 'unreadable');
    const byline = sampleByline('b-1');
    const item = decode(encodeEvent(byline), names.subject('byline', 'b-1'), true);
    assert.ok(item.kind === 'event' && item.stored.rawBody === undefined);
  });

  it('makes the same document JSON with the raw body spliced in', () => {
    for (const doc of [
      { id: 'a-1', headline: 'Zürich "quoted"', body: 'plain é 😀 body', lineage: { asOfSeq: 3 } },
      { body: '' },
    ]) {
      const spliced = Buffer.concat([
        Buffer.from(docJsonHead(doc)),
        Buffer.from(JSON.stringify(doc.body)),
        Buffer.from('}'),
      ]);
      assert.equal(spliced.toString('utf8'), docJson(doc));
      assert.deepEqual(JSON.parse(docJson(doc)), doc);
    }
  });
});
