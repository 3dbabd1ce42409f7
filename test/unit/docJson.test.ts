import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { decodeMessage, encodeEvent } from '../../log/codec.ts';
import { sampleArticle } from '../../log/sampleEvents.ts';
import { docJson, quoteJson } from '../../projectors/docJson.ts';
import { createNames } from '../../schemas/names.ts';
import { JSON_SPECIAL, randomText } from './randomText.ts';

const text = (random: () => number) => randomText(random, Math.floor(random() * 40), 0.2);

describe('document JSON', () => {
  it('quotes every string exactly as JSON.stringify does', () => {
    const random = createRandom(3);
    for (const value of ['', 'plain words', ...JSON_SPECIAL])
      assert.equal(quoteJson(value), JSON.stringify(value), value);
    for (let i = 0; i < 20_000; i++) {
      const value = text(random);
      assert.equal(quoteJson(value), JSON.stringify(value), JSON.stringify(value));
    }
  });

  it('writes the same value as JSON.stringify, the body last', () => {
    const random = createRandom(5);
    for (let i = 0; i < 2_000; i++) {
      const doc = {
        id: `a-${i}`,
        body: text(random),
        headline: text(random),
        bylines: [{ id: 'b-1', name: text(random) }],
        lineage: { asOfSeq: i, ownSeq: i },
      };
      const json = docJson(doc);
      assert.deepEqual(JSON.parse(json), doc);
      assert.ok(json.endsWith(`"body":${JSON.stringify(doc.body)}}`), json);
    }
    assert.equal(docJson({ body: 'only' }), '{"body":"only"}');
    assert.equal(docJson({ id: 'a-1', body: 'plain' }, true), docJson({ id: 'a-1', body: 'plain' }));
    assert.equal(
      docJson({ id: 'i-1', caption: 'no body' }),
      JSON.stringify({ id: 'i-1', caption: 'no body' }),
    );
  });

  it('marks a stored event plain only when every string in it is its own JSON literal', () => {
    const random = createRandom(7);
    const names = createNames('docjson');
    const strings = (value: unknown): string[] =>
      typeof value === 'string'
        ? [value]
        : value && typeof value === 'object'
          ? Object.values(value).flatMap(strings)
          : [];
    let plain = 0;
    for (let i = 0; i < 2_000; i++) {
      const event = sampleArticle(`a-${i}`, { headline: `h${text(random)}` });
      if (i % 2 === 0) event.payload.body = text(random);
      const item = decodeMessage(names, encodeEvent(event), {
        seq: i + 1,
        time: new Date(),
        subject: names.subject('article', event.entityId),
      });
      assert.equal(item.kind, 'event');
      if (item.kind !== 'event') continue;
      const all = strings(item.stored.event);
      // Printable ASCII (DEL too: JSON leaves it raw) without a quote or a backslash.
      const expected = all.every((s) => /^[\x20\x21\x23-\x5b\x5d-\x7f]*$/.test(s));
      assert.equal(item.stored.plainStrings, expected, JSON.stringify(event.payload));
      if (!expected) continue;
      plain++;
      for (const s of all) assert.equal(`"${s}"`, JSON.stringify(s));
    }
    // Both answers occur: random text is sometimes plain, sometimes not.
    assert.ok(plain > 100 && plain < 1_900, `${plain} plain`);
  });
});
