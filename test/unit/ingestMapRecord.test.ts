import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Decision,
  fileNameOf,
  isReplayOfHistory,
  type MapContext,
  mapRecord,
  referencesOf,
} from '../../ingest/mapRecord.ts';
import { type InputRecord, parseRecord } from '../../ingest/records.ts';
import { type ContentEvent, validateEvent } from '../../schemas/catalog.ts';
import { applyEvent, type EntityState } from '../../schemas/state.ts';

const context: MapContext = {
  source: 'ingest:test',
  now: '2026-01-02T03:04:05.000Z',
  correlationId: 'run-1',
};
const original = { digest: `sha256:${'a'.repeat(64)}`, bytes: 1234, mediaType: 'image/jpeg' };

function record(value: object): InputRecord {
  const result = parseRecord(value);
  assert.ok(result.ok, JSON.stringify(result));
  return result.record;
}

const article = record({
  kind: 'article',
  id: 'a-1',
  headline: 'Harbour reopens',
  body: 'The harbour reopened today.',
  publishedAt: '2024-05-01',
  bylines: ['b-1'],
});
const byline = record({ kind: 'byline', id: 'b-1', name: 'Ada Archer', bio: 'Harbour desk' });
const image = record({ kind: 'image', id: 'img-1', file: 'images/harbour.jpg', caption: 'The harbour' });

function appended(decision: Decision): { event: ContentEvent; expectedLastSeq: number } {
  assert.equal(decision.action, 'append', JSON.stringify(decision));
  return decision as { action: 'append'; event: ContentEvent; expectedLastSeq: number };
}

/** The state after the given decision's event is stored at `seq`. */
function stored(decision: Decision, seq: number, state?: EntityState): EntityState {
  return applyEvent(state, appended(decision).event, seq);
}

