import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import type { Config } from '../../schemas/config.ts';
import type { ArticleDoc } from '../../schemas/documents.ts';
import { createEsClient } from '../../scripts/runtime.ts';
import { encodeCursor } from '../../search/cursor.ts';
import { CursorExpiredError, IndexMissingError, InvalidQueryError } from '../../search/errors.ts';
import { parseSearchParams, type SearchParams, searchFingerprint } from '../../search/query.ts';
import type { SearchHit } from '../../search/results.ts';
import { createSearcher, type Searcher } from '../../search/searcher.ts';
import { cleanupNamespace, testConfig } from '../support/env.ts';
import { indexArticleDocs, speechDocs } from './searchSupport.ts';

/**
 * The query layer against a real Elasticsearch, over the 233 real State of the Union
 * speeches indexed with the projectors' own mapping and analysis.
 */
describe('search query layer (real Elasticsearch, SOTU speeches)', () => {
  let config: Config;
  let es: Client;
  let searcher: Searcher;
  let docs: ArticleDoc[];

  before(async () => {
    config = testConfig();
    es = createEsClient(config);
    docs = speechDocs();
    await indexArticleDocs(es, config.names, docs);
    searcher = createSearcher({ es, names: config.names, keepAlive: '1m' });
  });

  after(async () => {
    await searcher?.close();
    await cleanupNamespace(config).catch((err) => console.warn(err));
    await es?.close();
  });

  const doc = (year: number, name: string) => {
    const found = docs.find((d) => d.year === year && d.bylines[0]?.name === name);
    assert.ok(found, `no fixture for ${year} ${name}`);
    return found;
  };

  async function allPages(
    params: SearchParams,
  ): Promise<{ hits: SearchHit[]; pages: number; total: number }> {
    const hits: SearchHit[] = [];
    let pages = 0;
    let total = -1;
    let next: string | null | undefined;
    do {
      const page = await searcher.search({ ...params, after: next ?? undefined });
      if (pages === 0) total = page.total;
      else assert.equal(page.facets, null, 'facets only on the first page');
      assert.equal(page.total, total, 'the total stays the same across pages');
      hits.push(...page.hits);
      pages++;
      next = page.next;
      assert.ok(pages < 1000, 'runaway pagination');
    } while (next);
    return { hits, pages, total };
  }

  test('a quoted phrase finds the speech it is from', async () => {
    const lincoln = doc(1862, 'Abraham Lincoln');
    const result = await searcher.search({ q: '"fiery trial through which we pass"' });
    assert.equal(result.total, 1);
    assert.equal(result.hits[0]?.id, lincoln.id);
    assert.match(
      result.hits[0]?.highlights.body?.join(' ') ?? '',
      /<mark>fiery trial through which we pass<\/mark>/i,
    );
    // The same words out of order are no phrase: the 1862 speech is not the only match any more.
    const loose = await searcher.search({ q: 'pass trial fiery through' });
    assert.ok(loose.total > 1);
  });

  test('a byline filter narrows to that byline', async () => {
    const all = await searcher.search({ q: 'constitution' });
    const lincoln = await searcher.search({ q: 'constitution', byline: 'b-abraham-lincoln', size: 100 });
    assert.ok(lincoln.total > 0 && lincoln.total < all.total, `${lincoln.total} < ${all.total}`);
    assert.equal(lincoln.total, 4, 'Lincoln gave four annual messages, all mention the constitution');
    for (const hit of lincoln.hits) assert.ok(hit.bylines.some((b) => b.id === 'b-abraham-lincoln'));
  });

  test('a date range narrows, inclusive of whole years', async () => {
    const all = await searcher.search({ q: 'war' });
    const civilWar = await searcher.search({ q: 'war', from: '1861', to: '1865', size: 100 });
    const expected = docs.filter((d) => d.year >= 1861 && d.year <= 1865 && /\bwar\b/i.test(d.body)).length;
    assert.equal(civilWar.total, expected);
    assert.ok(civilWar.total < all.total);
    for (const hit of civilWar.hits) {
      const year = Number(hit.publishedAt?.slice(0, 4));
      assert.ok(year >= 1861 && year <= 1865, hit.publishedAt ?? '');
    }
    const browse = await searcher.search({ from: '1861-01-01', to: '1865-12-31' });
    assert.equal(browse.total, docs.filter((d) => d.year >= 1861 && d.year <= 1865).length);
  });

  test('facets count correctly', async () => {
    const result = await searcher.search({});
    assert.equal(result.total, docs.length);
    const count = (key: (d: ArticleDoc) => string | number) => {
      const counts = new Map<string | number, number>();
      for (const d of docs) counts.set(key(d), (counts.get(key(d)) ?? 0) + 1);
      return counts;
    };
    const sections = count((d) => d.section ?? '');
    assert.equal(result.facets?.sections.length, sections.size);
    for (const s of result.facets?.sections ?? []) assert.equal(s.count, sections.get(s.value), s.value);
    const bylines = count((d) => d.bylines[0]?.id ?? '');
    for (const b of result.facets?.bylines ?? []) {
      assert.equal(b.count, bylines.get(b.id), b.id);
      assert.equal(b.name, docs.find((d) => d.bylines[0]?.id === b.id)?.bylines[0]?.name);
    }
    const years = count((d) => d.year);
    assert.equal(result.facets?.years.length, years.size);
    for (const y of result.facets?.years ?? []) assert.equal(y.count, years.get(y.value), String(y.value));
    // With text, each facet count is what the filter would return.
    const war = await searcher.search({ q: 'slavery' });
    for (const s of (war.facets?.sections ?? []).slice(0, 3)) {
      const filtered = await searcher.search({ q: 'slavery', section: s.value, size: 1 });
      assert.equal(filtered.total, s.count, s.value);
    }
  });

  test('pagination past page 20: no duplicates, no gaps, stable order', async () => {
    const { hits, pages, total } = await allPages({ q: 'congress', size: 5 });
    assert.ok(pages > 20, `${pages} pages`);
    const ids = hits.map((h) => h.id);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    assert.equal(ids.length, total, 'no gaps');
    for (let i = 1; i < hits.length; i++)
      assert.ok((hits[i - 1]?.score ?? 0) >= (hits[i]?.score ?? 0), `score order at ${i}`);

    const byDate = await allPages({ sort: 'date', size: 4 });
    assert.equal(byDate.hits.length, docs.length);
    assert.equal(new Set(byDate.hits.map((h) => h.id)).size, docs.length);
    for (let i = 1; i < byDate.hits.length; i++) {
      assert.ok(
        (byDate.hits[i - 1]?.publishedAt ?? '') >= (byDate.hits[i]?.publishedAt ?? ''),
        `date order at ${i}`,
      );
    }
  });

  test('the page size may change between pages; a cursor of another search is refused', async () => {
    const first = await searcher.search({ q: 'union', size: 2 });
    assert.ok(first.next);
    const second = await searcher.search({ q: 'union', size: 7, after: first.next });
    assert.equal(second.hits.length, 7);
    assert.ok(!second.hits.some((h) => first.hits.some((f) => f.id === h.id)));
    await assert.rejects(searcher.search({ q: 'peace', after: first.next }), InvalidQueryError);
  });

  test('a caption word finds the article with that image', async () => {
    const result = await searcher.search({ q: 'acanthus' });
    assert.equal(result.total, 1);
    const hit = result.hits[0];
    assert.equal(hit?.id, doc(1862, 'Abraham Lincoln').id);
    assert.deepEqual(hit?.highlights.captions, ['<mark>Acanthus</mark> mollis in flower']);
    assert.match(hit?.images[0]?.thumbnail ?? '', /^\/renditions\/sha256:[0-9a-f]{64}$/);
    assert.match(hit?.images[0]?.placeholder ?? '', /^data:image\//);
  });

  test('a misspelled word still finds its document', async () => {
    const truman = doc(1953, 'Harry S Truman');
    assert.match(truman.body, /Nagasaki/);
    const result = await searcher.search({ q: 'Nagasakki' });
    assert.equal(result.hits[0]?.id, truman.id);
    assert.match(result.hits[0]?.highlights.body?.join(' ') ?? '', /<mark>Nagasaki<\/mark>/);
    const phrase = await searcher.search({ q: 'fiery triall' });
    assert.ok(phrase.hits.some((h) => h.id === doc(1862, 'Abraham Lincoln').id));
    // Exact spelling outranks the typo-tolerant match.
    const exact = await searcher.search({ q: 'nagasaki' });
    assert.ok((exact.hits[0]?.score ?? 0) > (result.hits[0]?.score ?? 0));
  });

  test('document text comes back escaped in highlights', async () => {
    // No speech contains markup, so index one that does, in its own index behind the alias.
    const evil: ArticleDoc = {
      ...docs[0]!,
      id: 'evil',
      headline: '<img src=x onerror=alert(1)> quixotic',
      body: 'quixotic <script>alert("x")</script> & done',
    };
    await es.index({
      index: `${config.names.indexPrefix('articles')}fixture`,
      id: 'evil',
      document: evil,
      refresh: true,
    });
    try {
      const result = await searcher.search({ q: 'quixotic' });
      const hit = result.hits.find((h) => h.id === 'evil');
      assert.ok(hit);
      assert.equal(hit.headline, evil.headline, 'raw fields are raw text (the page renders them as text)');
      assert.equal(hit.highlights.headline?.[0], '&lt;img src=x onerror=alert(1)&gt; <mark>quixotic</mark>');
      assert.equal(
        hit.highlights.body?.[0],
        '<mark>quixotic</mark> &lt;script&gt;alert(&quot;x&quot;)&lt;&#x2F;script&gt; &amp; done',
      );
    } finally {
      await es.delete({ index: `${config.names.indexPrefix('articles')}fixture`, id: 'evil', refresh: true });
    }
  });

  test('DSL-looking and hostile text is searched as text', async () => {
    for (const q of [
      '{"script":{"source":"Math.random()"}}',
      '*:*',
      '_all',
      'headline:union',
      '_id:1 OR _index:*',
      '((((((((((',
      '"unbalanced',
      '\\',
      '~~~ ||| +++ ---',
      'a'.repeat(1000),
      Array.from({ length: 200 }, (_, i) => `w${i}`)
        .join(' ')
        .slice(0, 1000),
      Array.from({ length: 150 }, (_, i) => `p${i}*`)
        .join(' ')
        .slice(0, 1000),
      '\u0000\u0001 union \uffff',
    ]) {
      try {
        const result = await searcher.search({ q });
        assert.ok(result.total >= 0);
      } catch (err) {
        assert.ok(err instanceof InvalidQueryError && err.parameter === 'q', `${q.slice(0, 40)}: ${err}`);
      }
    }
    const union = await searcher.search({ q: '_all union' });
    assert.equal(union.total, 0, '_all is a word here, and no speech has it');
  });

  test('bad parameters throw InvalidQueryError before any request', async () => {
    const cases: [SearchParams, string][] = [
      [{ q: 'x'.repeat(1001) }, 'q'],
      [{ size: '0' }, 'size'],
      [{ size: '101' }, 'size'],
      [{ size: '-3' }, 'size'],
      [{ from: '1861-02-30' }, 'from'],
      [{ to: 'tomorrow' }, 'to'],
      [{ kind: 'video' }, 'kind'],
      [{ after: 'bm90IGEgY3Vyc29y' }, 'after'],
    ];
    for (const [params, parameter] of cases) {
      await assert.rejects(
        searcher.search(params),
        (err) => err instanceof InvalidQueryError && err.parameter === parameter,
        JSON.stringify(params),
      );
    }
  });

  test('cursors: a tampered point in time is refused, a closed one has expired', async () => {
    const request = parseSearchParams({ q: 'union', size: 2 });
    const fingerprint = searchFingerprint(request);
    const forged = encodeCursor({ pit: 'bm90IGEgcGl0', after: [1, 2, 3], seen: 2, fingerprint });
    await assert.rejects(
      searcher.search({ q: 'union', size: 2, after: forged }),
      (err) => err instanceof InvalidQueryError || err instanceof CursorExpiredError,
    );
    const first = await searcher.search({ q: 'union', size: 2 });
    assert.ok(first.next);
    const pit = JSON.parse(Buffer.from(first.next, 'base64url').toString()).p as string;
    await es.closePointInTime({ id: pit });
    await assert.rejects(searcher.search({ q: 'union', size: 2, after: first.next }), CursorExpiredError);
  });

  test('a search of a projection that has no index yet says so', async () => {
    await assert.rejects(searcher.search({ kind: 'image', q: 'boats' }), IndexMissingError);
  });

  test('documents by id', async () => {
    const lincoln = doc(1862, 'Abraham Lincoln');
    const found = await searcher.getArticle(lincoln.id);
    assert.equal(found?.headline, lincoln.headline);
    assert.equal(found?.body.length, lincoln.body.length);
    assert.equal(await searcher.getArticle('no-such-article'), undefined);
    await assert.rejects(searcher.getImage('img-acanthus'), IndexMissingError);
    assert.deepEqual(await searcher.health(), { ok: true, status: 'green' });
  });

  test('close is idempotent', async () => {
    const s = createSearcher({ es, names: config.names });
    await s.search({ q: 'union' });
    await Promise.all([s.close(), s.close()]);
    await s.close();
    await assert.rejects(s.search({ q: 'union' }), /closed/);
  });
});
