import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffPayload, formatChange, historyEntries, summarizeChanges } from '../../log/history.ts';
import { sampleArticle, sampleByline, sampleEvent } from '../../log/sampleEvents.ts';
import { createStatsAccumulator } from '../../log/stats.ts';
import type { StoredEvent } from '../../log/types.ts';

const stored = (seq: number, event: StoredEvent['event'], storedVersion = event.version): StoredEvent => ({
  seq,
  time: new Date(Date.UTC(2024, 0, 1, 0, 0, seq)),
  subject: `presslog.content.${event.entityType}.${event.entityId}`,
  storedVersion,
  event,
});

describe('diffPayload', () => {
  test('added, removed, changed; nested objects by path; equal values none', () => {
    const changes = diffPayload(
      { headline: 'Old', section: 'local', original: { digest: 'a', bytes: 1 }, tags: ['x'] },
      { headline: 'New', original: { digest: 'b', bytes: 1 }, tags: ['x'], bio: 'hi' },
    );
    assert.deepEqual(changes, [
      { path: 'headline', kind: 'changed', before: 'Old', after: 'New' },
      { path: 'original.digest', kind: 'changed', before: 'a', after: 'b' },
      { path: 'bio', kind: 'added', after: 'hi' },
      { path: 'section', kind: 'removed', before: 'local' },
    ]);
    assert.deepEqual(diffPayload({ a: [1, 2] }, { a: [1, 2] }), []);
  });

  test('short formats: long text by length, string lists as +/-', () => {
    assert.equal(
      formatChange({ path: 'headline', kind: 'changed', before: 'Old', after: 'New' }),
      'headline: "Old" → "New"',
    );
    assert.equal(
      formatChange({ path: 'body', kind: 'changed', before: 'x'.repeat(1203), after: 'y'.repeat(1250) }),
      'body: changed (1,203 → 1,250 chars)',
    );
    assert.equal(
      formatChange({ path: 'tags', kind: 'changed', before: ['a', 'b'], after: ['b', 'c'] }),
      'tags: +c -a',
    );
    assert.equal(formatChange({ path: 'bio', kind: 'added', after: 'z'.repeat(100) }), 'bio: + (100 chars)');
    assert.equal(summarizeChanges([]), '(no change)');
    const many = Array.from({ length: 6 }, (_, i) => ({ path: `f${i}`, kind: 'added' as const, after: i }));
    assert.equal(summarizeChanges(many, 2), 'f0: + 0; f1: + 1; (+4 more)');
  });
});

describe('historyEntries', () => {
  test('each event with what it changed in the state, stored and current version', () => {
    const published = sampleArticle('a-1', { headline: 'First' });
    const revised = sampleEvent(
      'ArticleRevised',
      'a-1',
      { ...published.payload, headline: 'Second', tags: [...published.payload.tags, 'budget'] },
      { basisSeq: 1 },
    );
    const retracted = sampleEvent('ArticleRetracted', 'a-1', { reason: 'legal' }, { basisSeq: 2 });
    const entries = historyEntries([stored(1, published, 1), stored(4, revised), stored(9, retracted)]);
    assert.deepEqual(
      entries.map((e) => [e.seq, e.type, e.storedVersion, e.version]),
      [
        [1, 'ArticlePublished', 1, 2],
        [4, 'ArticleRevised', 2, 2],
        [9, 'ArticleRetracted', 1, 1],
      ],
    );
    assert.ok(entries[0]!.changes.every((c) => c.kind === 'added'));
    assert.deepEqual(entries[1]!.changes.map(formatChange), [
      'headline: "First" → "Second"',
      'tags: +budget',
    ]);
    assert.deepEqual(entries[2]!.changes.map(formatChange), [
      'retracted: false → true',
      'retractReason: + "legal"',
    ]);
  });

  test('an update with the same content shows no change', () => {
    const a = sampleByline('b-1', 'Ann');
    const same = sampleEvent('BylineUpdated', 'b-1', { name: 'Ann' }, { basisSeq: 1 });
    assert.deepEqual(historyEntries([stored(1, a), stored(2, same)])[1]!.changes, []);
  });
});

describe('stats accumulator', () => {
  test('counts by type (every catalogue type present), stored version, entity type, unreadable', () => {
    const acc = createStatsAccumulator({ lastSeq: 3, firstSeq: 1, messages: 3, bytes: 100 });
    acc.add({ kind: 'event', stored: stored(1, sampleArticle('a-1'), 1) });
    acc.add({ kind: 'event', stored: stored(2, sampleByline('b-1')) });
    acc.add({
      kind: 'unreadable',
      unreadable: {
        seq: 3,
        time: new Date(Date.UTC(2024, 0, 1, 0, 0, 3)),
        subject: 'x',
        reason: 'bad',
        problems: [],
      },
    });
    const stats = acc.result();
    assert.deepEqual(stats.byType.ArticlePublished, { events: 1, storedVersions: { 1: 1 } });
    assert.deepEqual(stats.byType.ImageProcessingFailed, { events: 0, storedVersions: {} });
    assert.deepEqual(stats.byEntityType, { article: 1, image: 0, byline: 1 });
    assert.equal(stats.unreadable, 1);
    assert.equal(stats.firstTime, '2024-01-01T00:00:01.000Z');
    assert.equal(stats.lastTime, '2024-01-01T00:00:03.000Z');
  });
});
