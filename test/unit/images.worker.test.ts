import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { reasonOf } from '../../ingest/images/jobFailure.ts';
import { alreadyRecorded } from '../../ingest/images/processJob.ts';
import type { ImageJob } from '../../ingest/images/queue.ts';
import { outcomeOf } from '../../ingest/images/reconcile.ts';
import { imageProgress } from '../../ingest/images/record.ts';
import { createSemaphore } from '../../ingest/images/semaphore.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const at = '2024-05-01T10:00:00.000Z';
const envelope = (entityId: string, id: string) =>
  ({
    id,
    version: 1,
    entityType: 'image',
    entityId,
    occurredAt: at,
    recordedAt: at,
    source: 'test',
  }) as const;
const result = (digest: string) => ({
  original: digest,
  width: 10,
  height: 10,
  format: 'jpeg',
  hasAlpha: false,
  dominantColor: '#000000',
  placeholder: 'data:image/webp;base64,AAAA',
  renditions: [],
});

function history(entityId: string, digest: string, outcome?: 'processed'): ContentEvent[] {
  const events: ContentEvent[] = [
    {
      ...envelope(entityId, `${entityId}-1`),
      type: 'ImageSubmitted',
      payload: { fileName: 'a.jpg', original: { digest, bytes: 10, mediaType: 'image/jpeg' } },
    },
  ];
  if (outcome)
    events.push({ ...envelope(entityId, `${entityId}-2`), type: 'ImageProcessed', payload: result(digest) });
  return events;
}
const progressOf = (events: ContentEvent[]) =>
  imageProgress(events.map((event, i) => ({ seq: i + 1, event })));
/** Only the fields the pure functions read: a job's data and its finished state. */
const job = (fields: Partial<ImageJob>) => fields as ImageJob;

describe('image worker parts (pure)', () => {
  it('the semaphore runs at most `size` tasks at once, the rest in arrival order', async () => {
    const slots = createSemaphore(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        slots.run(async () => {
          running++;
          most = Math.max(most, running);
          order.push(i);
          await sleep(10);
          running--;
        }),
      ),
    );
    assert.equal(most, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    // A failed task gives its slot back.
    await assert.rejects(
      slots.run(async () => {
        throw new Error('boom');
      }),
    );
    assert.deepEqual(await Promise.all([slots.run(async () => 1), slots.run(async () => 2)]), [1, 2]);
  });

  it('a failure reason is the message, bounded, never empty', () => {
    assert.equal(reasonOf(new Error('corrupt')), 'corrupt');
    assert.equal(reasonOf('plain'), 'plain');
    assert.equal(reasonOf(new Error('')), 'unknown error');
    assert.equal(reasonOf(new Error('x'.repeat(5_000))).length, 2_000);
  });

  it('a retry finds the result a previous run recorded only when every image of the job has it', () => {
    const data = { original: { digest: D1, bytes: 10, mediaType: 'image/jpeg' }, imageIds: ['a', 'b'] };
    const done = new Map([
      ['a', progressOf(history('a', D1, 'processed'))],
      ['b', progressOf(history('b', D1, 'processed'))],
    ]);
    assert.deepEqual(alreadyRecorded(job({ data }), done), result(D1));
    const half = new Map([...done, ['b', progressOf(history('b', D1))]]);
    assert.equal(alreadyRecorded(job({ data }), half), undefined);
    // An image whose original changed since, or that is unknown, does not count.
    const moved = new Map([...done, ['b', progressOf(history('b', D2))], ['c', undefined]]);
    assert.deepEqual(alreadyRecorded(job({ data }), moved), result(D1));
  });

  it("a finished job's outcome: its result for the same bytes, its failure, or nothing usable", () => {
    assert.deepEqual(outcomeOf(job({ returnvalue: result(D1) }), 'completed', D1), {
      kind: 'processed',
      payload: result(D1),
    });
    assert.equal(outcomeOf(job({ returnvalue: result(D2) }), 'completed', D1), undefined);
    assert.deepEqual(outcomeOf(job({ failedReason: '', attemptsMade: 0 }), 'failed', D1), {
      kind: 'failed',
      payload: { original: D1, reason: 'failed without a reason', attempts: 1 },
    });
    assert.deepEqual(outcomeOf(job({ failedReason: 'stalled', attemptsMade: 3 }), 'failed', D1)?.payload, {
      original: D1,
      reason: 'stalled',
      attempts: 3,
    });
  });
});
