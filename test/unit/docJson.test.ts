import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { decodeMessage, encodeEvent } from '../../log/codec.ts';
import { sampleArticle } from '../../log/sampleEvents.ts';
import { docJson, quoteJson } from '../../projectors/docJson.ts';
import { createNames } from '../../schemas/names.ts';

// Characters JSON.stringify treats differently: quotes, backslashes, control characters,
// DEL, line/paragraph separators, a paired surrogate (emoji) and lone surrogates.
const SPECIAL = ['"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '😀', '\ud800', '\udfff', 'é', ' '];

function randomText(random: () => number): string {
  let text = '';
  const length = Math.floor(random() * 40);
  for (let i = 0; i < length; i++) {
    text +=
      random() < 0.2
        ? SPECIAL[Math.floor(random() * SPECIAL.length)]
        : String.fromCharCode(0x20 + Math.floor(random() * 95));
  }
  return text;
}

describe('document JSON', () => {
  it('quotes every string exactly as JSON.stringify does', () => {
    const random = createRandom(3);
    for (const text of ['', 'plain words', ...SPECIAL])
      assert.equal(quoteJson(text), JSON.stringify(text), text);
    for (let i = 0; i < 20_000; i++) {
      const text = randomText(random);
      assert.equal(quoteJson(text), JSON.stringify(text), JSON.stringify(text));
    }
  });

  it('writes the same value as JSON.stringify, the body last', () => {
    const random = createRandom(5);
    for (let i = 0; i < 2_000; i++) {
      const doc = {
        id: `a-${i}`,
        body: randomText(random),
        headline: randomText(random),
        bylines: [{ id: 'b-1', name: randomText(random) }],
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
      const event = sampleArticle(`a-${i}`, { headline: `h${randomText(random)}` });
      if (i % 2 === 0) event.payload.body = randomText(random);
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
