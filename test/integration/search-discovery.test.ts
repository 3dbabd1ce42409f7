import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createIngester } from '../../ingest/ingest.ts';
import type { ArticleRecord } from '../../ingest/records.ts';
import { createNames } from '../../schemas/names.ts';
import { searchBreakdown, searchFloor } from '../../scripts/bench/search.ts';
import type { Archive } from '../../search/archives.ts';
import { IndexMissingError } from '../../search/errors.ts';
import type { SearchHit, SearchResult } from '../../search/results.ts';
import { createSearcher } from '../../search/searcher.ts';
import type { Suggestions } from '../../search/suggest.ts';
import { runCli } from '../support/cli.ts';
import { type SearchFixture, setUpSearchFixture } from '../support/search.ts';

interface Answer {
  status: number;
  body: unknown;
}

/** Words of an article's searchable text, for computing expected answers from the source records. */
function textOf(a: ArticleRecord): string {
  return `${a.headline}\n${a.body}`;
}

/**
 * Stemming, suggestions, related stories, the timeline and as-of archives, through the
 * HTTP API over the real sample archive (233 State of the Union addresses).
 */
describe('search: stemming, suggest, related, timeline, archives (real Elasticsearch)', () => {
  let fixture: SearchFixture;
  let base: string;
  let articles: ArticleRecord[];

  before(async () => {
    fixture = await setUpSearchFixture();
    ({ base, articles } = fixture);
  });

  after(async () => {
    await fixture?.close();
  });

  async function get(path: string): Promise<Answer> {
    const response = await fetch(`${base}${path}`);
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: response.status, body };
  }

  const search = async (params: Record<string, string>) => {
    const answer = await get(`/api/search?${new URLSearchParams({ size: '100', ...params })}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as SearchResult;
  };

  test('"railroads" finds the speeches that only say "railroad"; a quoted word matches exactly', async () => {
    const plural = articles.filter((a) => /\brailroads\b/i.test(textOf(a)));
    const singularOnly = articles.filter(
      (a) => /\brailroad\b/i.test(textOf(a)) && !/\brailroads\b/i.test(textOf(a)),
    );
    assert.ok(plural.length > 0 && singularOnly.length > 0, 'the sample has both forms');
    const stemmed = await search({ q: 'railroads' });
    assert.ok(stemmed.total >= plural.length + singularOnly.length, `${stemmed.total} hits`);
    assert.equal((await search({ q: 'railroad' })).total, stemmed.total, 'one stem, the same hits');
    for (const a of singularOnly.slice(0, 3)) {
      const day = a.publishedAt.slice(0, 10);
      const narrowed = await search({ q: 'railroads', from: day, to: day });
      assert.ok(
        narrowed.hits.some((h) => h.id === a.id),
        `${a.id} says "railroad": found by "railroads"`,
      );
    }
    const exact = await search({ q: '"railroads"' });
    assert.equal(exact.total, plural.length, 'a quoted word is not stemmed');
    for (const hit of exact.hits) assert.ok(!singularOnly.some((a) => a.id === hit.id));
  });

  test('"taxation" ranks speeches about "tax" that never say taxation', async () => {
    const taxOnly = articles.filter(
      (a) => /\btax(es)?\b/i.test(textOf(a)) && !/\btaxation\b/i.test(textOf(a)),
    );
    assert.ok(taxOnly.length > 0);
    const result = await search({ q: 'taxation' });
    const ids = new Set(result.hits.map((h) => h.id));
    assert.ok(
      taxOnly.some((a) => ids.has(a.id)),
      'a speech that only says "tax" is among the hits for "taxation"',
    );
  });

  test("bench search --breakdown: a first page's parts, each timed straight to Elasticsearch", async () => {
    const rows = await searchBreakdown(
      fixture.es,
      fixture.config,
      [{ q: 'union' }, { q: '"fiery trial"' }],
      1,
    );
    assert.deepEqual(
      rows.map((r) => r.name.replace('breakdown: ', '')),
      [
        'open a point in time',
        'first page _msearch: hits and facets',
        'page of hits',
        'page of hits, no highlight',
        'page of hits, no body highlight',
        'page of hits, no _source',
        'facets search (request cache)',
        'facets search (no request cache)',
        'bare match',
      ],
    );
    for (const row of rows) {
      assert.equal(row.unit, 'ms');
      assert.ok(row.ours > 0 && row.ceiling === rows.at(-1)?.ours, JSON.stringify(row));
    }
  });

  test('bench search --breakdown: the floor, the page of hits alone at N clients against the bare match', async () => {
    const rows = await searchFloor(
      fixture.es,
      fixture.config,
      [{ q: 'union' }, { q: 'war', kind: 'image' }, { q: '"fiery trial"' }],
      { concurrency: 2, requests: 6, rounds: 1 },
    );
    assert.deepEqual(
      rows.map((r) => r.name),
      [
        'floor c=2: page of hits alone p50 vs bare match',
        'floor c=2: page of hits, no body snippets, p50 vs bare match',
      ],
    );
    for (const row of rows) {
      assert.equal(row.unit, 'ms');
      assert.ok(row.ours > 0 && row.ceiling > 0, JSON.stringify(row));
      // Higher is better, like the throughput's: the bare match's p50 over ours (the printed
      // figures are rounded, the ratio is not).
      assert.ok(Math.abs(row.ratio - row.ceiling / row.ours) < 0.05 * row.ratio, JSON.stringify(row));
    }
    assert.equal(rows[0]!.ceiling, rows[1]!.ceiling, 'both against the same bare match');
  });

  test('typo tolerance only when the words fill less than a page; later pages keep the choice', async () => {
    // '+war' uses an operator, so it never gets the typo clause: the same hits as plain 'war'
    // when 'war' alone fills the page (fuzzy matches like "was" or "far" would add thousands).
    const plain = await search({ q: 'war', size: '10' });
    const exact = await search({ q: '+war', size: '10' });
    assert.equal(plain.total, exact.total);
    assert.ok(plain.next);
    const second = await search({ q: 'war', size: '10', after: plain.next });
    assert.equal(second.hits.length, 10);
    assert.ok(!second.hits.some((h) => plain.hits.some((p) => p.id === h.id)));
    // A misspelling the words alone do not find still gets its document.
    const typo = await search({ q: 'nagasakki' });
    assert.ok(typo.total >= 1);
  });

  test('suggest: a later word of a headline or name completes too (infix suggestions)', async () => {
    // The headlines with a word (not only the first) starting "linc": the fixture's own records.
    const lincolns = articles.filter((a) => /(^|\s)linc/i.test(a.headline)).map((a) => a.id);
    assert.ok(lincolns.length > 1 && lincolns.length <= 10, `the sample has several: ${lincolns}`);
    for (const q of ['lincoln', 'linc', 'LINCOLN']) {
      const answer = await get(`/api/suggest?q=${q}&size=10`);
      assert.equal(answer.status, 200);
      const { bylines, headlines } = answer.body as Suggestions;
      assert.ok(
        bylines.some((b) => b.id === 'b-abraham-lincoln' && b.name === 'Abraham Lincoln'),
        `${q}: ${JSON.stringify(bylines)}`,
      );
      // Every Lincoln headline ends "...: Abraham Lincoln": all of them, not one per matched input.
      const ids = headlines.map((h) => h.id);
      assert.deepEqual(
        [...ids].sort(),
        [...lincolns].sort(),
        `${q}: each speech whose headline has a word starting so`,
      );
    }
    // From the middle of a headline, across words.
    const middle = await get(`/api/suggest?q=${encodeURIComponent('union address, 1862')}`);
    assert.deepEqual(
      (middle.body as Suggestions).headlines.map((h) => h.id),
      ['sotu-1862-abraham-lincoln'],
    );
  });

  test('suggest: an index built before the suggest field is "not ready, reindex", not a 400', async () => {
    const names = createNames(`${fixture.config.namespace}-old`);
    const old = (p: 'articles' | 'bylines') => `${names.indexPrefix(p)}1`;
    try {
      for (const p of ['articles', 'bylines'] as const) {
        await fixture.es.indices.create({
          index: old(p),
          mappings: { properties: { id: { type: 'keyword' }, headline: { type: 'text' } } },
          aliases: { [names.alias(p)]: {} },
        });
      }
      const searcher = createSearcher({ es: fixture.es, names });
      await assert.rejects(searcher.suggest({ q: 'linc' }), (err: unknown) => {
        assert.ok(err instanceof IndexMissingError);
        assert.match(err.message, /older version of presslog.*presslog reindex/);
        return true;
      });
      await searcher.close();
    } finally {
      await fixture.es.indices.delete({ index: [old('articles'), old('bylines')], ignore_unavailable: true });
    }
  });

  test('suggest: headlines and byline names as you type; bad input is a 400', async () => {
    const byName = await get('/api/suggest?q=abra');
    assert.equal(byName.status, 200);
    const names = (byName.body as Suggestions).bylines;
    assert.ok(
      names.some((b) => b.id === 'b-abraham-lincoln' && b.name === 'Abraham Lincoln'),
      JSON.stringify(names),
    );
    const byHeadline = await get(`/api/suggest?q=${encodeURIComponent('State of the Union Address, 1862')}`);
    assert.equal(byHeadline.status, 200);
    const headlines = (byHeadline.body as Suggestions).headlines;
    assert.deepEqual(
      headlines.map((h) => h.id),
      ['sotu-1862-abraham-lincoln'],
    );
    assert.equal((await get('/api/suggest?q=zzzzqx')).status, 200);
    assert.deepEqual((await get('/api/suggest?q=zzzzqx')).body, { headlines: [], bylines: [] });
    for (const bad of [
      '',
      '?q=',
      `?q=${'a'.repeat(101)}`,
      '?q=ab&size=0',
      '?q=ab&size=x',
      '?q=ab&size=11',
      '?q=a&q=b',
      '?q=%20%20',
      '?q=ab&evil=1',
    ]) {
      const answer = await get(`/api/suggest${bad}`);
      assert.equal(answer.status, 400, `${bad}: ${JSON.stringify(answer.body)}`);
      assert.equal((answer.body as { error: { code: string } }).error.code, 'invalid_parameter');
    }
    const hostile = await get(`/api/suggest?q=${encodeURIComponent('{"match_all":{}} \\ " * ~ <script>')}`);
    assert.equal(hostile.status, 200);
  });

  test('related: other articles like this one, never itself; unknown 404, bad 400', async () => {
    const answer = await get('/api/articles/sotu-1862-abraham-lincoln/related?size=5');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const { hits } = answer.body as { hits: SearchHit[] };
    assert.equal(hits.length, 5);
    assert.ok(!hits.some((h) => h.id === 'sotu-1862-abraham-lincoln'));
    // Lincoln's other wartime messages share its vocabulary (rebellion, emancipation, ...).
    assert.ok(
      hits.some((h) => /^sotu-186[1-5]-/.test(h.id)),
      hits.map((h) => h.id).join(', '),
    );
    assert.equal((await get('/api/articles/no-such-article/related')).status, 404);
    for (const bad of [
      '/api/articles/a%20b/related',
      '/api/articles/x/related?size=0',
      '/api/articles/x/related?size=500',
    ]) {
      assert.equal((await get(bad)).status, 400, bad);
    }
  });

  test('timeline: decades over a wide range, years over a narrow one; counts add up to the total', async () => {
    const wide = await search({ q: 'war' });
    assert.ok(wide.timeline);
    assert.equal(wide.timeline.interval, 'decade');
    assert.equal(
      wide.timeline.buckets.reduce((n, b) => n + b.count, 0),
      wide.total,
    );
    for (const b of wide.timeline.buckets) assert.equal(b.to - b.from, 9);
    const narrow = await search({ q: 'war', from: '1861', to: '1865' });
    assert.equal(narrow.timeline?.interval, 'year');
    assert.deepEqual(
      narrow.timeline?.buckets.map((b) => b.from),
      [1861, 1862, 1863, 1864, 1865].filter((y) => narrow.timeline?.buckets.some((b) => b.from === y)),
    );
    assert.equal(
      narrow.timeline?.buckets.reduce((n, b) => n + b.count, 0),
      narrow.total,
    );
    // Clicking a decade filters to it: the bucket's count is what the filtered search finds.
    const decade = wide.timeline.buckets.find((b) => b.count > 0)!;
    const filtered = await search({ q: 'war', from: String(decade.from), to: String(decade.to) });
    assert.equal(filtered.total, decade.count);
    // Later pages carry no timeline (the first page's still holds).
    const page = await search({ q: 'war', size: '5' });
    assert.ok(page.next);
    const second = await search({ q: 'war', size: '5', after: page.next });
    assert.equal(second.timeline, null);
  });

  test('asOf: an archive as it stood is listed and searchable; later articles are not in it', async () => {
    const env = { PRESSLOG_NAMESPACE: fixture.config.namespace, PRESSLOG_LOG_LEVEL: 'warn' };
    const asOf = new Date().toISOString();
    const built = await runCli(['reindex', 'articles', '--as-of', asOf, '--no-progress'], env);
    assert.equal(built.code, 0, built.stderr);
    const listed = await get('/api/archives');
    assert.equal(listed.status, 200);
    const archives = (listed.body as { archives: Archive[] }).archives;
    assert.equal(archives.length, 1, JSON.stringify(archives));
    const archive = archives[0]!;
    assert.match(archive.index, /-articles-asof-/);
    assert.equal(archive.asOf, asOf);
    assert.equal(archive.docs, articles.length);

    const later: ArticleRecord = {
      ...articles[0]!,
      id: 'late-addition',
      headline: 'A zyzzogeton report filed after the archive was frozen',
    };
    const file = join(tmpdir(), `presslog-late-${process.pid}.ndjson`);
    await writeFile(file, `${JSON.stringify(later)}\n`);
    await createIngester({ log: fixture.log, blobs: fixture.blobs }).ingest([file]);
    await fixture.catchUp();
    assert.equal((await search({ q: 'zyzzogeton' })).total, 1);
    assert.equal((await search({ q: 'zyzzogeton', asOf: archive.index })).total, 0);
    const whole = await search({ q: '', asOf: archive.index });
    assert.equal(whole.total, articles.length);
    for (const bad of [
      'nonsense',
      'other-articles-asof-20260101t000000000',
      `${archive.index}x`,
      '../_all',
    ]) {
      const answer = await get(`/api/search?${new URLSearchParams({ q: 'war', asOf: bad })}`);
      assert.equal(answer.status, 400, `${bad}: ${JSON.stringify(answer.body)}`);
    }
    const imagesOfArticles = await get(
      `/api/search?${new URLSearchParams({ kind: 'image', asOf: archive.index })}`,
    );
    assert.equal(imagesOfArticles.status, 400);
  });
});
