import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { embedImage, projectArticle } from '../../projectors/articles/projectArticle.ts';
import { createProjectionEngine } from '../../projectors/engine.ts';
import { lineageCheck } from '../../projectors/lineage.ts';
import { PROJECTIONS, parseProjections } from '../../projectors/projections.ts';
import { createChecksum } from '../../projectors/rebuild/verify.ts';
import {
  createProjectionState,
  type ProjectionState,
  restoreProjectionState,
  type StateRecord,
  StateRecordError,
} from '../../projectors/state/projectionState.ts';
import {
  createBulkBodyBuilder,
  createBulkBodyPool,
  encodeBulkBody,
} from '../../projectors/write/bulkBody.ts';
import { type DocOp, emptyBulkStats, sourceText } from '../../projectors/write/bulkWriter.ts';
import { createWritePipeline } from '../../projectors/write/pipeline.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { canonicalJson } from '../../schemas/eventId.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import { type ArticleState, applyEvent, type ImageState } from '../../schemas/state.ts';
import {
  articleFields,
  digest,
  makeEvent,
  prng,
  processedPayload,
  randomLog,
} from '../support/projectorsEvents.ts';

function applyAll(state: ProjectionState, events: ContentEvent[], from = 1): void {
  for (const [i, event] of events.entries()) state.apply(from + i, event);
}

/** Every document of the final state, rendered from scratch: what a full reindex must produce. */
function finalDocs(state: ProjectionState, events: ContentEvent[]): Map<string, string> {
  const docs = new Map<string, string>();
  for (const id of state.articleIds()) {
    const record = state.article(id)!;
    const doc = state.renderArticle(state.articleStateFrom(record, events[record.lastSeq - 1]!));
    if (doc) docs.set(`articles/${id}`, canonicalJson(doc));
  }
  for (const [id] of state.expectedDocs('images'))
    docs.set(`images/${id}`, canonicalJson(state.renderImage(id)));
  for (const [id] of state.expectedDocs('bylines'))
    docs.set(`bylines/${id}`, canonicalJson(state.renderByline(id)));
  return docs;
}

describe('projectArticle', () => {
  const article = (over: Partial<ArticleState> = {}): ArticleState => ({
    entityType: 'article',
    id: 'a1',
    fields: articleFields({ bylineIds: ['b1', 'b2'], imageIds: ['i1'], section: 'news', tags: ['x'] }),
    retracted: false,
    firstSeq: 3,
    lastSeq: 5,
    updatedAt: '1900-01-02T00:00:00Z',
    events: 2,
    ...over,
  });

  it('embeds byline names and image captions, with lineage from the embedded entities', () => {
    const image = applyEvent(
      undefined,
      makeEvent('ImageSubmitted', 'i1', {
        caption: 'Boats',
        credit: 'Nagasaki',
        fileName: 'b.jpg',
        original: { digest: digest(1), bytes: 10, mediaType: 'image/jpeg' },
      }),
      9,
    ) as ImageState;
    const doc = projectArticle(article(), {
      revisions: 2,
      byline: (id) =>
        id === 'b1'
          ? {
              state: {
                entityType: 'byline',
                id: 'b1',
                fields: { name: 'Lincoln' },
                firstSeq: 1,
                lastSeq: 1,
                updatedAt: '',
                events: 1,
              },
              seq: 1,
            }
          : undefined,
      image: () => ({ state: image, seq: 9 }),
    })!;
    assert.deepEqual(doc.bylines, [{ id: 'b1', name: 'Lincoln' }, { id: 'b2' }]);
    assert.deepEqual(doc.images, [{ id: 'i1', caption: 'Boats', credit: 'Nagasaki', renditions: [] }]);
    assert.deepEqual(doc.lineage, {
      asOfSeq: 9,
      ownSeq: 5,
      embeddedSeqs: { 'byline:b1': 1, 'image:i1': 9 },
      check: lineageCheck(doc.id, 9, 5),
    });
    assert.equal(doc.year, 1900);
    assert.equal(doc.revisions, 2);
    assert.equal(doc.section, 'news');
  });

  it('removes retracted articles and embeds removed images as bare ids', () => {
    assert.equal(
      projectArticle(article({ retracted: true }), {
        revisions: 1,
        byline: () => undefined,
        image: () => undefined,
      }),
      null,
    );
    const removed = { removed: true, caption: 'secret' } as ImageState;
    assert.deepEqual(embedImage('i9', removed), { id: 'i9', renditions: [] });
  });

  it('takes the year as the source wrote it', () => {
    const doc = projectArticle(
      article({ fields: articleFields({ publishedAt: '1863-01-01T00:00:00-05:00' }) }),
      {
        revisions: 1,
        byline: () => undefined,
        image: () => undefined,
      },
    )!;
    assert.equal(doc.year, 1863);
  });
});

