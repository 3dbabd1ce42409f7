import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OPAQUE_ID, opaqueIdMapper, withMappedIds } from '../../ingest/opaqueIds.ts';
import { newKey } from '../../log/crypto/sealing.ts';

describe('opaque ids', () => {
  const key = newKey();
  const map = opaqueIdMapper(key);

  it('are deterministic under one key, differ per type and per key, and say nothing of the id', () => {
    const id = map('byline', 'b-abraham-lincoln');
    assert.match(id, OPAQUE_ID);
    assert.equal(map('byline', 'b-abraham-lincoln'), id, 'a re-ingest maps to the same id');
    assert.notEqual(map('article', 'b-abraham-lincoln'), id);
    assert.notEqual(opaqueIdMapper(newKey())('byline', 'b-abraham-lincoln'), id);
    assert.ok(!id.toLowerCase().includes('lincoln'));
  });

  it('leave an opaque id as it is (an export re-ingested)', () => {
    const id = map('image', 'img-1');
    assert.equal(map('image', id), id);
  });

  it("map a record's id and an article's references, nothing else", () => {
    const article = withMappedIds(
      {
        kind: 'article',
        id: 'a-1',
        headline: 'H',
        body: 'B',
        publishedAt: '2026-01-01',
        bylines: ['b-1', 'b-2'],
        images: ['img-1'],
      },
      map,
    );
    assert.deepEqual(article, {
      kind: 'article',
      id: map('article', 'a-1'),
      headline: 'H',
      body: 'B',
      publishedAt: '2026-01-01',
      bylines: [map('byline', 'b-1'), map('byline', 'b-2')],
      images: [map('image', 'img-1')],
    });
    assert.deepEqual(withMappedIds({ kind: 'article', id: 'a-1', retracted: true }, map), {
      kind: 'article',
      id: map('article', 'a-1'),
      retracted: true,
    });
    assert.deepEqual(withMappedIds({ kind: 'byline', id: 'b-1', name: 'N' }, map), {
      kind: 'byline',
      id: map('byline', 'b-1'),
      name: 'N',
    });
  });
});
