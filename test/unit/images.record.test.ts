import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageJobId } from '../../ingest/images/queue.ts';
import {
  decideRecord,
  imageProgress,
  needsProcessing,
  type Outcome,
  outcomeEvent,
} from '../../ingest/images/record.ts';
import { processedPayload } from '../../ingest/images/worker.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { validateEvent } from '../../schemas/catalog.ts';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const at = '2024-05-01T10:00:00.000Z';
const base = {
  version: 1,
  entityType: 'image',
  entityId: 'img-1',
  occurredAt: at,
  recordedAt: at,
  source: 'test',
} as const;

function submitted(id: string, digest: string): ContentEvent {
  return {
    ...base,
    id,
    type: 'ImageSubmitted',
    payload: { fileName: 'a.jpg', original: { digest, bytes: 10, mediaType: 'image/jpeg' } },
  };
}
function updated(id: string, payload: Record<string, unknown>): ContentEvent {
  return { ...base, id, type: 'ImageUpdated', payload } as ContentEvent;
}
const processed = (digest: string): Outcome => ({
  kind: 'processed',
  payload: {
    original: digest,
    width: 10,
    height: 10,
    format: 'jpeg',
    hasAlpha: false,
    dominantColor: '#000000',
    placeholder: 'data:image/webp;base64,AAAA',
    renditions: [],
  },
});
const failed = (digest: string): Outcome => ({
  kind: 'failed',
  payload: { original: digest, reason: 'corrupt', attempts: 1 },
});
const stored = (events: ContentEvent[]) => events.map((event, i) => ({ seq: i + 1, event }));

describe('image outcome decisions (pure)', () => {
  it('remembers the sequence that set the current original', () => {
    const p = imageProgress(
      stored([
        submitted('e1', D1),
        updated('e2', { caption: 'x' }),
        submitted('e3', D1),
        updated('e4', { original: { digest: D2, bytes: 1, mediaType: 'image/png' } }),
      ]),
    );
    assert.equal(p?.originalSeq, 4);
    assert.equal(p?.state.original.digest, D2);
    assert.equal(
      imageProgress(stored([submitted('e1', D1), updated('e2', { caption: 'x' })]))?.originalSeq,
      1,
    );
  });

  it('decides: record once, never for replaced bytes or removed images', () => {
    const fresh = imageProgress(stored([submitted('e1', D1)]));
    assert.equal(needsProcessing(fresh), true);
    assert.equal(decideRecord(fresh, processed(D1)), 'record');
    assert.equal(decideRecord(fresh, processed(D2)), 'stale');
    assert.equal(decideRecord(undefined, processed(D1)), 'unknown-image');

    const done = imageProgress(
      stored([
        submitted('e1', D1),
        outcomeEvent('img-1', 1, processed(D1), { source: 't', now: new Date(at) }),
      ]),
    );
    assert.equal(needsProcessing(done), false);
    assert.equal(decideRecord(done, processed(D1)), 'already-recorded');
    assert.equal(decideRecord(done, failed(D1)), 'already-recorded');

    const bad = imageProgress(
      stored([submitted('e1', D1), outcomeEvent('img-1', 1, failed(D1), { source: 't', now: new Date(at) })]),
    );
    assert.equal(needsProcessing(bad), false);
    assert.equal(needsProcessing(bad, { retryFailed: true }), true);
    assert.equal(decideRecord(bad, failed(D1)), 'already-recorded');
    assert.equal(decideRecord(bad, processed(D1)), 'record', 'a success after a failure is news');

    const removed = imageProgress(
      stored([submitted('e1', D1), { ...base, id: 'e2', type: 'ImageRemoved', payload: {} }]),
    );
    assert.equal(needsProcessing(removed), false);
    assert.equal(decideRecord(removed, processed(D1)), 'removed');
  });

  it('derives outcome ids from image, bytes and submission, not from the result or the clock', () => {
    const a = outcomeEvent('img-1', 3, processed(D1), { source: 'w1', now: new Date(at) });
    const b = outcomeEvent(
      'img-1',
      3,
      { ...processed(D1), payload: { ...processed(D1).payload, width: 11 } } as Outcome,
      { source: 'w2' },
    );
    assert.equal(a.id, b.id);
    assert.notEqual(
      a.id,
      outcomeEvent('img-1', 7, processed(D1), { source: 'w1' }).id,
      'a new submission of the same bytes',
    );
    assert.notEqual(a.id, outcomeEvent('img-2', 3, processed(D1), { source: 'w1' }).id);
    assert.notEqual(a.id, outcomeEvent('img-1', 3, failed(D1), { source: 'w1' }).id);
    // The events are valid against their schemas.
    validateEvent(a, { currentOnly: true });
    validateEvent(outcomeEvent('img-1', 3, failed(D1), { source: 'w', correlationId: 'sha256-x' }), {
      currentOnly: true,
    });
  });

  it('names jobs by content: sha256-<hex>, no colon', () => {
    assert.equal(imageJobId(D1), `sha256-${'a'.repeat(64)}`);
    assert.throws(() => imageJobId('md5:abc'), /not a blob digest/);
  });

  it('builds the ImageProcessed payload from a result and its stored renditions', () => {
    const payload = processedPayload(
      D1,
      {
        metadata: { width: 20, height: 10, format: 'png', hasAlpha: true, space: 'srgb' },
        renditions: [
          { name: 'thumb', bytes: Buffer.from('x'), mediaType: 'image/png', width: 20, height: 10 },
        ],
        dominantColor: '#112233',
        placeholder: 'data:image/webp;base64,AA',
      },
      [{ digest: D2, bytes: 1 }],
    );
    assert.deepEqual(payload.renditions, [
      { name: 'thumb', digest: D2, bytes: 1, mediaType: 'image/png', width: 20, height: 10 },
    ]);
    assert.equal('orientation' in payload, false);
    validateEvent({ ...base, id: 'x', type: 'ImageProcessed', payload }, { currentOnly: true });
  });
});