describe('projection state', () => {
  it('fans a byline rename out to its articles, but not a bio edit', () => {
    const state = createProjectionState();
    state.apply(1, makeEvent('BylineRegistered', 'b1', { name: 'Ann' }));
    state.apply(2, makeEvent('ArticlePublished', 'a1', articleFields({ bylineIds: ['b1'] })));
    state.apply(3, makeEvent('ArticlePublished', 'a2', articleFields({ bylineIds: ['b1'] })));
    const bio = state.apply(4, makeEvent('BylineUpdated', 'b1', { name: 'Ann', bio: 'writes' }));
    assert.deepEqual(bio.articles, []);
    assert.deepEqual(bio.bylines, ['b1']);
    const rename = state.apply(5, makeEvent('BylineUpdated', 'b1', { name: 'Anne' }));
    assert.deepEqual(rename.articles.sort(), ['a1', 'a2']);
    assert.equal(state.versionOf('articles', 'a1'), 5);
  });

  it('fills a dangling reference when the entity arrives', () => {
    const state = createProjectionState();
    const published = state.apply(
      1,
      makeEvent('ArticlePublished', 'a1', articleFields({ bylineIds: ['b1'], imageIds: ['i1'] })),
    );
    assert.deepEqual(published.bylines, ['b1']);
    assert.equal(state.renderByline('b1'), undefined, 'no byline document before the byline exists');
    assert.equal(state.renderImage('i1'), undefined);
    const registered = state.apply(2, makeEvent('BylineRegistered', 'b1', { name: 'Late' }));
    assert.deepEqual(registered.articles, ['a1']);
    const byline = state.renderByline('b1')!;
    assert.equal(byline.articleCount, 1);
    assert.equal(byline.latestArticleAt, '1900-06-01T00:00:00.000Z');
    const submitted = state.apply(
      3,
      makeEvent('ImageSubmitted', 'i1', {
        fileName: 'x.jpg',
        original: { digest: digest(1), bytes: 1, mediaType: 'image/jpeg' },
      }),
    );
    assert.deepEqual(submitted.articles, ['a1']);
    assert.deepEqual(state.renderImage('i1')!.articleIds, ['a1']);
    assert.equal(state.versionOf('articles', 'a1'), 3);
  });

  it('keeps byline statistics through revisions, retractions and un-retractions', () => {
    const state = createProjectionState();
    state.apply(1, makeEvent('BylineRegistered', 'b1', { name: 'Ann' }));
    state.apply(
      2,
      makeEvent(
        'ArticlePublished',
        'a1',
        articleFields({ bylineIds: ['b1'], publishedAt: '1901-01-01T00:00:00Z' }),
      ),
    );
    state.apply(
      3,
      makeEvent(
        'ArticlePublished',
        'a2',
        articleFields({ bylineIds: ['b1'], publishedAt: '1905-01-01T00:00:00Z' }),
      ),
    );
    assert.equal(state.renderByline('b1')!.articleCount, 2);
    assert.equal(state.renderByline('b1')!.latestArticleAt, '1905-01-01T00:00:00.000Z');
    const retract = state.apply(4, makeEvent('ArticleRetracted', 'a2', {}));
    assert.deepEqual(retract.bylines, ['b1']);
    assert.equal(retract.article, undefined);
    let doc = state.renderByline('b1')!;
    assert.equal(doc.articleCount, 1);
    assert.equal(doc.latestArticleAt, '1901-01-01T00:00:00.000Z');
    assert.equal(doc.lineage.asOfSeq, 4);
    // A byline rename must not re-project the retracted article.
    assert.deepEqual(state.apply(5, makeEvent('BylineUpdated', 'b1', { name: 'Anne' })).articles, ['a1']);
    state.apply(
      6,
      makeEvent(
        'ArticleRevised',
        'a2',
        articleFields({ bylineIds: ['b1'], publishedAt: '1903-01-01T00:00:00Z' }),
      ),
    );
    doc = state.renderByline('b1')!;
    assert.equal(doc.articleCount, 2);
    assert.equal(doc.latestArticleAt, '1903-01-01T00:00:00.000Z');
    // A revision dropping the byline.
    state.apply(
      7,
      makeEvent(
        'ArticleRevised',
        'a2',
        articleFields({ bylineIds: [], publishedAt: '1903-01-01T00:00:00Z' }),
      ),
    );
    doc = state.renderByline('b1')!;
    assert.equal(doc.articleCount, 1);
    assert.equal(doc.latestArticleAt, '1901-01-01T00:00:00.000Z');
    assert.equal(doc.lineage.asOfSeq, 7);
    assert.equal(state.article('a2')!.revisions, 3);
  });

  it('fans image changes out only when what articles embed changes', () => {
    const state = createProjectionState();
    state.apply(
      1,
      makeEvent('ImageSubmitted', 'i1', {
        fileName: 'x.jpg',
        original: { digest: digest(1), bytes: 1, mediaType: 'image/jpeg' },
      }),
    );
    state.apply(2, makeEvent('ArticlePublished', 'a1', articleFields({ imageIds: ['i1'] })));
    assert.deepEqual(
      state.apply(3, makeEvent('ImageProcessed', 'i1', processedPayload(digest(1), 1))).articles,
      ['a1'],
    );
    const failed = state.apply(
      4,
      makeEvent('ImageProcessingFailed', 'i1', { original: digest(1), reason: 'x', attempts: 1 }),
    );
    assert.deepEqual(failed.articles, [], 'a failure after success changes nothing an article shows');
    assert.deepEqual(failed.images, ['i1']);
    assert.deepEqual(state.apply(5, makeEvent('ImageRemoved', 'i1', {})).articles, ['a1']);
    assert.equal(state.renderImage('i1'), null);
    assert.equal(state.versionOf('images', 'i1'), undefined);
  });

  it("changes a new article's byline and image documents (their counts and article lists), unless it is retracted", () => {
    const state = createProjectionState();
    state.apply(1, makeEvent('BylineRegistered', 'b1', { name: 'Ada' }));
    const published = state.apply(
      2,
      makeEvent('ArticlePublished', 'a1', articleFields({ bylineIds: ['b1', 'b2'], imageIds: ['i1'] })),
    );
    assert.deepEqual(published.articles, ['a1']);
    assert.deepEqual(published.bylines, ['b1', 'b2']);
    assert.deepEqual(published.images, ['i1']);
    assert.equal(published.article?.id, 'a1');
    assert.equal(state.renderByline('b1')?.articleCount, 1);
    // A history that starts with its retraction: referenced, but nothing to count or show.
    const retracted = state.apply(3, makeEvent('ArticleRetracted', 'a2', { reason: 'x' }));
    assert.deepEqual([retracted.bylines, retracted.images, retracted.article], [[], [], undefined]);
  });

  it('gives every document the version it will be written with', () => {
    for (const seed of [1, 2, 3]) {
      const events = randomLog(300, seed);
      const state = createProjectionState();
      applyAll(state, events);
      for (const projection of PROJECTION_NAMES) {
        for (const [id, version] of state.expectedDocs(projection)) {
          const key = `${projection}/${id}`;
          const doc =
            projection === 'articles'
              ? state.renderArticle(
                  state.articleStateFrom(state.article(id)!, events[state.article(id)!.lastSeq - 1]!),
                )
              : projection === 'images'
                ? state.renderImage(id)
                : state.renderByline(id);
          assert.equal(doc?.lineage.asOfSeq, version, key);
        }
      }
    }
  });
});

