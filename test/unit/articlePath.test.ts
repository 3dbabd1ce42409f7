import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ArticleEvent, foldArticle } from '../../projectors/state/articlePath.ts';
import { type ArticleRecord, createProjectionState } from '../../projectors/state/projectionState.ts';
import { type ArticleState, applyEvent } from '../../schemas/state.ts';
import { articleFields, makeEvent } from '../support/projectorsEvents.ts';

/**
 * The article path as it was before the direct fold: the record made into a pseudo-state
 * (headline '-', empty body), `applyEvent` over it, and the record taken back from the
 * result. Kept here as the oracle the fold must agree with.
 */
function roundTripFold(prev: ArticleRecord | undefined, event: ArticleEvent, seq: number) {
  const pseudo: ArticleState | undefined = prev && {
    entityType: 'article',
    id: prev.id,
    fields: {
      headline: '-',
      body: '',
      publishedAt: new Date(prev.publishedAtMs).toISOString(),
      bylineIds: [...prev.bylineIds],
      imageIds: [...prev.imageIds],
      tags: [],
    },
    retracted: prev.retracted,
    firstSeq: prev.firstSeq,
    lastSeq: prev.lastSeq,
    updatedAt: '',
    events: prev.events,
  };
  const full = applyEvent(pseudo, event, seq) as ArticleState;
  const carriesFields = event.type === 'ArticlePublished' || event.type === 'ArticleRevised';
  const record: ArticleRecord = {
    id: prev?.id ?? event.entityId,
    firstSeq: full.firstSeq,
    lastSeq: full.lastSeq,
    events: full.events,
    revisions: (prev?.revisions ?? 0) + (carriesFields ? 1 : 0),
    retracted: full.retracted,
    publishedAtMs: carriesFields || !prev ? Date.parse(full.fields.publishedAt) : prev.publishedAtMs,
    bylineIds: carriesFields || !prev ? [...new Set(full.fields.bylineIds)] : prev.bylineIds,
    imageIds: carriesFields || !prev ? [...new Set(full.fields.imageIds)] : prev.imageIds,
  };
  return { record, state: full.retracted ? undefined : full };
}

/** Publish, revise (references changing, repeated, dropped), retract, revise again; and an article whose first event is a retraction. */
const sequence: ArticleEvent[] = [
  makeEvent('ArticlePublished', 'a1', articleFields({ bylineIds: ['b1', 'b2'], imageIds: ['i1'] })),
  makeEvent(
    'ArticleRevised',
    'a1',
    articleFields({ bylineIds: ['b2', 'b3', 'b2'], imageIds: [], publishedAt: '1899-01-01T00:00:00Z' }),
  ),
  makeEvent('ArticleRetracted', 'a1', { reason: 'libel' }),
  makeEvent('ArticleRetracted', 'a1', { reason: 'again' }),
  makeEvent('ArticleRevised', 'a1', articleFields({ bylineIds: ['b1'], imageIds: ['i1', 'i2', 'i1'] })),
  makeEvent('ArticleRetracted', 'a2', { reason: 'never published here' }),
  makeEvent('ArticleRevised', 'a2', articleFields({ bylineIds: ['b4'], imageIds: ['i3'] })),
  makeEvent('ArticlePublished', 'a3', articleFields({ publishedAt: '1901-02-03T04:05:06Z' })),
];

describe('the article path', () => {
  it('folds each event into the row as the round trip through a pseudo-state did', () => {
    const records = new Map<string, ArticleRecord>();
    for (const [i, event] of sequence.entries()) {
      const seq = i + 1;
      const prev = records.get(event.entityId);
      const expected = roundTripFold(prev, event, seq);
      const fold = foldArticle(event.entityId, prev, event, seq);
      const { id: _, bylineIds, imageIds, ...facts } = expected.record;
      assert.deepEqual(fold.facts, facts, `facts after event ${seq}`);
      assert.deepEqual(fold.refs ?? { bylineIds: prev!.bylineIds, imageIds: prev!.imageIds }, {
        bylineIds,
        imageIds,
      });
      // The old state carried `retractReason: undefined` after a previous state: the same as JSON.
      assert.deepEqual(
        JSON.parse(JSON.stringify(fold.state ?? null)),
        JSON.parse(JSON.stringify(expected.state ?? null)),
      );
      records.set(event.entityId, expected.record);
    }
  });

  it('leaves the state with the records and full states the round trip gave', () => {
    const state = createProjectionState();
    const records = new Map<string, ArticleRecord>();
    try {
      for (const [i, event] of sequence.entries()) {
        const seq = i + 1;
        const expected = roundTripFold(records.get(event.entityId), event, seq);
        records.set(event.entityId, expected.record);
        const changes = state.apply(seq, event);
        assert.deepEqual(state.article(event.entityId), expected.record, `record after event ${seq}`);
        assert.deepEqual(
          JSON.parse(JSON.stringify(changes.article ?? null)),
          JSON.parse(JSON.stringify(expected.state ?? null)),
        );
      }
    } finally {
      state.close();
    }
  });

  it('reports the references each event changed, old ones first', () => {
    const state = createProjectionState();
    try {
      const [published, revised, retracted, , back] = sequence.map((event, i) => state.apply(i + 1, event));
      assert.deepEqual([published!.bylines, published!.images], [['b1', 'b2'], ['i1']]);
      // b2 stays but its article moved earlier: its latest-article statistic changed.
      assert.deepEqual([revised!.bylines, revised!.images], [['b1', 'b2', 'b3'], ['i1']]);
      assert.deepEqual([retracted!.bylines, retracted!.images], [['b2', 'b3'], []]);
      assert.deepEqual([back!.bylines, back!.images], [['b1'], ['i1', 'i2']]);
      assert.deepEqual(state.renderByline('b1'), undefined, 'only referenced: no document');
    } finally {
      state.close();
    }
  });
});
