import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { normalizeDate } from '../../ingest/records.ts';
import { cursorOffset, decodeCursor, encodeCursor } from '../../search/cursor.ts';
import { parseDateBound } from '../../search/dates.ts';
import { InvalidQueryError } from '../../search/errors.ts';
import { decodeEntities, highlightSegments } from '../../search/highlight.ts';
import { sniffMediaType } from '../../search/mediaType.ts';
import { parseSearchParams, SEARCH_LIMITS, searchFingerprint } from '../../search/params.ts';
import {
  buildFirstPageSearches,
  buildQuery,
  buildSearchBody,
  buildSuggestBody,
  correctionsOf,
  SEARCH_FIELDS,
  sortValueCount,
  usesQuerySyntax,
  withPossessives,
} from '../../search/query.ts';
import { nameBylines, pickThumbnail, toFacets, toHit } from '../../search/results.ts';

function invalid(parameter: string) {
  return (err: unknown) => err instanceof InvalidQueryError && err.parameter === parameter;
}

describe('parseSearchParams', () => {
  test('defaults: articles, 10 per page, relevance for text and date for an empty query', () => {
    assert.deepEqual(parseSearchParams({ q: '  union  ' }), {
      q: 'union',
      byline: undefined,
      section: undefined,
      tag: undefined,
      from: undefined,
      to: undefined,
      kind: 'article',
      sort: 'relevance',
      size: 10,
      after: undefined,
      asOf: undefined,
    });
    assert.equal(parseSearchParams({}).sort, 'date');
    assert.equal(parseSearchParams({ q: '', sort: 'relevance' }).sort, 'relevance');
  });

  test('sizes: 1..100, whole numbers only', () => {
    assert.equal(parseSearchParams({ size: '100' }).size, 100);
    assert.equal(parseSearchParams({ size: 1 }).size, 1);
    for (const size of ['0', '-1', '101', '1e3', '2.5', 'ten', '99999999999', 0, -5, 1.5]) {
      assert.throws(() => parseSearchParams({ size }), invalid('size'), String(size));
    }
  });

  test('the query length is capped', () => {
    assert.equal(parseSearchParams({ q: 'a'.repeat(SEARCH_LIMITS.maxQueryChars) }).q.length, 1000);
    assert.throws(() => parseSearchParams({ q: 'a'.repeat(100 * 1024) }), invalid('q'));
  });

  test('kind and sort are closed lists; repeated parameters are refused', () => {
    assert.throws(() => parseSearchParams({ kind: 'video' }), invalid('kind'));
    assert.throws(() => parseSearchParams({ sort: '_score' }), invalid('sort'));
    assert.throws(() => parseSearchParams({ q: ['a', 'b'] }), invalid('q'));
    assert.throws(() => parseSearchParams({ q: { script: 'x' } }), invalid('q'));
  });

  test('byline ids must be ids', () => {
    assert.equal(parseSearchParams({ byline: 'b-lincoln' }).byline, 'b-lincoln');
    assert.throws(() => parseSearchParams({ byline: 'b lincoln' }), invalid('byline'));
    assert.throws(() => parseSearchParams({ byline: '*' }), invalid('byline'));
  });

  test('dates: bounds of the named period, inclusive; impossible dates refused', () => {
    const r = parseSearchParams({ from: '1861', to: '1865' });
    assert.equal(r.from, '1861-01-01T00:00:00.000Z');
    assert.equal(r.to, '1865-12-31T23:59:59.999Z');
    assert.equal(parseSearchParams({ to: '1864-02' }).to, '1864-02-29T23:59:59.999Z');
    assert.equal(parseSearchParams({ to: '1900-02' }).to, '1900-02-28T23:59:59.999Z');
    assert.equal(parseSearchParams({ from: '1861-03-04' }).from, '1861-03-04T00:00:00.000Z');
    assert.equal(parseSearchParams({ from: '1861-03-04T12:30:00+02:00' }).from, '1861-03-04T10:30:00.000Z');
    assert.equal(parseSearchParams({ to: '1861-03-04T12:30Z' }).to, '1861-03-04T12:30:59.999Z');
    assert.equal(parseDateBound('0050', 'start'), '0050-01-01T00:00:00.000Z');
    for (const bad of [
      'yesterday',
      '1861-13',
      '2021-02-29',
      '1861-04-31',
      '1861-03-04T25:00Z',
      '12345',
      // A time without a zone: refused, as ingest refuses it (ingest/records.ts normalizeDate).
      '1861-03-04T00:00:00',
      '1861-03-04T12:30',
      '1861/03/04',
      'now-1d',
    ]) {
      assert.throws(() => parseSearchParams({ from: bad }), invalid('from'), bad);
    }
    assert.throws(() => parseSearchParams({ from: '1900', to: '1800' }), invalid('from'));
  });

  test('a time without a zone is refused by search exactly when ingest refuses it', () => {
    for (const value of [
      '1861-03-04',
      '1861-03-04T12:30:00Z',
      '1861-03-04T12:30+02:00',
      '1861-03-04T12:30:00',
    ]) {
      const ingestTakes = normalizeDate(value) !== undefined;
      const searchTakes = (() => {
        try {
          parseDateBound(value, 'start');
          return true;
        } catch {
          return false;
        }
      })();
      assert.equal(searchTakes, ingestTakes, value);
    }
  });

  test('costly text is refused: too many words, too many fuzzy or prefix terms', () => {
    const fuzzy = Array.from({ length: 70 }, (_, i) => `word${i}~2`).join(' | ');
    assert.throws(() => parseSearchParams({ q: fuzzy }), invalid('q'));
    assert.throws(() => parseSearchParams({ q: 'a* b* c* d* e*' }), invalid('q'));
    assert.throws(
      () => parseSearchParams({ q: Array.from({ length: 40 }, () => 'union').join(' ') }),
      invalid('q'),
    );
    // What people type still passes: a few fuzzy words, phrases with slop, a prefix.
    for (const q of ['lincoln~1 emancipation~', '"house divided"~3', 'railro* union', 'a b c d e f g h']) {
      assert.equal(parseSearchParams({ q }).q, q);
    }
  });

  test('article-only filters are refused with kind=image', () => {
    assert.throws(() => parseSearchParams({ kind: 'image', section: 'x' }), invalid('section'));
    assert.equal(parseSearchParams({ kind: 'image', q: 'boats' }).kind, 'image');
  });
});