/** An in-memory index with Elasticsearch's external-version rules, tombstones included. */
function versionedStore() {
  const docs = new Map<string, { version: number; source?: string }>();
  return {
    docs,
    apply(ops: Pick<DocOp, 'projection' | 'id' | 'action' | 'version' | 'source'>[]) {
      for (const op of ops) {
        const key = `${op.projection}/${op.id}`;
        const current = docs.get(key);
        if (current && current.version >= op.version) continue;
        docs.set(key, {
          version: op.version,
          source: op.action === 'index' ? canonicalJson(JSON.parse(sourceText(op)!)) : undefined,
        });
      }
    },
    live(): Map<string, string> {
      const out = new Map<string, string>();
      for (const [key, value] of docs) if (value.source !== undefined) out.set(key, value.source);
      return out;
    },
  };
}

describe('projection state order', () => {
  it('ends in the same state when bylines and images are applied before the articles', () => {
    for (const seed of [21, 22, 23]) {
      const events = randomLog(400, seed);
      const inOrder = createProjectionState();
      applyAll(inOrder, events);
      const refsFirst = createProjectionState();
      const numbered = events.map((event, i) => ({ event, seq: i + 1 }));
      for (const { event, seq } of numbered) if (event.entityType !== 'article') refsFirst.apply(seq, event);
      for (const { event, seq } of numbered) if (event.entityType === 'article') refsFirst.apply(seq, event);
      assert.deepEqual(finalDocs(refsFirst, events), finalDocs(inOrder, events), `seed ${seed}`);
      for (const projection of PROJECTION_NAMES) {
        assert.deepEqual(
          [...refsFirst.expectedDocs(projection)].sort(),
          [...inOrder.expectedDocs(projection)].sort(),
        );
      }
    }
  });
});

