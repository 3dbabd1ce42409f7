import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ArticleRecord } from '../../ingest/records.ts';
import { sampleEvent } from '../../log/sampleEvents.ts';
import type { ArticleFields } from '../../schemas/articleEvents.ts';
import type { ArticleDoc, ImageDoc } from '../../schemas/documents.ts';
import { createEsClient } from '../../scripts/runtime.ts';
import type { SearchResult } from '../../search/results.ts';
import { createSearcher, type Searcher } from '../../search/searcher.ts';
import { buildServer } from '../../search/server.ts';
import { runCli } from '../support/cli.ts';
import { eventually } from '../support/env.ts';
import { type SearchFixture, setUpSearchFixture } from '../support/search.ts';

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/**
 * The HTTP API over real Elasticsearch (the SOTU speeches), real NATS (the content log,
 * the checkpoints) and a real blob store, listening on a real socket.
 */
describe('search HTTP API (real Elasticsearch and NATS)', () => {
  let fixture: SearchFixture;
  let base: string;
  let articles: ArticleRecord[];
  let revisedId: string;
  let searcher: Searcher;

  before(async () => {
    // Long enough for a live projector that starts with the test to catch up on a busy machine.
    // 8 s: on a loaded machine one live apply (bulk write + refresh) took over 3 s; the
    // bound is what a reader waits at most, not how fast the projector is. Below the
    // request deadline (10 s), which would otherwise answer first (504).
    fixture = await setUpSearchFixture({ readYourWritesTimeoutMs: 8_000 });
    ({ base, articles, revisedId, searcher } = fixture);
  });

  after(async () => {
    await fixture?.close();
  });

  async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`${base}${path}`, { headers });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, body, text };
  }

  const search = (params: Record<string, string>) => get(`/api/search?${new URLSearchParams(params)}`);

  function assertJsonError(answer: Answer, status: number, code?: string) {
    assert.equal(answer.status, status, answer.text.slice(0, 300));
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
    const error = (answer.body as { error?: { code?: unknown; message?: unknown } }).error;
    assert.equal(typeof error?.code, 'string', answer.text);
    assert.equal(typeof error?.message, 'string', answer.text);
    if (code) assert.equal(error?.code, code, answer.text);
    assert.doesNotMatch(answer.text, /\bat .*\.(ts|js):\d+|"stack"/, 'no stack trace');
  }

  test('search answers the documented shape, identical to the query layer (and so to the CLI --json)', async () => {
    const answer = await search({ q: '"fiery trial through which we pass"' });
    assert.equal(answer.status, 200);
    const result = answer.body as SearchResult;
    assert.deepEqual(Object.keys(result).sort(), ['facets', 'hits', 'next', 'timeline', 'total']);
    assert.equal(result.total, 1);
    const hit = result.hits[0]!;
    assert.deepEqual(Object.keys(hit).sort(), [
      'bylines',
      'headline',
      'highlights',
      'id',
      'images',
      'kind',
      'publishedAt',
      'score',
      'section',
      'tags',
    ]);
    assert.equal(hit.id, revisedId);
    assert.deepEqual(hit.bylines, [{ id: 'b-abraham-lincoln', name: 'Abraham Lincoln' }]);
    const direct = await searcher.search({ q: '"fiery trial through which we pass"' });
    assert.deepEqual({ ...result, next: null }, { ...direct, next: null });
    const pictured = ((await search({ q: 'acanthus' })).body as SearchResult).hits[0]!;
    assert.deepEqual(Object.keys(pictured.images[0]!).sort(), ['caption', 'id', 'placeholder', 'thumbnail']);
  });

  test('filters and facets through the API', async () => {
    const all = (await search({ q: 'constitution' })).body as SearchResult;
    const lincoln = (await search({ q: 'constitution', byline: 'b-abraham-lincoln' })).body as SearchResult;
    assert.ok(lincoln.total < all.total);
    const facet = all.facets?.bylines.find((b) => b.id === 'b-abraham-lincoln');
    assert.equal(facet?.count, lincoln.total);
    assert.equal(facet?.name, 'Abraham Lincoln');
    const ranged = (await search({ q: 'constitution', from: '1861', to: '1865' })).body as SearchResult;
    assert.ok(ranged.total > 0 && ranged.total < all.total);
    const section = all.facets?.sections[0];
    assert.ok(section);
    const bySection = (await search({ q: 'constitution', section: section.value, size: '1' }))
      .body as SearchResult;
    assert.equal(bySection.total, section.count);
  });

  test('pagination past page 20 through the API: no duplicates, no gaps', async () => {
    const ids: string[] = [];
    let next: string | null = null;
    let pages = 0;
    let total = 0;
    do {
      const params: Record<string, string> = { q: 'congress', size: '5', ...(next ? { after: next } : {}) };
      const page = (await search(params)).body as SearchResult;
      if (pages === 0) total = page.total;
      ids.push(...page.hits.map((h) => h.id));
      next = page.next;
      pages++;
    } while (next && pages < 500);
    assert.ok(pages > 20, `${pages} pages`);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(ids.length, total);
  });

  test('an empty query browses everything, newest first', async () => {
    const answer = await search({ q: '' });
    assert.equal(answer.status, 200);
    const result = answer.body as SearchResult;
    assert.equal(result.total, articles.length);
    assert.equal(
      result.hits[0]?.publishedAt,
      [...articles].sort((a, b) => b.publishedAt.localeCompare(a.publishedAt))[0]?.publishedAt,
    );
    const filtered = (await search({ tag: 'whig' })).body as SearchResult;
    assert.equal(filtered.total, articles.filter((a) => a.tags?.includes('whig')).length);
    assert.ok(filtered.total > 0);
  });

  test('kind=image searches the images index', async () => {
    const result = (await search({ q: 'cat', kind: 'image' })).body as SearchResult;
    assert.equal(result.total, 1);
    assert.equal(result.hits[0]?.kind, 'image');
    assert.equal(result.hits[0]?.id, 'img-locomotion-house-cat');
    assert.match(result.hits[0]?.highlights.captions?.[0] ?? '', /house <mark>cat<\/mark>/);
    assert.deepEqual(
      result.hits[0]?.articleIds,
      articles.filter((a) => a.images?.includes('img-locomotion-house-cat')).map((a) => a.id),
    );
  });

  test('DSL-looking text is only text', async () => {
    for (const q of [
      '{"script":{"source":"1"}}',
      '*:*',
      '_all',
      '{"query":{"match_all":{}}}',
      'headline:*',
    ]) {
      const answer = await search({ q });
      assert.ok(answer.status === 200 || answer.status === 400, `${q}: ${answer.status}`);
      if (answer.status === 200)
        assert.ok((answer.body as SearchResult).total < articles.length, `${q} must not match everything`);
      else assertJsonError(answer, 400);
    }
  });

  test('bad input: 4xx with a clear JSON error, never a 500, never a stack trace', async () => {
    const cases: [string, number, string?][] = [
      [`/api/search?q=${'x'.repeat(100 * 1024)}`, 400, 'invalid_parameter'],
      [`/api/search?q=${'x'.repeat(1001)}`, 400, 'invalid_parameter'],
      ['/api/search?q=a&size=-1', 400, 'invalid_parameter'],
      ['/api/search?q=a&size=0', 400, 'invalid_parameter'],
      ['/api/search?q=a&size=101', 400, 'invalid_parameter'],
      ['/api/search?q=a&size=99999999999999999999', 400, 'invalid_parameter'],
      ['/api/search?q=a&size=ten', 400, 'invalid_parameter'],
      ['/api/search?q=a&from=2021-02-30', 400, 'invalid_parameter'],
      ['/api/search?q=a&from=yesterday', 400, 'invalid_parameter'],
      ['/api/search?q=a&to=1865-13', 400, 'invalid_parameter'],
      ['/api/search?q=a&from=1900&to=1800', 400, 'invalid_parameter'],
      ['/api/search?q=a&kind=video', 400, 'invalid_parameter'],
      ['/api/search?q=a&sort=_score', 400, 'invalid_parameter'],
      ['/api/search?q=a&after=not-a-cursor', 400, 'invalid_parameter'],
      ['/api/search?q=a&q=b', 400, 'invalid_parameter'],
      ['/api/search?q=a&bogus=1', 400, 'invalid_parameter'],
      ['/api/search?kind=image&section=x', 400, 'invalid_parameter'],
      ['/api/search?byline=*', 400, 'invalid_parameter'],
      ['/api/search?afterSeq=-4', 400, 'invalid_parameter'],
      ['/api/articles/no-such-article', 404, 'not_found'],
      ['/api/articles/no%20such', 400, 'invalid_parameter'],
      [`/api/articles/${'a'.repeat(150)}`, 400, 'invalid_parameter'],
      ['/api/articles/no-such-article/history', 404, 'not_found'],
      ['/api/images/no-such-image', 404, 'not_found'],
      [`/renditions/sha256:${'0'.repeat(64)}`, 404, 'not_found'],
      ['/renditions/md5:abc', 400, 'invalid_parameter'],
      ['/renditions/..%2F..%2Fetc%2Fpasswd', 400, 'invalid_parameter'],
      ['/api/articles/%E0%A4%A', 400],
      ['/nothing-here', 404, 'not_found'],
    ];
    for (const [path, status, code] of cases) {
      const answer = await get(path);
      assertJsonError(answer, status, code);
    }
    // Odd but harmless input is answered normally.
    for (const path of ['/api/search?q=%E0%A4%A', '/api/search?q=%00', '/api/search?q=', '/api/search']) {
      const answer = await get(path);
      assert.ok(answer.status === 200 || answer.status === 400, `${path}: ${answer.status}`);
      if (answer.status !== 200) assertJsonError(answer, 400);
    }
  });

  test('a request line beyond the header limit gets a JSON 431, not a dropped connection', async () => {
    const answer = await rawGet(base, `/api/search?q=${'x'.repeat(1024 * 1024)}`);
    assert.equal(answer.status, 431);
    assert.equal(JSON.parse(answer.body).error.code, 'request_too_large');
  });

  test('an article from the index, its history from the log', async () => {
    const article = await get(`/api/articles/${revisedId}`);
    assert.equal(article.status, 200);
    assert.equal((article.body as ArticleDoc).id, revisedId);
    assert.ok((article.body as ArticleDoc).body.length > 10_000);

    const history = await get(`/api/articles/${revisedId}/history`);
    assert.equal(history.status, 200);
    const events = (
      history.body as {
        events: { type: string; seq: number; changed: string[]; payload: Record<string, unknown> }[];
      }
    ).events;
    assert.deepEqual(
      events.slice(0, 2).map((e) => e.type),
      ['ArticlePublished', 'ArticleRevised'],
    );
    assert.ok(events[0]!.seq < events[1]!.seq);
    assert.deepEqual(events[1]?.changed, ['headline']);
    assert.equal(events[0]?.payload.body, undefined, 'bodies are left out by default');
    assert.equal(typeof events[0]?.payload.bodyChars, 'number');
    const full = await get(`/api/articles/${revisedId}/history?full=true`);
    const fullEvents = (full.body as { events: { payload: { body?: string } }[] }).events;
    assert.ok((fullEvents[0]?.payload.body?.length ?? 0) > 10_000);

    const image = await get('/api/images/img-acanthus-mollis');
    assert.equal(image.status, 200);
    assert.deepEqual(
      (image.body as { articleIds: string[] }).articleIds,
      articles.filter((a) => a.images?.includes('img-acanthus-mollis')).map((a) => a.id),
    );
  });

  test('renditions: bytes by digest, media type from the bytes, cached forever', async () => {
    const image = (await get('/api/images/img-nagasaki-boats')).body as ImageDoc;
    assert.ok(image.renditions.length >= 2);
    for (const rendition of image.renditions) {
      const response = await fetch(`${base}/renditions/${rendition.digest}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), rendition.mediaType);
      assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(response.headers.get('etag'), `"${rendition.digest}"`);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, rendition.digest);
      assert.equal(Number(response.headers.get('content-length')), bytes.length);
      const again = await fetch(`${base}/renditions/${rendition.digest}`, {
        headers: { 'if-none-match': `"${rendition.digest}"` },
      });
      assert.equal(again.status, 304);
      const head = await fetch(`${base}/renditions/${rendition.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-type'), rendition.mediaType);
    }
  });

  test('healthz, readyz, OpenAPI document and the page', async () => {
    const health = await get('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    const ready = await get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal((ready.body as { status: string }).status, 'ok');
    assert.equal(
      (ready.body as { checks: { nats: { lastSeq: number } } }).checks.nats.lastSeq,
      (await fixture.log.head()).lastSeq,
    );

    const openapi = await get('/openapi.json');
    assert.equal(openapi.status, 200);
    const doc = openapi.body as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    for (const path of [
      '/api/search',
      '/api/articles/{id}',
      '/api/articles/{id}/history',
      '/api/images/{id}',
      '/renditions/{digest}',
      '/healthz',
      '/readyz',
    ]) {
      assert.ok(doc.paths[path], path);
    }
    assert.equal(doc.paths['/'], undefined);

    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(page.text, /<script type="module" src="\/app.js">/);
    assert.equal((await get('/app.js')).status, 200);
  });

  test('a backing service down: 503 JSON, and readyz says which', async () => {
    // A throwaway HTTP server that answers every Elasticsearch request with 503.
    const down: Server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
      res.end('{"error":{"type":"unavailable"},"status":503}');
    });
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const badEs = createEsClient(
      { elasticsearch: { url: `http://127.0.0.1:${(down.address() as AddressInfo).port}` } },
      { maxRetries: 0 },
    );
    const badSearcher = createSearcher({ es: badEs, names: fixture.config.names });
    const broken = buildServer({ searcher: badSearcher, log: fixture.log, blobs: fixture.blobs });
    try {
      const result = await broken.inject({ url: '/api/search?q=union' });
      assert.equal(result.statusCode, 503);
      assert.equal(result.json().error.code, 'unavailable');
      assert.equal(result.headers['retry-after'], '1');
      assert.equal((await broken.inject({ url: '/healthz' })).statusCode, 200, 'alive all the same');
      const ready = await broken.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().checks.elasticsearch.ok, false);
      assert.equal(ready.json().checks.nats.ok, true);
      assert.match(ready.json().error.message, /elasticsearch not reachable/);
      const afterSeq = await broken.inject({ url: '/api/search?q=union&afterSeq=1' });
      assert.equal(afterSeq.statusCode, 501);
    } finally {
      await broken.close();
      await badSearcher.close();
      await badEs.close();
      await new Promise((resolve) => down.close(resolve));
    }
  });

  test('originals are never served: only listed renditions, and no original digest in the API', async () => {
    const id = 'img-nagasaki-boats';
    const stored = await fixture.es.get<ImageDoc>({ index: fixture.config.names.alias('images'), id });
    const originalDigest = stored._source?.original.digest;
    assert.ok(originalDigest, 'the index knows the original');
    assert.ok(await fixture.blobs.size(originalDigest), 'the original is in the blob store');
    const original = await get(`/renditions/${originalDigest}`);
    assertJsonError(original, 404, 'not_found');
    const image = (await get(`/api/images/${id}`)).body as ImageDoc;
    assert.ok(image.renditions.length > 0);
    assert.equal(image.original.digest, undefined);
    assert.doesNotMatch(JSON.stringify(image), new RegExp(originalDigest.replace('sha256:', '')));
    assert.equal((await fetch(`${base}/renditions/${image.renditions[0]?.digest}`)).status, 200);
  });

  test('a blackholed Elasticsearch: 504 JSON within the deadline, and the request to it is dropped', async () => {
    // Accepts connections and never answers, as a hung node or a dropped route does.
    const sockets = new Set<Socket>();
    let requests = 0;
    let closed = 0;
    const hole = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => {
        requests += chunk.toString('latin1').match(/ HTTP\/1\.1\r\n/g)?.length ?? 0;
      });
      socket.on('close', () => {
        closed++;
        sockets.delete(socket);
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hole.address() as AddressInfo).port}`;
    const es = createEsClient({ elasticsearch: { url, requestTimeoutMs: 60_000 } }, { maxRetries: 0 });
    const hung = createSearcher({ es, names: fixture.config.names });
    const app = buildServer({ searcher: hung, log: fixture.log, blobs: fixture.blobs, timeoutMs: 3_000 });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const local = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const started = Date.now();
      const answer = await fetch(`${local}/api/search?q=union`);
      const took = Date.now() - started;
      assert.equal(answer.status, 504);
      assert.equal(((await answer.json()) as { error: { code: string } }).error.code, 'timeout');
      assert.ok(took >= 2_900 && took < 6_000, `answered after ${took} ms`);
      assert.equal(requests, 1);
      // The abandoned request is not left running: its connection to the node is closed.
      await eventually(() => assert.equal(closed, 1, 'presslog closed its request to the hung node'));

      // A client that gives up before the deadline: the work behind its request stops too.
      const gone = new AbortController();
      const pending = fetch(`${local}/api/articles/${revisedId}`, { signal: gone.signal }).catch(
        (err: Error) => err,
      );
      await eventually(() => assert.equal(requests, 2, 'the request reached the hung node'));
      const abandoned = Date.now();
      gone.abort();
      assert.ok((await pending) instanceof Error);
      await eventually(() => assert.equal(closed, 2, 'the disconnect closed the request to Elasticsearch'));
      assert.ok(Date.now() - abandoned < 1_000, 'closed by the disconnect, not by the deadline');
    } finally {
      await app.close();
      await hung.close();
      await es.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => hole.close(resolve));
    }
  });

  test('rate limit per client: 429 JSON with Retry-After', async () => {
    const app = buildServer({ searcher, log: fixture.log, blobs: fixture.blobs, rateLimitPerMinute: 3 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await app.inject({ url: '/api/search?q=union' })).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const limited = await app.inject({ url: '/api/search?q=union' });
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.code, 'rate_limited');
      assert.ok(Number(limited.headers['retry-after']) >= 1, String(limited.headers['retry-after']));
      assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'health checks are not limited');
    } finally {
      await app.close();
    }
  });

  test('cursors: a forged one is 400, an expired one 410', async () => {
    const first = await search({ q: 'union', size: '2' });
    const next = (first.body as SearchResult).next;
    assert.ok(next);
    const [payload] = next.split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), n: 0 }),
    ).toString('base64url');
    assertJsonError(
      await search({ q: 'union', size: '2', after: `${forgedPayload}.${next.split('.')[1]}` }),
      400,
    );
    assertJsonError(await search({ q: 'union', size: '2', after: payload ?? '' }), 400);
    const pit = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()).p as string;
    await fixture.es.closePointInTime({ id: pit });
    assertJsonError(await search({ q: 'union', size: '2', after: next }), 410, 'cursor_expired');
  });

  test('afterSeq: read your own write through the live projector, else 503 with the lag', async () => {
    const live = fixture.projectLive();
    try {
      const revise = async (headline: string) => {
        const last = await fixture.log.lastEvent('article', revisedId);
        assert.ok(last && last.event.type !== 'ArticleRetracted');
        return fixture.log.append([
          {
            event: sampleEvent(
              'ArticleRevised',
              revisedId,
              { ...(last.event.payload as ArticleFields), headline },
              { basisSeq: last.seq, occurredAt: new Date().toISOString() },
            ),
            expectedLastSeq: last.seq,
          },
        ]);
      };
      // First a write the projector must be running to apply, waited for without a bound
      // that matters here: starting a live projector (lease, state, first tail) is not what
      // read-your-writes promises, and on a loaded machine it took longer than the afterSeq
      // wait, which made this test fail now and then.
      const warmUp = await revise('A headline written to start the projector');
      await eventually(
        async () => (await get(`/api/articles/${revisedId}?afterSeq=${warmUp.lastSeq}`)).status === 200,
        { timeout: 60_000, interval: 200 },
      );
      const headline = 'A headline written just now';
      const appended = await revise(headline);
      assert.equal(appended.appended, 1);
      // The write is in the log; the read waits until the articles index has applied it.
      const read = await get(`/api/articles/${revisedId}?afterSeq=${appended.lastSeq}`);
      assert.equal(read.status, 200);
      assert.equal((read.body as ArticleDoc).headline, headline);
      const found = await search({ q: '"written just now"', afterSeq: String(appended.lastSeq) });
      assert.deepEqual(
        (found.body as SearchResult).hits.map((h) => h.id),
        [revisedId],
      );
      // A sequence the log has not reached: bounded wait, then 503 with the lag.
      const started = Date.now();
      const lagging = await get(`/api/search?q=union&afterSeq=${appended.lastSeq + 1000}`);
      assertJsonError(lagging, 503, 'projection_lagging');
      assert.equal((lagging.body as { lag: number }).lag, 1000);
      assert.ok(Date.now() - started >= 7_900, 'it waited');
    } finally {
      await live.stop();
    }
  });

  test('the CLI: the same JSON as the API, readable text with the match marked, usage errors exit 2', async () => {
    const env = { PRESSLOG_NAMESPACE: fixture.config.namespace, PRESSLOG_LOG_LEVEL: 'warn' };
    const json = await runCli(['search', '"fiery trial through which we pass"', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const cli = JSON.parse(json.stdout) as SearchResult;
    const api = (await search({ q: '"fiery trial through which we pass"' })).body as SearchResult;
    assert.deepEqual({ ...cli, next: null }, { ...api, next: null });

    const text = await runCli(['search', 'fiery trial', '--byline', 'b-abraham-lincoln', '--size', '1'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /1862-01-01 · Abraham Lincoln · politics/);
    assert.match(text.stdout, /article sotu-1862-abraham-lincoln/);
    assert.match(text.stdout, /\*\*fiery\*\* \*\*trial\*\*/, 'matches marked with ** when not on a terminal');
    assert.match(text.stdout, /Abraham Lincoln/);

    for (const [args, pattern] of [
      [['search', 'x', '--size', '0'], /--size: must be a whole number from 1 to 100/],
      [['search', 'x', '--from', '2021-02-30'], /--from: not an ISO 8601 date/],
      [['search', 'x', '--kind', 'video'], /--kind: must be one of article, image/],
      [['search', 'x'.repeat(1001)], /<query>: at most 1000 characters/],
      [['search', 'x', '--after', 'nonsense'], /--after: not a cursor/],
    ] as const) {
      const run = await runCli(args, env);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});

/** A GET with a request line longer than fetch would send, over a raw HTTP request. */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