describe('the query', () => {
  test('user text only ever appears as the text of simple_query_string and multi_match', () => {
    for (const q of ['{"script":{"source":"x"}}', '*:*', '_all', 'headline:foo', '"a" OR b', 'x\u0000y']) {
      const query = buildQuery(parseSearchParams({ q }));
      const json = JSON.stringify(query);
      // The text is a JSON string value: it cannot add keys to the DSL.
      const occurrences = [...walk(query)].filter(([, value]) => value === q.trim());
      assert.ok(occurrences.length >= 1, json);
      for (const [key] of occurrences) assert.equal(key, 'query', json);
    }
  });

  test('plain words also match their possessive, a possessive its word; stop words, numbers and operators as typed', () => {
    assert.equal(withPossessives('Obama said'), "(Obama | Obama's | Obama’s) (said | said's | said’s)");
    assert.equal(withPossessives('  the nation '), "the (nation | nation's | nation’s)");
    // A possessive typed asks for the word too; a stop word's contraction stays as typed.
    assert.equal(
      withPossessives('Britain’s navy'),
      "(Britain | Britain's | Britain’s) (navy | navy's | navy’s)",
    );
    for (const q of [
      'the',
      "it's",
      'in 1861',
      "o'clock",
      'self-government',
      '"house divided"',
      'war -peace',
      'rail*',
    ]) {
      assert.equal(withPossessives(q), q, q);
    }
    const query = JSON.stringify(buildQuery(parseSearchParams({ q: 'Blossfeldt' })));
    assert.ok(query.includes("Blossfeldt's"), query);
  });

  test('plain words get the typo-tolerant clause; operators switch it off', () => {
    const plain = buildQuery(parseSearchParams({ q: 'constitutoin' })) as { bool: { should: object[] } };
    assert.equal(plain.bool.should.length, 2);
    assert.ok('multi_match' in (plain.bool.should[1] as object));
    for (const q of ['"house divided"', '-war', 'war | peace', 'rail*', 'union~1', '(a b)']) {
      assert.ok(usesQuerySyntax(q), q);
      const query = buildQuery(parseSearchParams({ q })) as { bool: { should: object[] } };
      assert.equal(query.bool.should.length, 1, q);
    }
    assert.ok(!usesQuerySyntax('self-government'));
  });

  test("the searcher's typo clause: each word or its corrections, below the exact clause; none without corrections", () => {
    const request = parseSearchParams({ q: 'fiery triall' });
    assert.deepEqual(buildQuery(request, { typo: [[], []] }), buildQuery(request, { typo: false }));
    const query = buildQuery(request, { typo: [[], ['trial']] }) as { bool: { should: object[] } };
    assert.equal(query.bool.should.length, 2);
    assert.deepEqual(query.bool.should[1], {
      bool: {
        must: [
          {
            multi_match: {
              query: 'fiery',
              fields: [...SEARCH_FIELDS.article],
              operator: 'or',
              lenient: true,
              zero_terms_query: 'all',
            },
          },
          {
            multi_match: {
              query: 'triall trial',
              fields: [...SEARCH_FIELDS.article],
              operator: 'or',
              lenient: true,
              zero_terms_query: 'all',
            },
          },
        ],
        boost: 0.2,
      },
    });
    // The page bodies carry the corrections in query and facets alike, and highlight them.
    const [, hits, , facets] = buildFirstPageSearches(request, {
      pitId: 'P',
      keepAlive: '1m',
      typo: [[], ['trial']],
    });
    assert.deepEqual(hits!.query, facets!.query);
    assert.equal((hits!.highlight as { highlight_query?: unknown }).highlight_query, undefined);
    // Never the fuzzy clause in a page body, with or without corrections.
    for (const typo of [undefined, false as const, [['x']]]) {
      const body = buildSearchBody(request, { pitId: 'P', keepAlive: '1m', typo });
      assert.ok(![...walk(body)].some(([key]) => key === 'fuzziness'), JSON.stringify(body));
    }
  });

  test('corrections: the suggester asked per word with the edit distance of its length; answers merged best first', () => {
    const request = parseSearchParams({ q: 'to Nagasakki tarif' });
    const body = buildSuggestBody(request, { pitId: 'P', keepAlive: '1m' }) as {
      suggest: Record<string, { text: string; term: { max_edits: number; field: string } }>;
    };
    const names = Object.keys(body.suggest);
    assert.ok(!names.some((n) => n.startsWith('w0')), 'a two-letter word is not corrected');
    assert.ok(names.every((n) => /^w[12]f\d$/.test(n)));
    assert.equal(body.suggest.w1f0?.term.max_edits, 2);
    assert.equal(body.suggest.w2f0?.term.max_edits, 1);
    assert.ok(names.some((n) => body.suggest[n]?.term.field === 'body.exact'));
    // A word counts as present when a document has it or its possessive.
    assert.match(JSON.stringify(body), /"query":"\(tarif \| tarif's \| tarif’s\)"/);
    assert.equal(
      buildSuggestBody(parseSearchParams({ q: '"nagasakki"' }), { pitId: 'P', keepAlive: '1m' }),
      undefined,
    );
    const corrections = correctionsOf(request, {
      suggest: {
        w1f0: [{ options: [{ text: 'nagasaki', score: 0.8, freq: 3 }] }],
        w1f4: [{ options: [{ text: 'nagasakis', score: 0.7, freq: 9 }] }],
        w2f3: [{ options: [{ text: 'tarin', score: 0.75, freq: 1 }] }],
        w2f4: [
          {
            options: [
              { text: 'terrify', score: 0.75, freq: 2 },
              { text: 'tariff', score: 0.75, freq: 40 },
            ],
          },
        ],
      },
      aggregations: { w1: { doc_count: 0 }, w2: { doc_count: 0 } },
    });
    assert.deepEqual(corrections, [[], ['nagasaki'], ['tariff']]);
    // A word some searched field has is left as it is.
    const known = correctionsOf(request, {
      suggest: { w1f0: [{ options: [{ text: 'nagasaki', score: 0.8, freq: 3 }] }] },
      aggregations: { w1: { doc_count: 2 } },
    });
    assert.deepEqual(known, [[], [], []]);
  });

  test('empty text browses: match_all, or the filters alone', () => {
    assert.deepEqual(buildQuery(parseSearchParams({})), { match_all: {} });
    const filtered = buildQuery(
      parseSearchParams({ section: 'speeches', byline: 'b-1', tag: 'war', from: '1861' }),
    );
    assert.deepEqual(filtered, {
      bool: {
        filter: [
          { term: { 'bylines.id': 'b-1' } },
          { term: { section: 'speeches' } },
          { term: { tags: 'war' } },
          {
            range: { publishedAt: { format: 'strict_date_optional_time', gte: '1861-01-01T00:00:00.000Z' } },
          },
        ],
      },
    });
  });

  test('page bodies: point in time, search_after; the first page counts and facets in a second, cacheable search', () => {
    const request = parseSearchParams({ q: 'union', size: '5' });
    const [hitsHeader, first, facetsHeader, facets] = buildFirstPageSearches(request, {
      pitId: 'P',
      keepAlive: '1m',
    }) as Record<string, unknown>[];
    assert.deepEqual(hitsHeader, {});
    assert.deepEqual(facetsHeader, { request_cache: true });
    assert.deepEqual(first!.pit, { id: 'P', keep_alive: '1m' });
    assert.equal(first!.size, 5);
    assert.equal(first!.aggs, undefined);
    assert.equal(first!.track_total_hits, false);
    assert.equal(first!.search_after, undefined);
    assert.ok(!('index' in first!));
    assert.equal(facets!.size, 0);
    assert.equal(facets!.track_total_hits, true);
    assert.deepEqual(facets!.query, first!.query);
    assert.deepEqual(facets!.pit, first!.pit);
    assert.ok(facets!.aggs);
    const second = buildSearchBody(request, {
      pitId: 'P',
      keepAlive: '1m',
      searchAfter: [1.5, 10, 3],
    });
    assert.deepEqual(second.search_after, [1.5, 10, 3]);
    assert.equal(second.aggs, undefined);
    assert.equal(second.track_total_hits, false);
    assert.equal(
      buildSearchBody(request, { pitId: 'P', keepAlive: '1m', countTotal: true }).track_total_hits,
      true,
    );
    assert.deepEqual((first!._source as { includes: string[] }).includes.includes('body'), false);
    assert.equal((first!.highlight as { encoder: string }).encoder, 'html');
    // The unstemmed sub-fields' offsets are read for quoted phrases only (they match nothing else).
    const matched = (q: string) =>
      JSON.stringify(buildSearchBody(parseSearchParams({ q }), { pitId: 'P', keepAlive: '1m' }).highlight);
    assert.ok(!matched('union').includes('matched_fields'));
    assert.ok(matched('"fiery trial"').includes('"matched_fields":["body.exact"]'));
  });
});