describe('projection state snapshot', () => {
  it('restored at any position and fed the rest of the log, equals the state of one replay', async () => {
    for (const seed of [31, 32, 33]) {
      const events = randomLog(500, seed);
      const whole = createProjectionState();
      applyAll(whole, events);
      for (const cut of [0, 1, 137, 250, 499, 500]) {
        // Byline and image states through their files: a tiny buffer and cache.
        const stateFiles = { bufferBytes: 256, cacheEntries: 2 };
        const prefix = createProjectionState({ stateFiles });
        applyAll(prefix, events.slice(0, cut));
        // Through JSON, as it is stored.
        const saved = [...prefix.records()].map((record) => JSON.parse(JSON.stringify(record)));
        const restored = await restoreProjectionState(cut, saved, { stateFiles });
        assert.equal(restored.position, cut);
        // The same state, however differently stored: sizes of the files and page traffic aside.
        const {
          stateBytes: restoredBytes,
          stateReads: _rr,
          articlePages: _r,
          ...restoredStats
        } = restored.stats();
        const { stateBytes: prefixBytes, stateReads: _pr, articlePages: _p, ...prefixStats } = prefix.stats();
        assert.deepEqual(restoredStats, prefixStats, `seed ${seed} cut ${cut}`);
        assert.equal(restoredBytes.live, prefixBytes.live);
        if (cut >= 250) assert.ok(prefixBytes.file > 256, 'states went through the file');
        applyAll(restored, events.slice(cut), cut + 1);
        assert.deepEqual(finalDocs(restored, events), finalDocs(whole, events), `seed ${seed} cut ${cut}`);
        for (const projection of PROJECTION_NAMES) {
          assert.deepEqual(
            [...restored.expectedDocs(projection)].sort(),
            [...whole.expectedDocs(projection)].sort(),
            `seed ${seed} cut ${cut} ${projection}`,
          );
        }
        assert.deepEqual(
          JSON.parse(JSON.stringify([...restored.records()])),
          JSON.parse(JSON.stringify([...whole.records()])),
        );
      }
    }
  });

  it('refuses a record it does not know', async () => {
    await assert.rejects(restoreProjectionState(1, [['x', 'a'] as unknown as StateRecord]), StateRecordError);
    await assert.rejects(
      restoreProjectionState(1, [['a', 'art-1', 1, 1, 1, 1, false, 0, 'b-1', []] as unknown as StateRecord]),
      /malformed article record/,
    );
  });
});

