import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../ingest/generate.ts';
import { docJson, quoteJson } from '../../projectors/write/docJson.ts';
import { JSON_SPECIAL, randomText } from '../support/randomText.ts';

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
    assert.equal(
      docJson({ id: 'i-1', caption: 'no body' }),
      JSON.stringify({ id: 'i-1', caption: 'no body' }),
    );
  });
});
