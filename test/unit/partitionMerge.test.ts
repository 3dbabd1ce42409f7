import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fnv1a, partitionOf } from '../../projectors/rebuild/partitions.ts';
import {
  createProjectionState,
  type ProjectionState,
  restoreProjectionState,
} from '../../projectors/state/projectionState.ts';
import { type BylineStats, mergeBylineStats } from '../../projectors/state/stateRecords.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { canonicalJson } from '../../schemas/eventId.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import { articleFields, makeEvent, randomLog } from '../support/projectorsEvents.ts';

const scanStats = (): BylineStats => ({ statsSeq: 0, liveCount: 0, latestMs: undefined, latestStale: false });

describe('partitioned rebuild: partitions and merged statistics', () => {
  it('partitions by FNV-1a of the article id, the same on every run', () => {
    assert.equal(fnv1a(''), 0x811c9dc5);
    assert.equal(fnv1a('a'), 0xe40c292c);
    assert.equal(fnv1a('foobar'), 0xbf9cf968);
    const ids = Array.from({ length: 10_000 }, (_, i) => `article-${i}`);
    const counts = [0, 0, 0];
    for (const id of ids) counts[partitionOf(id, 3)]!++;
    // Spread evenly enough (each within 10% of a third).
    for (const n of counts) assert.ok(Math.abs(n - 10_000 / 3) < 1000 / 3, String(counts));
  });

  it('adds live counts, keeps the highest statistics sequence and latest time, and stays stale when a partition is', () => {
    const into = scanStats();
    mergeBylineStats(into, { statsSeq: 40, liveCount: 3, latestMs: 1000, latestStale: false });
    mergeBylineStats(into, { statsSeq: 90, liveCount: 2, latestMs: 500, latestStale: false });
    mergeBylineStats(into, { statsSeq: 10, liveCount: 0, latestMs: undefined, latestStale: false });
    assert.deepEqual(into, { statsSeq: 90, liveCount: 5, latestMs: 1000, latestStale: false });
    // A partition whose article holding the latest time was retracted cannot know the next latest.
    mergeBylineStats(into, { statsSeq: 95, liveCount: 1, latestMs: 3000, latestStale: true });
    assert.deepEqual(into, { statsSeq: 95, liveCount: 6, latestMs: 3000, latestStale: true });
  });

  it('a partition that retracted the latest article of a byline: the merged latest is recomputed over every partition', async () => {
    // Two articles in partition 0 (the later one retracted), one in partition 1 between them.
    const ids = Array.from({ length: 50 }, (_, i) => `x${i}`);
    const [a1, a2] = ids.filter((id) => partitionOf(id, 2) === 0);
    const [b1] = ids.filter((id) => partitionOf(id, 2) === 1);
    const published = (id: string, year: number) =>
      makeEvent(
        'ArticlePublished',
        id!,
        articleFields({ headline: id!, publishedAt: `${year}-01-01T00:00:00.000Z`, bylineIds: ['w'] }),
      );
    const events = [
      makeEvent('BylineRegistered', 'w', { name: 'Writer' }),
      published(a1!, 1900),
      published(b1!, 1950),
      published(a2!, 2000),
      makeEvent('ArticleRetracted', a2!, { reason: 'test' }, 4),
    ];
    const full = createProjectionState();
    const scan = createProjectionState();
    for (const [i, event] of events.entries()) {
      full.apply(i + 1, event);
      if (event.entityType !== 'article') scan.apply(i + 1, event);
    }
    const merged = await restoreProjectionState(scan.position, scan.records());
    try {
      for (const p of [0, 1]) {
        const part = await restoreProjectionState(scan.position, scan.records());
        for (const [i, event] of events.entries())
          if (event.entityType === 'article' && partitionOf(event.entityId, 2) === p)
            part.apply(i + 1, event);
        await merged.mergePartition(part.records(), part.position);
        part.close();
      }
      assert.equal(merged.renderByline('w')?.latestArticleAt, '1950-01-01T00:00:00.000Z');
      assertSameState(merged, full, 'retracted latest');
    } finally {
      for (const s of [full, scan, merged]) s.close();
    }
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`random log ${seed}: scan + K partitions merged = one replay (documents and versions), K = 1, 2, 3`, async () => {
      const events = randomLog(900, seed);
      const full = createProjectionState();
      for (const [i, event] of events.entries()) full.apply(i + 1, event);
      const scan = createProjectionState();
      events.forEach((event, i) => {
        if (event.entityType !== 'article') scan.apply(i + 1, event);
      });
      try {
        for (const k of [1, 2, 3]) {
          const merged = await restoreProjectionState(scan.position, scan.records());
          try {
            for (let p = 0; p < k; p++) {
              const part = await restoreProjectionState(scan.position, scan.records());
              try {
                events.forEach((event: ContentEvent, i) => {
                  if (event.entityType === 'article' && partitionOf(event.entityId, k) === p)
                    part.apply(i + 1, event);
                });
                await merged.mergePartition(part.records(), part.position);
              } finally {
                part.close();
              }
            }
            assertSameState(merged, full, `seed ${seed}, K ${k}`);
          } finally {
            merged.close();
          }
        }
      } finally {
        full.close();
        scan.close();
      }
    });
  }
});

function assertSameState(actual: ProjectionState, expected: ProjectionState, label: string): void {
  for (const projection of ['articles', 'bylines', 'images'] as ProjectionName[]) {
    const docs = (s: ProjectionState) => [...s.expectedDocs(projection)].map((d) => d.join('/')).sort();
    assert.deepEqual(docs(actual), docs(expected), `${label}: ${projection} (id/version/own)`);
  }
  for (const [id] of expected.expectedDocs('bylines')) {
    assert.equal(
      canonicalJson(actual.renderByline(id)),
      canonicalJson(expected.renderByline(id)),
      `${label}: byline ${id}`,
    );
  }
  for (const [id] of expected.expectedDocs('images')) {
    assert.equal(
      canonicalJson(actual.renderImage(id)),
      canonicalJson(expected.renderImage(id)),
      `${label}: image ${id}`,
    );
  }
}