describe('projection engine', () => {
  it('produces the same documents live (any batch boundaries) as a final render', async () => {
    for (const seed of [11, 12, 13, 14]) {
      const events = randomLog(400, seed);
      const random = prng(seed);
      let loads = 0;
      const engine = createProjectionEngine({
        projections: PROJECTION_NAMES,
        loadArticle: async (_id, seq) => {
          loads++;
          return events[seq - 1]!;
        },
      });
      const store = versionedStore();
      for (let i = 0; i < events.length; i++) {
        engine.apply(i + 1, events[i]!);
        if (random() < 0.2 || i === events.length - 1) {
          const { ops, failures } = await engine.render((p) => `idx-${p}`);
          assert.deepEqual(failures, []);
          // Duplicated and reordered delivery must not matter either.
          store.apply(ops);
          if (random() < 0.3) store.apply([...ops].reverse());
        }
      }
      const expected = finalDocs(engine.state, events);
      assert.deepEqual(store.live(), expected, `seed ${seed}`);
      assert.ok(loads > 0, 'fan-out read some articles back');
    }
  });

  it('writes only the projections whose queue is open (checkpoint gating)', async () => {
    const events = randomLog(200, 5);
    const engine = createProjectionEngine({
      projections: ['bylines'],
      loadArticle: async (_id, seq) => events[seq - 1]!,
    });
    const store = versionedStore();
    for (const [i, event] of events.entries()) engine.apply(i + 1, event, () => i + 1 > 100);
    store.apply((await engine.render(() => 'x')).ops);
    assert.ok([...store.docs.keys()].every((key) => key.startsWith('bylines/')));
    assert.ok(store.docs.size > 0);
  });

  it('dead-letters an article that cannot be read back, and keeps the rest', async () => {
    const engine = createProjectionEngine({
      projections: ['articles'],
      loadArticle: async () => {
        throw new Error('gone');
      },
    });
    engine.apply(1, makeEvent('BylineRegistered', 'b1', { name: 'A' }));
    engine.apply(2, makeEvent('ArticlePublished', 'a1', articleFields({ bylineIds: ['b1'] })));
    engine.apply(3, makeEvent('ArticlePublished', 'a2', articleFields({ bylineIds: ['b1'] })));
    await engine.render(() => 'x');
    engine.apply(4, makeEvent('BylineUpdated', 'b1', { name: 'B' }));
    engine.apply(
      5,
      makeEvent('ArticleRevised', 'a2', articleFields({ bylineIds: ['b1'], headline: 'fresh' })),
    );
    const { ops, failures } = await engine.render(() => 'x');
    assert.deepEqual(
      failures.map((f) => f.docId),
      ['a1'],
    );
    assert.deepEqual(
      ops.map((o) => o.id),
      ['a2'],
    );
  });
});

