import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ArticleRecord } from '../../ingest/records.ts';
import type { ArticleDoc } from '../../schemas/documents.ts';
import { createNames } from '../../schemas/names.ts';
import { encodeCursor } from '../../search/cursor.ts';
import { CursorExpiredError, IndexMissingError, InvalidQueryError } from '../../search/errors.ts';
import { parseSearchParams, type SearchParams, searchFingerprint } from '../../search/params.ts';
import type { SearchHit } from '../../search/results.ts';
import { createSearcher, type Searcher } from '../../search/searcher.ts';
import { countBy, type SearchFixture, setUpSearchFixture, yearOf } from '../support/search.ts';

/**
 * The query layer against a real Elasticsearch, over the real sample archive (233 State
 * of the Union addresses, 43 bylines, 9 photographs) built by the quick start's pipeline:
 * sample → ingest → image workers → reindex. Expected answers are computed from the
 * sample's source records.
 */
describe('search query layer (real Elasticsearch, the SOTU sample archive)', () => {
  let fixture: SearchFixture;
  let searcher: Searcher;
  let articles: ArticleRecord[];

  before(async () => {
    fixture = await setUpSearchFixture();
    ({ searcher, articles } = fixture);
  });

  after(async () => {
    await fixture?.close();
  });

  const article = (year: number, bylineId: string) => {
    const found = articles.find((a) => yearOf(a.publishedAt) === year && a.bylines?.includes(bylineId));
    assert.ok(found, `no article of ${year} by ${bylineId}`);
    return found;
  };
  const mentions = (word: RegExp) => articles.filter((a) => word.test(a.body) || word.test(a.headline));

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

  test('the whole sample is searchable', async () => {
    const all = await searcher.search({});
    assert.equal(all.total, articles.length);
    assert.equal(fixture.prepared.images.failed, 0);
    assert.equal(fixture.prepared.images.processed, fixture.images.length);
  });

  test('a quoted phrase finds the speech it is from', async () => {
    const lincoln = article(1862, 'b-abraham-lincoln');
    const result = await searcher.search({ q: '"fiery trial through which we pass"' });
    assert.equal(result.total, 1);
    assert.equal(result.hits[0]?.id, lincoln.id);
    assert.match(
      result.hits[0]?.highlights.body?.join(' ') ?? '',
      /<mark>fiery trial through which we pass<\/mark>/i,
    );
    // The phrase's words out of order, unquoted, are no phrase: the 1862 speech is not the only match.
    const loose = await searcher.search({ q: 'pass trial which through' });
    assert.ok(loose.total > 1);
  });

  test('a byline filter narrows to that byline', async () => {
    const all = await searcher.search({ q: 'constitution' });
    const lincoln = await searcher.search({ q: 'constitution', byline: 'b-abraham-lincoln', size: 100 });
    const expected = mentions(/constitution/i).filter((a) => a.bylines?.includes('b-abraham-lincoln')).length;
    assert.equal(lincoln.total, expected);
    assert.ok(lincoln.total > 0 && lincoln.total < all.total, `${lincoln.total} < ${all.total}`);
    for (const hit of lincoln.hits) assert.ok(hit.bylines.some((b) => b.id === 'b-abraham-lincoln'));
  });

  test('a date range narrows, inclusive of whole years', async () => {
    const all = await searcher.search({ q: 'war' });
    const civilWar = await searcher.search({ q: 'war', from: '1861', to: '1865', size: 100 });
    const inRange = (a: ArticleRecord) => yearOf(a.publishedAt) >= 1861 && yearOf(a.publishedAt) <= 1865;
    assert.equal(civilWar.total, mentions(/\bwar\b/i).filter(inRange).length);
    assert.ok(civilWar.total < all.total);
    for (const hit of civilWar.hits) {
      const year = yearOf(hit.publishedAt ?? '');
      assert.ok(year >= 1861 && year <= 1865, hit.publishedAt ?? '');
    }
    const browse = await searcher.search({ from: '1861-01-01', to: '1865-12-31' });
    assert.equal(browse.total, articles.filter(inRange).length);
  });

  test('facets count correctly', async () => {
    const result = await searcher.search({});
    assert.equal(result.total, articles.length);
    const sections = countBy(articles, (a) => a.section ?? '');
    assert.equal(result.facets?.sections.length, sections.size);
    for (const s of result.facets?.sections ?? []) assert.equal(s.count, sections.get(s.value), s.value);
    const bylines = countBy(articles, (a) => a.bylines ?? []);
    assert.equal(result.facets?.bylines.length, Math.min(50, bylines.size));
    for (const b of result.facets?.bylines ?? []) {
      assert.equal(b.count, bylines.get(b.id), b.id);
      assert.equal(b.name, fixture.bylines.find((x) => x.id === b.id)?.name, b.id);
    }
    const years = countBy(articles, (a) => yearOf(a.publishedAt));
    assert.equal(result.facets?.years.length, years.size);
    for (const y of result.facets?.years ?? []) assert.equal(y.count, years.get(y.value), String(y.value));
    // With text, each facet count is what that filter returns.
    const slavery = await searcher.search({ q: 'slavery' });
    for (const b of (slavery.facets?.bylines ?? []).slice(0, 3)) {
      const filtered = await searcher.search({ q: 'slavery', byline: b.id, size: 1 });
      assert.equal(filtered.total, b.count, b.id);
    }
  });

  test('pagination past page 20: no duplicates, no gaps, stable order', async () => {
    const { hits, pages, total } = await allPages({ q: 'congress', size: 5 });
    assert.ok(pages > 20, `${pages} pages`);
    const ids = hits.map((h) => h.id);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    assert.equal(ids.length, total, 'no gaps');
    assert.equal(total, mentions(/congress/i).length);
    for (let i = 1; i < hits.length; i++)
      assert.ok((hits[i - 1]?.score ?? 0) >= (hits[i]?.score ?? 0), `score order at ${i}`);

    const byDate = await allPages({ sort: 'date', size: 4 });
    assert.equal(byDate.hits.length, articles.length);
    assert.equal(new Set(byDate.hits.map((h) => h.id)).size, articles.length);
    for (let i = 1; i < byDate.hits.length; i++) {
      assert.ok(
        (byDate.hits[i - 1]?.publishedAt ?? '') >= (byDate.hits[i]?.publishedAt ?? ''),
        `date order at ${i}`,
      );
    }
  });

  test('pages stay consistent while the index changes underneath (point in time)', async () => {
    const first = await searcher.search({ q: 'congress', size: 10 });
    assert.ok(first.next);
    // Delete a document of a later page from the live index: the point in time still has it.
    const later = await searcher.search({ q: 'congress', size: 10, after: first.next });
    const victim = later.hits[0]!.id;
    const index = fixture.config.names.alias('articles');
    const saved = await fixture.es.get<ArticleDoc>({ index, id: victim });
    await fixture.es.delete({ index, id: victim, refresh: true });
    try {
      const again = await searcher.search({ q: 'congress', size: 10, after: first.next });
      assert.deepEqual(
        again.hits.map((h) => h.id),
        later.hits.map((h) => h.id),
      );
      const fresh = await searcher.search({ q: 'congress', size: 10 });
      assert.equal(fresh.total, first.total - 1);
    } finally {
      await fixture.es.index({ index, id: victim, document: saved._source, refresh: true });
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
    const photo = fixture.images.find((i) => i.id === 'img-acanthus-mollis');
    assert.ok(photo?.caption);
    assert.equal(mentions(/acanthus/i).length, 0, 'no speech says acanthus');
    const withPhoto = articles.filter((a) => a.images?.includes(photo.id));
    const result = await searcher.search({ q: 'acanthus' });
    assert.deepEqual(
      result.hits.map((h) => h.id),
      withPhoto.map((a) => a.id),
    );
    const hit = result.hits[0]!;
    assert.ok(hit.highlights.captions?.some((c) => c.includes('<mark>Acanthus</mark>')));
    const image = hit.images.find((i) => i.id === photo.id);
    assert.match(image?.thumbnail ?? '', /^\/renditions\/sha256:[0-9a-f]{64}$/);
    assert.match(image?.placeholder ?? '', /^data:image\//);
    // The photographer's name, in the captions only, works the same way.
    const photos = fixture.images.filter((i) => i.caption?.includes('Blossfeldt')).map((i) => i.id);
    assert.ok(photos.length > 0);
    assert.equal(mentions(/Blossfeldt/).length, 0);
    const blossfeldt = await searcher.search({ q: 'Blossfeldt' });
    assert.equal(
      blossfeldt.total,
      articles.filter((a) => a.images?.some((id) => photos.includes(id))).length,
    );
    // The captions say "Blossfeldt's": the possessive is found and marked, also in the images' own index.
    const images = await searcher.search({ kind: 'image', q: 'Blossfeldt' });
    assert.deepEqual(images.hits.map((h) => h.id).sort(), [...photos].sort());
    for (const hit of images.hits) {
      assert.ok(
        hit.highlights.captions?.some((c) => c.includes('<mark>Blossfeldt&#x27;s</mark>')),
        hit.id,
      );
    }
  });

  test("a word finds its possessive (Britain finds Britain's), also where it is the only form", async () => {
    const text = (a: ArticleRecord) => `${a.headline}\n${a.body}`;
    const possessiveOnly = mentions(/\bBritain['’]s\b/).filter((a) => !/\bBritain(?!['’]s)\b/.test(text(a)));
    assert.ok(possessiveOnly.length > 0, 'a speech of the sample says only "Britain\'s"');
    const all = await searcher.search({ q: 'Britain', size: 1 });
    assert.equal(all.total, mentions(/\bBritain\b/i).length);
    const speech = possessiveOnly[0]!;
    const year = speech.publishedAt.slice(0, 4);
    const found = await searcher.search({ q: 'Britain', from: year, to: year, size: 100 });
    const hit = found.hits.find((h) => h.id === speech.id);
    assert.ok(hit, `${speech.id} is found`);
    assert.ok(
      hit.highlights.body?.some((b) => /<mark>Britain(&#x27;|’)s<\/mark>/.test(b)),
      JSON.stringify(hit.highlights),
    );
    // A stop word is not given a possessive: "the Britain" asks for Britain alone.
    assert.equal((await searcher.search({ q: 'the Britain', size: 1 })).total, all.total);
    // A possessive typed finds the word too.
    assert.equal((await searcher.search({ q: 'Britain’s', size: 1 })).total, all.total);
  });

  test('a misspelled word still finds its document', async () => {
    const truman = article(1953, 'b-harry-s-truman');
    assert.match(truman.body, /Nagasaki/);
    const result = await searcher.search({ q: 'Nagasakki' });
    assert.ok(result.hits.some((h) => h.id === truman.id));
    const hit = result.hits.find((h) => h.id === truman.id);
    assert.match(
      hit?.highlights.body?.join(' ') ?? '',
      /<mark>Nagasaki<\/mark>/,
      'the corrected word is highlighted',
    );
    // A stop word next to the misspelling asks nothing of the corrected words.
    const withStopWord = await searcher.search({ q: 'the Nagasakki' });
    assert.ok(withStopWord.hits.some((h) => h.id === truman.id));
    const phrase = await searcher.search({ q: 'fiery triall' });
    assert.ok(phrase.hits.some((h) => h.id === article(1862, 'b-abraham-lincoln').id));
    // Exact spelling outranks the typo-tolerant match.
    const exact = await searcher.search({ q: 'nagasaki' });
    const exactScore = exact.hits.find((h) => h.id === truman.id)?.score ?? 0;
    assert.ok(exactScore > (hit?.score ?? 0));
  });

  test('document text comes back escaped in highlights', async () => {
    const index = fixture.config.names.alias('articles');
    const base = (await fixture.es.get<ArticleDoc>({ index, id: fixture.revisedId }))._source!;
    const evil: ArticleDoc = {
      ...base,
      id: 'evil',
      headline: '<img src=x onerror=alert(1)> quixotic',
      body: 'quixotic <script>alert("x")</script> & done',
    };
    await fixture.es.index({ index, id: 'evil', document: evil, refresh: true });
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
      await fixture.es.delete({ index, id: 'evil', refresh: true });
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
      '\u0000\u0001 railroad \uffff',
    ]) {
      try {
        const result = await searcher.search({ q });
        assert.ok(result.total < articles.length, `${q.slice(0, 40)} must not match everything`);
      } catch (err) {
        assert.ok(err instanceof InvalidQueryError && err.parameter === 'q', `${q.slice(0, 40)}: ${err}`);
      }
    }
    const all = await searcher.search({ q: '_all union' });
    assert.equal(all.total, 0, '_all is a word here, and no speech has it');
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

  test('cursors: a forged point in time is refused, a closed one has expired', async () => {
    const request = parseSearchParams({ q: 'union', size: 2 });
    const fingerprint = searchFingerprint(request);
    // A real point in time of another index, in a cursor the client signed itself: refused
    // before Elasticsearch sees it, so that index's total never comes back.
    const other = `${fixture.config.namespace}-forged`;
    await fixture.es.indices.create({ index: other, settings: { number_of_replicas: 0 } });
    try {
      const { id } = await fixture.es.openPointInTime({ index: other, keep_alive: '1m' });
      const forged = encodeCursor({ pit: id, after: [1, 2, 3], seen: 2, fingerprint }, randomBytes(32));
      await assert.rejects(
        searcher.search({ q: 'union', size: 2, after: forged }),
        (err) => err instanceof InvalidQueryError && err.parameter === 'after',
      );
      // Even signed with the deployment's key, another index's point in time is not served.
      const signed = encodeCursor({ pit: id, after: [1, 2, 3], seen: 2, fingerprint }, fixture.cursorKey);
      await assert.rejects(
        searcher.search({ q: 'union', size: 2, after: signed }),
        (err) => err instanceof InvalidQueryError || err instanceof CursorExpiredError,
      );
    } finally {
      await fixture.es.indices.delete({ index: other });
    }
    const first = await searcher.search({ q: 'union', size: 2 });
    assert.ok(first.next);
    const pit = JSON.parse(Buffer.from(first.next.split('.')[0] ?? '', 'base64url').toString()).p as string;
    await fixture.es.closePointInTime({ id: pit });
    await assert.rejects(searcher.search({ q: 'union', size: 2, after: first.next }), CursorExpiredError);
  });

  test('images: a search for the credit or the creator marks it', async () => {
    const credited = fixture.images.filter((i) => i.credit?.includes('Getty')).map((i) => i.id);
    assert.ok(credited.length > 0);
    const result = await searcher.search({ kind: 'image', q: 'Getty', size: 100 });
    for (const id of credited) {
      const hit = result.hits.find((h) => h.id === id);
      assert.ok(hit, id);
      assert.match(hit.highlights.credit?.[0] ?? '', /<mark>Getty<\/mark>/);
    }
    // The creator (from the file's metadata) is marked where it matched.
    const byCreator = result.hits.filter((h) => h.images[0]?.creator?.includes('Getty'));
    assert.ok(byCreator.length > 0);
    for (const hit of byCreator) assert.match(hit.highlights.creator?.[0] ?? '', /<mark>Getty<\/mark>/);
    // A field that did not match is not highlighted.
    const blossfeldt = await searcher.search({ kind: 'image', q: 'Blossfeldt' });
    assert.ok(blossfeldt.hits.length > 0);
    for (const hit of blossfeldt.hits) {
      assert.ok(!hit.images[0]?.creator?.includes('Blossfeldt'));
      assert.equal(hit.highlights.creator, undefined);
    }
  });

  test('images: search by caption, and documents by id', async () => {
    const cats = await searcher.search({ kind: 'image', q: 'cat' });
    assert.deepEqual(
      cats.hits.map((h) => h.id),
      ['img-locomotion-house-cat'],
    );
    assert.equal(cats.hits[0]?.kind, 'image');
    assert.match(cats.hits[0]?.images[0]?.thumbnail ?? '', /^\/renditions\//);
    const image = await searcher.getImage('img-locomotion-house-cat');
    assert.equal(image?.status, 'processed');
    const revised = await searcher.getArticle(fixture.revisedId);
    assert.equal(revised?.headline, fixture.revisedHeadlines.after);
    assert.equal(revised?.revisions, 2);
    assert.equal(await searcher.getArticle('no-such-article'), undefined);
    assert.equal(await searcher.getImage('no-such-image'), undefined);
    assert.deepEqual(await searcher.health(), { ok: true, status: 'green' });
    const elsewhere = createSearcher({
      es: fixture.es,
      names: createNames(`${fixture.config.namespace}-none`),
    });
    await assert.rejects(elsewhere.search({ q: 'union' }), IndexMissingError);
    await elsewhere.close();
  });

  test('close is idempotent', async () => {
    const s = createSearcher({ es: fixture.es, names: fixture.config.names });
    await s.search({ q: 'union' });
    await Promise.all([s.close(), s.close()]);
    await s.close();
    await assert.rejects(s.search({ q: 'union' }), /closed/);
  });
});