describe('mapRecord', () => {
  test('a new entity gets its creation event, valid against the catalog, expecting no earlier event', () => {
    const cases: Array<[InputRecord, string, MapContext]> = [
      [article, 'ArticlePublished', context],
      [byline, 'BylineRegistered', context],
      [image, 'ImageSubmitted', { ...context, original }],
    ];
    for (const [input, type, ctx] of cases) {
      const { event, expectedLastSeq } = appended(mapRecord(input, undefined, ctx));
      assert.equal(event.type, type);
      assert.equal(expectedLastSeq, 0);
      assert.equal(event.source, 'ingest:test');
      assert.equal(event.correlationId, 'run-1');
      assert.doesNotThrow(() => validateEvent(event, { currentOnly: true }));
    }
  });

  test("an article is published with the record's date as occurredAt and its fields as the v2 payload", () => {
    const { event } = appended(mapRecord(article, undefined, context));
    assert.equal(event.occurredAt, '2024-05-01T00:00:00Z');
    assert.deepEqual(event.payload, {
      headline: 'Harbour reopens',
      body: 'The harbour reopened today.',
      publishedAt: '2024-05-01T00:00:00Z',
      bylineIds: ['b-1'],
      imageIds: [],
      tags: [],
    });
  });

  test('the same decision gives the same event id; another basis gives another', () => {
    const a = appended(mapRecord(article, undefined, context)).event;
    const b = appended(mapRecord(article, undefined, { ...context, now: '2030-01-01T00:00:00Z' })).event;
    assert.equal(a.id, b.id, 'recordedAt is not part of the id');
    const state = stored(mapRecord(article, undefined, context), 7);
    const changed = record({ ...article, headline: 'Harbour reopens at last' });
    const revised = appended(mapRecord(changed, state, context));
    assert.equal(revised.event.type, 'ArticleRevised');
    assert.equal(revised.expectedLastSeq, 7);
    assert.notEqual(revised.event.id, a.id);
  });

  test('an unchanged record maps to nothing', () => {
    for (const [input, ctx] of [
      [article, context],
      [byline, context],
      [image, { ...context, original }],
    ] as const) {
      const state = stored(mapRecord(input, undefined, ctx), 3);
      assert.deepEqual(mapRecord(input, state, ctx), { action: 'unchanged' });
    }
  });

  test('a changed byline is updated with its whole state; a dropped bio is dropped', () => {
    const state = stored(mapRecord(byline, undefined, context), 3);
    const { event } = appended(
      mapRecord(record({ kind: 'byline', id: 'b-1', name: 'Ada Archer' }), state, context),
    );
    assert.equal(event.type, 'BylineUpdated');
    assert.deepEqual(event.payload, { name: 'Ada Archer' });
  });

  test('retraction: of a live article appends, of a retracted one nothing, of an unknown one rejects', () => {
    const retraction = record({ kind: 'article', id: 'a-1', retracted: true, reason: 'duplicate' });
    const live = stored(mapRecord(article, undefined, context), 4);
    const { event, expectedLastSeq } = appended(mapRecord(retraction, live, context));
    assert.equal(event.type, 'ArticleRetracted');
    assert.deepEqual(event.payload, { reason: 'duplicate' });
    assert.equal(expectedLastSeq, 4);
    const retracted = applyEvent(live, event, 5);
    assert.deepEqual(mapRecord(retraction, retracted, context), { action: 'unchanged' });
    // Re-running an export holding the article and its retraction stays a no-op.
    assert.deepEqual(mapRecord(article, retracted, context), { action: 'unchanged' });
    const rejected = mapRecord(retraction, undefined, context);
    assert.equal(rejected.action, 'reject');
    assert.equal(rejected.action === 'reject' && rejected.field, 'id');
  });

  test('a retracted article: a changed record is a reject unless it says "unretract": true or the run allows it', () => {
    const live = stored(mapRecord(article, undefined, context), 4);
    const retraction = record({ kind: 'article', id: 'a-1', retracted: true });
    const retracted = applyEvent(live, appended(mapRecord(retraction, live, context)).event, 5);
    const changed = record({ ...article, headline: 'Harbour reopens again' });
    assert.deepEqual(mapRecord(changed, retracted, context), {
      action: 'reject',
      field: '',
      message: 'article a-1 is retracted; set "unretract": true (or --allow-unretract) to publish it again',
      retracted: true,
    });
    assert.equal(
      appended(mapRecord(record({ ...changed, unretract: true }), retracted, context)).event.type,
      'ArticleRevised',
    );
    assert.equal(
      appended(mapRecord(changed, retracted, { ...context, allowUnretract: true })).event.type,
      'ArticleRevised',
    );
    // The same content: unchanged, unless the record asks for it to be published again.
    assert.deepEqual(mapRecord(article, retracted, { ...context, allowUnretract: true }), {
      action: 'unchanged',
    });
    assert.equal(
      appended(mapRecord(record({ ...article, unretract: true }), retracted, context)).event.type,
      'ArticleRevised',
    );
    // Not retracted: the field changes nothing.
    assert.deepEqual(mapRecord(record({ ...article, unretract: true }), live, context), {
      action: 'unchanged',
    });
  });

  test('images: a new caption updates, a new file replaces the original, a removed image is resubmitted', () => {
    const state = stored(mapRecord(image, undefined, { ...context, original }), 2);
    const recaptioned = appended(
      mapRecord(record({ ...image, caption: 'The old harbour' }), state, { ...context, original }),
    );
    assert.equal(recaptioned.event.type, 'ImageUpdated');
    assert.deepEqual(recaptioned.event.payload, { caption: 'The old harbour' });

    const other = { ...original, digest: `sha256:${'b'.repeat(64)}` };
    const replaced = appended(mapRecord(image, state, { ...context, original: other }));
    assert.deepEqual(replaced.event.payload, {
      caption: 'The harbour',
      fileName: 'harbour.jpg',
      original: other,
    });

    const removed: EntityState = { ...state, removed: true } as EntityState;
    assert.deepEqual(mapRecord(image, removed, { ...context, original }), { action: 'unchanged' });
    const back = appended(
      mapRecord(record({ ...image, caption: 'Back' }), removed, { ...context, original }),
    );
    assert.equal(back.event.type, 'ImageSubmitted');
  });

  test('fileNameOf and referencesOf', () => {
    assert.equal(fileNameOf('images/2024/harbour.jpg'), 'harbour.jpg');
    assert.equal(fileNameOf('harbour.jpg'), 'harbour.jpg');
    assert.deepEqual(referencesOf(record({ ...article, images: ['img-1'] })), {
      bylines: ['b-1'],
      images: ['img-1'],
    });
    assert.deepEqual(referencesOf(byline), { bylines: [], images: [] });
  });
});

describe('isReplayOfHistory', () => {
  const v1 = article;
  const v2 = record({ ...article, headline: 'Harbour reopens after storm' });
  const e1 = appended(mapRecord(v1, undefined, context)).event;
  const s1 = applyEvent(undefined, e1, 1);
  const e2 = appended(mapRecord(v2, s1, context)).event;
  const history = [
    { event: e1, seq: 1 },
    { event: e2, seq: 2 },
  ];

  test('an earlier version of the entity is a replay; the current one and a new one are not', () => {
    assert.equal(isReplayOfHistory(v1, history, context), true);
    assert.equal(
      isReplayOfHistory(v2, history, context),
      false,
      'the current version is "unchanged", not a replay',
    );
    assert.equal(isReplayOfHistory(record({ ...article, headline: 'New' }), history, context), false);
  });

  test('with updatedAt, only a version that occurred then counts: a deliberate change back', () => {
    assert.equal(
      isReplayOfHistory(record({ ...v1, updatedAt: '2026-03-01T00:00:00Z' }), history, context),
      false,
    );
    assert.equal(isReplayOfHistory(record({ ...v1, updatedAt: '2024-05-01' }), history, context), true);
  });
});