describe('projection definitions', () => {
  it('have strict mappings and distinct fingerprints', () => {
    for (const name of PROJECTION_NAMES) {
      assert.equal(PROJECTIONS[name].mappings.dynamic, 'strict');
      assert.match(PROJECTIONS[name].fingerprint, /^[0-9a-f]{16}$/);
    }
    assert.deepEqual(parseProjections('all'), ['articles', 'images', 'bylines']);
    assert.deepEqual(parseProjections('images'), ['images']);
    assert.throws(() => parseProjections('nope'), /unknown projection/);
  });
});

describe('bulk body', () => {
  it('is the NDJSON of the lines, each UTF-8 encoded and newline-terminated', () => {
    const lines = [
      '{"index":{"_index":"a","_id":"1"}}',
      JSON.stringify({ headline: 'Zürich – naïve café ☕', body: 'line\nbreak "quoted" \u2028' }),
      '{"delete":{"_index":"a","_id":"𝔘"}}',
    ];
    const body = encodeBulkBody(lines);
    assert.equal(body.toString('utf8'), `${lines.join('\n')}\n`);
    assert.equal(body.length, Buffer.byteLength(`${lines.join('\n')}\n`));
    assert.deepEqual(
      body
        .toString('utf8')
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line)),
      lines.map((line) => JSON.parse(line)),
    );
  });

  it('is empty for no lines', () => {
    assert.equal(encodeBulkBody([]).length, 0);
  });

  it('reuses an answered body buffer for the next body that fits, and never one still in use', () => {
    const pool = createBulkBodyPool();
    const first = encodeBulkBody(['{"a":1}', '{"b":2}'], pool);
    assert.equal(first.toString(), '{"a":1}\n{"b":2}\n');
    const second = encodeBulkBody(['{"c":3}'], pool);
    assert.notEqual(second.buffer, first.buffer, 'the first is still in use');
    pool.give(first);
    const third = encodeBulkBody(['{"d":4}'], pool);
    assert.equal(third.buffer, first.buffer);
    assert.equal(third.toString(), '{"d":4}\n');
    assert.equal(second.toString(), '{"c":3}\n');
    pool.give(third);
    const large = encodeBulkBody(['x'.repeat(2 << 20)], pool);
    assert.notEqual(large.buffer, first.buffer, 'too small to hold it');
    assert.equal(large.length, (2 << 20) + 1);
  });

  it("is built op by op in one pooled buffer, the ops' sources views of it, even when it grows", () => {
    const random = prng(11);
    const pool = createBulkBodyPool();
    // Far too small for the ops below: the builder grows it several times.
    const builder = createBulkBodyBuilder(pool, 2048);
    const ops: { op: DocOp; text?: string }[] = [];
    for (let i = 0; i < 400; i++) {
      const op: DocOp = {
        projection: 'articles',
        index: 'ns-articles-1',
        id: `a-${i}-𝔘`,
        action: i % 7 === 3 ? 'delete' : 'index',
        version: 1000 + i,
        ...(i % 5 === 0 ? { versionType: 'internal' as const } : {}),
      };
      if (op.action === 'delete') {
        builder.append(op);
        ops.push({ op });
        continue;
      }
      const body = 'é☕𝔘"\\\n'.repeat(Math.floor(random() * 60)) + 'x'.repeat(Math.floor(random() * 900));
      const text = JSON.stringify({ i, body });
      // The rebuild's shape: a head string, the body's JSON as bytes, a closing brace.
      const head = text.slice(0, text.indexOf('"body":') + 7);
      const parts = i % 2 ? [head, Buffer.from(JSON.stringify(body)), '}'] : [text];
      builder.append(op, parts);
      ops.push({ op, text });
    }
    const body = builder.body();
    assert.equal(body.length, builder.bytes);
    // Every source still reads right after later appends grew the buffer.
    for (const { op, text } of ops) assert.equal(sourceText(op), text);
    const lines = body.toString('utf8').split('\n');
    assert.equal(lines.pop(), '', 'newline-terminated');
    let at = 0;
    for (const { op, text } of ops) {
      const meta = { _index: op.index, _id: op.id };
      const versioned =
        op.versionType === 'internal' ? meta : { ...meta, version: op.version, version_type: 'external' };
      assert.deepEqual(JSON.parse(lines[at++]!), { [op.action]: versioned });
      if (text !== undefined) assert.equal(lines[at++], text);
    }
    assert.equal(at, lines.length);

    // Given back, its buffer serves the next body that fits.
    builder.release();
    const next = createBulkBodyBuilder(pool, 1024);
    assert.equal(next.body().buffer, body.buffer);
    assert.equal(next.bytes, 0);
  });
});