/** A token with any payload, signed as the API would sign it. */
function encodeRaw(value: unknown, key: Uint8Array): string {
  const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${payload}.${createHmac('sha256', key).update(payload).digest().subarray(0, 16).toString('base64url')}`;
}

describe('cursors', () => {
  const key = randomBytes(32);
  const request = parseSearchParams({ q: 'union' });
  const expect = { fingerprint: searchFingerprint(request), sortValues: sortValueCount(request) };

  test('round trip', () => {
    const token = encodeCursor(
      {
        pit: 'pit-id',
        after: [1.25, 1700000000000, 7],
        seen: 20,
        fingerprint: expect.fingerprint,
      },
      key,
    );
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeCursor(token, expect, key), {
      pit: 'pit-id',
      after: [1.25, 1700000000000, 7],
      seen: 20,
      fingerprint: expect.fingerprint,
    });
    assert.equal(cursorOffset(token), 20);
    assert.equal(cursorOffset('garbage!'), 0);
  });

  test('a cursor of another search is refused', () => {
    const other = searchFingerprint(parseSearchParams({ q: 'war' }));
    assert.notEqual(other, expect.fingerprint);
    const token = encodeCursor({ pit: 'p', after: [1, 2, 3], seen: 1, fingerprint: other }, key);
    assert.throws(() => decodeCursor(token, expect, key), invalid('after'));
    // Page size is not part of the search: it may change between pages.
    assert.equal(searchFingerprint(parseSearchParams({ q: 'union', size: 50 })), expect.fingerprint);
  });

  test('a cursor signed with another key, or re-signed after a change, is refused', () => {
    const cursor = {
      pit: 'pit-of-another-index',
      after: [1, 2, 3],
      seen: 1,
      fingerprint: expect.fingerprint,
    };
    const foreign = encodeCursor(cursor, randomBytes(32));
    assert.throws(() => decodeCursor(foreign, expect, key), invalid('after'));
    const genuine = encodeCursor(cursor, key);
    const [payload, mac] = genuine.split('.') as [string, string];
    const changed = Buffer.from(
      JSON.stringify({ v: 1, p: 'other-pit', a: [1, 2, 3], n: 1, f: expect.fingerprint }),
    );
    assert.throws(
      () => decodeCursor(`${changed.toString('base64url')}.${mac}`, expect, key),
      invalid('after'),
    );
    assert.throws(() => decodeCursor(payload, expect, key), invalid('after'));
    assert.equal(decodeCursor(genuine, expect, key).pit, 'pit-of-another-index');
  });

  test('the corrections a result list was searched with travel in its cursor', () => {
    const cursor = { pit: 'p', after: [1, 2, 3], seen: 10, fingerprint: expect.fingerprint, total: 12 };
    const typo = [[], ['nagasaki']];
    assert.deepEqual(decodeCursor(encodeCursor({ ...cursor, typo }, key), expect, key).typo, typo);
    assert.equal(decodeCursor(encodeCursor(cursor, key), expect, key).typo, undefined);
    // A cursor written before corrections were carried (t: 0, the words alone) still reads.
    const old = encodeRaw({ v: 1, p: 'p', a: [1, 2, 3], n: 10, f: expect.fingerprint, t: 0 }, key);
    assert.equal(decodeCursor(old, expect, key).typo, undefined);
  });

  test('tampered or foreign tokens are refused, never passed on', () => {
    // Correctly signed, so what is checked is the shape inside.
    const enc = (v: unknown) => encodeRaw(v, key);
    const f = expect.fingerprint;
    for (const token of [
      'not base64 !',
      enc('string'),
      enc([1, 2]),
      enc({ v: 2, p: 'p', a: [1, 2, 3], n: 0, f }),
      enc({ v: 1, p: '', a: [1, 2, 3], n: 0, f }),
      enc({ v: 1, p: 'p', a: [1, 2], n: 0, f }),
      enc({ v: 1, p: 'p', a: [{ script: 1 }, 2, 3], n: 0, f }),
      enc({ v: 1, p: 'p', a: [1, 2, 3], n: -1, f }),
      enc({ v: 1, p: 'p', a: [1, 2, 3], n: 0, f, t: 1 }),
      enc({ v: 1, p: 'p', a: [1, 2, 3], n: 0, f, t: [[{ script: 1 }]] }),
      enc({ v: 1, p: 'p', a: [1, 2, 3], n: 0, f, t: [['a'.repeat(100)]] }),
      enc({ v: 1, p: 'p', a: [1, 2, 3], n: 0, f, t: Array.from({ length: 50 }, () => ['x']) }),
      'A'.repeat(5000),
    ]) {
      assert.throws(() => decodeCursor(token, expect, key), invalid('after'), token.slice(0, 60));
    }
  });
});

describe('results', () => {
  test('article hits carry the API shape, with nulls for absent values', () => {
    const hit = toHit('article', {
      _id: 'a-1',
      _score: 2.5,
      _source: {
        id: 'a-1',
        headline: 'H',
        publishedAt: '1861-12-03T00:00:00Z',
        tags: [],
        bylines: [{ id: 'b-1', name: 'Abraham Lincoln' }, { id: 'b-2' }],
        images: [
          {
            id: 'i-1',
            caption: 'Boats',
            placeholder: 'data:image/png;base64,AA',
            renditions: [
              {
                name: 'medium',
                digest: 'sha256:m',
                mediaType: 'image/webp',
                width: 800,
                height: 600,
                bytes: 1,
              },
              {
                name: 'thumb',
                digest: 'sha256:t',
                mediaType: 'image/webp',
                width: 160,
                height: 120,
                bytes: 1,
              },
            ],
          },
          { id: 'i-2', renditions: [] },
        ],
      },
      highlight: { body: ['a <mark>b</mark>'], 'images.caption': ['<mark>Boats</mark>'] },
    });
    assert.deepEqual(hit, {
      id: 'a-1',
      kind: 'article',
      headline: 'H',
      publishedAt: '1861-12-03T00:00:00Z',
      bylines: [
        { id: 'b-1', name: 'Abraham Lincoln' },
        { id: 'b-2', name: null },
      ],
      score: 2.5,
      highlights: { body: ['a <mark>b</mark>'], captions: ['<mark>Boats</mark>'] },
      section: null,
      tags: [],
      images: [
        {
          id: 'i-1',
          caption: 'Boats',
          thumbnail: '/renditions/sha256:t',
          placeholder: 'data:image/png;base64,AA',
        },
        { id: 'i-2', caption: null, thumbnail: null, placeholder: null },
      ],
    });
  });

  test('the thumbnail is the rendition named thumb, else the smallest', () => {
    const r = (name: string, width: number) => ({
      name,
      digest: `sha256:${name}`,
      mediaType: 'image/webp',
      width,
      height: width,
      bytes: 1,
    });
    assert.equal(pickThumbnail([r('large', 1600), r('small', 320), r('medium', 800)])?.name, 'small');
    assert.equal(pickThumbnail([r('large', 1600), r('thumb', 400), r('small', 100)])?.name, 'thumb');
    assert.equal(pickThumbnail([]), undefined);
  });

  test('facets: counts from the aggregations, byline names from hits first, then the lookup', async () => {
    const facets = toFacets({
      sections: { buckets: [{ key: 'speeches', doc_count: 3 }] },
      bylines: {
        buckets: [
          { key: 'b-1', doc_count: 2 },
          { key: 'b-2', doc_count: 1 },
          { key: 'b-3', doc_count: 1 },
        ],
      },
      timeline: {
        buckets: [
          { key: Date.UTC(1861, 0, 1), key_as_string: '1861', doc_count: 1 },
          { key: Date.UTC(1862, 0, 1), key_as_string: '1862', doc_count: 0 },
          { key: Date.UTC(1863, 0, 1), key_as_string: '1863', doc_count: 4 },
        ],
      },
    });
    assert.deepEqual(facets.sections, [{ value: 'speeches', count: 3 }]);
    // The years facet: the timeline's years with hits, newest first.
    assert.deepEqual(facets.years, [
      { value: 1863, count: 4 },
      { value: 1861, count: 1 },
    ]);
    const hit = toHit('article', {
      _source: { id: 'a', headline: 'h', bylines: [{ id: 'b-1', name: 'From hit' }] },
    });
    const asked: string[][] = [];
    const named = await nameBylines(facets, [hit], async (ids) => {
      asked.push(ids);
      return new Map([['b-2', 'From index']]);
    });
    assert.deepEqual(asked, [['b-2', 'b-3']]);
    assert.deepEqual(named.bylines, [
      { id: 'b-1', name: 'From hit', count: 2 },
      { id: 'b-2', name: 'From index', count: 1 },
      { id: 'b-3', name: null, count: 1 },
    ]);
  });
});

describe('highlights and media types', () => {
  test('segments decode what Elasticsearch escaped and keep the marks', () => {
    assert.deepEqual(highlightSegments('&lt;script&gt; <mark>war</mark> &amp; peace&#x2F;&#39;'), [
      { text: '<script> ', match: false },
      { text: 'war', match: true },
      { text: " & peace/'", match: false },
    ]);
    assert.equal(decodeEntities('&bogus; &#0; &#x110000;'), '&bogus; &#0; &#x110000;');
  });

  test('magic bytes', () => {
    assert.equal(sniffMediaType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
    assert.equal(sniffMediaType(Buffer.from('89504e470d0a1a0a0000', 'hex')), 'image/png');
    assert.equal(sniffMediaType(Buffer.from('RIFF\u0000\u0000\u0000\u0000WEBPVP8 ', 'latin1')), 'image/webp');
    assert.equal(sniffMediaType(Buffer.from('\u0000\u0000\u0000\u001cftypavif', 'latin1')), 'image/avif');
    assert.equal(sniffMediaType(Buffer.from('<svg')), undefined);
  });
});

function* walk(value: unknown, key = ''): Generator<[string, unknown]> {
  yield [key, value];
  if (Array.isArray(value)) for (const v of value) yield* walk(v, key);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* walk(v, k);
}