describe('write pipeline', () => {
  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('writes concurrently but commits in order, and never commits after a failed write', async () => {
    const committed: number[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const pipeline = createWritePipeline<{ toSeq: number; final: boolean }>({
      maxInFlight: 3,
      commit: async (batch) => {
        committed.push(batch.toSeq);
      },
    });
    const write =
      (ms: number, fail = false) =>
      async () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await delay(ms);
        concurrent--;
        if (fail) throw new Error('bulk failed');
        return emptyBulkStats();
      };
    await pipeline.submit({ toSeq: 1, final: false }, write(30));
    await pipeline.submit({ toSeq: 2, final: false }, write(5));
    await pipeline.submit({ toSeq: 3, final: false }, write(10));
    await pipeline.drain();
    assert.deepEqual(committed, [1, 2, 3]);
    assert.equal(maxConcurrent, 3);

    await pipeline.submit({ toSeq: 4, final: false }, write(20, true));
    await pipeline.submit({ toSeq: 5, final: false }, write(1));
    await assert.rejects(pipeline.drain(), /bulk failed/);
    assert.deepEqual(committed, [1, 2, 3], 'nothing after the failed batch is committed');
    await assert.rejects(pipeline.submit({ toSeq: 6, final: false }, write(1)), /bulk failed/);
  });
});

describe('lineage checks', () => {
  it('are three 20-bit hashes of (id, asOfSeq, ownSeq)', () => {
    const check = lineageCheck('a-1', 12, 10);
    assert.deepEqual(check, lineageCheck('a-1', 12, 10));
    for (const value of Object.values(check))
      assert.ok(Number.isInteger(value) && value >= 0 && value < 2 ** 20);
    assert.notDeepEqual(lineageCheck('a-1', 12, 10), lineageCheck('a-1', 12, 11));
    assert.notDeepEqual(lineageCheck('a-1', 12, 10), lineageCheck('a-2', 12, 10));
    // The separator keeps id and sequences apart: ("a-1", 12) is not ("a-11", 2).
    assert.notDeepEqual(lineageCheck('a-1', 12, 10), lineageCheck('a-11', 2, 10));
  });

  it('sum to a checksum that ignores order and changes with any document', () => {
    const docs = Array.from({ length: 5000 }, (_, i): [string, number, number] => [`a-${i}`, i + 7, i + 3]);
    const checksum = (list: [string, number, number][]) => {
      const sum = createChecksum();
      for (const [id, asOfSeq, ownSeq] of list) sum.add(lineageCheck(id, asOfSeq, ownSeq));
      return [sum.count, sum.value] as const;
    };
    const [count, value] = checksum(docs);
    assert.equal(count, 5000);
    assert.match(value, /^[0-9a-f]{42}$/);
    assert.deepEqual(checksum([...docs].reverse()), [count, value]);
    const stale = docs.map((d, i): [string, number, number] => (i === 4321 ? [d[0], d[1] - 1, d[2]] : d));
    assert.notEqual(checksum(stale)[1], value);
    // Two documents swapping their versions: same multiset of sequences, different documents.
    const swapped = docs.map((d, i): [string, number, number] =>
      i === 1 ? [d[0], docs[2]![1], docs[2]![2]] : i === 2 ? [d[0], docs[1]![1], docs[1]![2]] : d,
    );
    assert.notEqual(checksum(swapped)[1], value);
  });
});
