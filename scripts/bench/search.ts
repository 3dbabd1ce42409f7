import { performance } from 'node:perf_hooks';
import type { Client, estypes } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import type { Config } from '../../schemas/config.ts';
import { parseSearchParams, type SearchParams, type SearchRequest } from '../../search/params.ts';
import {
  buildFacetsBody,
  buildFirstPageSearches,
  buildQuery,
  buildSearchBody,
  buildSuggestBody,
  type Corrections,
  correctionsOf,
  SEARCH_FIELDS,
  type SuggestAnswer,
} from '../../search/query.ts';
import { type RawSearchResponse, type SearchResult, totalOf } from '../../search/results.ts';
import { buildSuggestSearches, SUGGEST_LIMITS } from '../../search/suggest.ts';
import { type Measurement, measurement } from './measurement.ts';

export interface SearchBenchOptions {
  config: Config;
  es: Client;
  /** The API under test (its base URL), listening on loopback, over the same namespace. */
  server: { url: string };
  /** Concurrent clients per level (default 1, 8, 32). */
  levels?: readonly number[];
  /** Also time the second ceiling, a bare match (default true). */
  bareMatch?: boolean;
  /** Requests per level, side and round (default 150). */
  requests?: number;
  /** Alternating rounds of ours and the ceiling per level (default 2). */
  rounds?: number;
  /**
   * Also time the first page's parts straight to Elasticsearch, this many times each per
   * query of the mix (see {@link searchBreakdown}); default 0, not at all.
   */
  breakdown?: number;
  log?: Logger;
  signal?: AbortSignal;
}

const KEEP_ALIVE = '2m';

/**
 * A mix of what people type: single words, phrases, a misspelling, operators, filters by
 * byline, tag and date, date sort, an empty browse, a bigger page. Filters use values
 * that exist in the archive (from its own facets).
 */
export function queryMix(facets: SearchResult['facets'], tags: readonly string[]): SearchParams[] {
  const bylines = facets?.bylines ?? [];
  return [
    { q: 'union' },
    { q: 'constitution' },
    { q: '"fiery trial"' },
    { q: 'railroad tariff' },
    { q: 'nagasakki' },
    { q: 'war -peace' },
    { q: '' },
    { q: 'congress', byline: bylines[0]?.id },
    { q: 'freedom', from: '1900', to: '1950' },
    { q: 'slavery', sort: 'date' },
    { q: 'economy', size: 20 },
    { q: 'silver print' },
    { q: 'gold', tag: tags[0] },
    { q: '', byline: bylines[1]?.id },
    { q: 'immigration', from: '1880' },
    { q: 'depression unemployment' },
  ].map((p) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as SearchParams);
}

/**
 * The ceiling: the Elasticsearch requests one search makes (open a point in time, the
 * search, the corrections and a second search, the byline-name lookup when needed, closing
 * the point in time when there is no next page), sent straight to Elasticsearch with the
 * same client, without HTTP API, validation, mapping or serialization.
 */
async function rawSearch(es: Client, config: Config, params: SearchParams, closing: Set<Promise<unknown>>) {
  const request = parseSearchParams(params);
  const index = config.names.alias(request.kind === 'image' ? 'images' : 'articles');
  const pit = (await es.openPointInTime({ index, keep_alive: KEEP_ALIVE })).id;
  // As the searcher does: the hits and a size-0 facets search in one _msearch, the words
  // alone first; when they fill less than a page, their corrections and a second _msearch.
  const send = async (typo: false | Corrections) => {
    const searches = buildFirstPageSearches(request, { pitId: pit, keepAlive: KEEP_ALIVE, typo });
    const { responses } = await es.msearch({ searches } as estypes.MsearchRequest);
    const [hits, facets] = responses as unknown as RawSearchResponse[];
    return { hits: hits!, facets: facets! };
  };
  let answer = await send(false);
  const suggest =
    totalOf(answer.facets) < request.size && buildSuggestBody(request, { pitId: pit, keepAlive: KEEP_ALIVE });
  if (suggest) {
    const found = await es.search(suggest as estypes.SearchRequest);
    const corrections = correctionsOf(request, found as SuggestAnswer);
    if (corrections.some((c) => c.length > 0)) answer = await send(corrections);
  }
  const response = answer.hits;
  const facets = answer.facets;
  const pitId = response.pit_id ?? pit;
  const hits = response.hits.hits;
  const followUps: Promise<unknown>[] = [];
  if (request.kind === 'article') {
    const named = new Set<string>();
    for (const h of hits) {
      for (const b of (h._source as { bylines?: { id: string; name?: string }[] }).bylines ?? []) {
        if (b.name) named.add(b.id);
      }
    }
    const buckets =
      (facets.aggregations?.bylines as { buckets?: { key: string }[] } | undefined)?.buckets ?? [];
    const missing = buckets.map((b) => String(b.key)).filter((id) => !named.has(id));
    if (missing.length > 0) {
      followUps.push(
        es.mget({ index: config.names.alias('bylines'), ids: missing, _source_includes: ['name'] }),
      );
    }
  }
  await Promise.all(followUps);
  const total = totalOf(facets);
  if (!(hits.length === request.size && total > hits.length)) {
    const p = es.closePointInTime({ id: pitId }).catch(() => {});
    closing.add(p);
    p.finally(() => closing.delete(p));
  }
}

/**
 * The harder ceiling: the cheapest request that finds the same hits. The same free text as
 * one `multi_match` over the same fields, the same filters, the same page of `_source`
 * fields; no typo clause, highlighting, facets, timeline, exact total or point in time.
 */
export function bareMatchBody(params: SearchParams): Record<string, unknown> {
  const request = parseSearchParams(params);
  const query = buildQuery({ ...request, q: '' });
  const filter = (query as { bool?: { filter?: unknown[] } }).bool?.filter ?? [];
  const match =
    request.q === ''
      ? { match_all: {} }
      : {
          multi_match: {
            query: request.q,
            fields: [...SEARCH_FIELDS[request.kind]],
            operator: 'and',
            lenient: true,
          },
        };
  return {
    size: request.size,
    _source: { includes: ['id', 'headline', 'publishedAt', 'section', 'tags', 'bylines', 'images'] },
    query: filter.length > 0 ? { bool: { must: [match], filter } } : match,
  };
}

async function bareSearch(es: Client, config: Config, params: SearchParams) {
  const index = config.names.alias(params.kind === 'image' ? 'images' : 'articles');
  await es.search({ index, ...bareMatchBody(params) } as estypes.SearchRequest);
}

async function apiSearch(base: string, params: SearchParams) {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
  const response = await fetch(`${base}/api/search?${query}`);
  const body = await response.text();
  if (response.status !== 200)
    throw new Error(`GET /api/search?${query}: ${response.status} ${body.slice(0, 200)}`);
}

interface Run {
  seconds: number;
  latenciesMs: number[];
}

/** `requests` calls of `fn` by `concurrency` clients, each client starting its next call when one returns. */
async function load(
  concurrency: number,
  requests: number,
  fn: (i: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<Run> {
  let next = 0;
  const latenciesMs: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        signal?.throwIfAborted();
        const i = next++;
        const t = performance.now();
        await fn(i);
        latenciesMs.push(performance.now() - t);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latenciesMs };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function summarize(runs: readonly Run[]) {
  const latencies = runs.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  return { qps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** A latency pair as a measurement whose ratio, like the throughput's, is higher-is-better (ceiling / ours). */
function latency(name: string, ours: number, ceiling: number, note?: string): Measurement {
  const m = measurement(name, 'ms', ours, ceiling, note);
  return { ...m, ratio: ours > 0 ? Math.round((ceiling / ours) * 1000) / 1000 : 0 };
}

/**
 * `presslog bench search`: queries per second and p50/p99 latency of `GET /api/search` for
 * a query mix at 1, 8 and 32 concurrent clients, next to the same Elasticsearch requests
 * sent straight to Elasticsearch with the same client (the ceiling). Ours and the ceiling
 * alternate in rounds at each level, so drift on a shared machine hits both alike.
 */
export async function runSearchBench(options: SearchBenchOptions): Promise<Measurement[]> {
  const { es, config, server, signal } = options;
  const levels = options.levels ?? [1, 8, 32];
  const requests = options.requests ?? 150;
  const rounds = options.rounds ?? 2;
  const browse = (await (await fetch(`${server.url}/api/search?size=100`)).json()) as SearchResult;
  if (browse.total === 0) throw new Error(`the archive in namespace ${config.namespace} is empty`);
  const tags = [...new Set(browse.hits.flatMap((h) => h.tags))].filter((t) => t !== 'state-of-the-union');
  const mix = queryMix(browse.facets, tags);
  const closing = new Set<Promise<unknown>>();
  const ours = (i: number) => apiSearch(server.url, mix[i % mix.length]!);
  const ceiling = (i: number) => rawSearch(es, config, mix[i % mix.length]!, closing);
  const bare = (i: number) => bareSearch(es, config, mix[i % mix.length]!);
  const withBare = options.bareMatch ?? true;

  // Warm up both paths (JIT, caches, connections) before anything is timed.
  await load(4, mix.length * 2, ours, signal);
  await load(4, mix.length * 2, ceiling, signal);
  if (withBare) await load(4, mix.length * 2, bare, signal);

  const measurements: Measurement[] = [];
  for (const concurrency of levels) {
    const runs = { ours: [] as Run[], ceiling: [] as Run[], bare: [] as Run[] };
    for (let round = 0; round < rounds; round++) {
      runs.ours.push(await load(concurrency, requests, ours, signal));
      runs.ceiling.push(await load(concurrency, requests, ceiling, signal));
      if (withBare) runs.bare.push(await load(concurrency, requests, bare, signal));
    }
    const o = summarize(runs.ours);
    const c = summarize(runs.ceiling);
    options.log?.info({ concurrency, ours: o, ceiling: c }, 'bench search level done');
    const note = `${rounds * requests} requests per side, ${mix.length} queries in the mix`;
    measurements.push(
      measurement(`search c=${concurrency} throughput`, 'queries/s', o.qps, c.qps, note),
      latency(`search c=${concurrency} p50`, o.p50, c.p50, 'latency ratio = ceiling/ours'),
      latency(`search c=${concurrency} p99`, o.p99, c.p99, 'latency ratio = ceiling/ours'),
    );
    if (withBare) {
      const b = summarize(runs.bare);
      measurements.push(
        measurement(
          `search c=${concurrency} throughput vs bare match`,
          'queries/s',
          o.qps,
          b.qps,
          'ceiling: a bare multi_match, same fields and filters, no highlight/facets/PIT',
        ),
        latency(
          `search c=${concurrency} p50 vs bare match`,
          o.p50,
          b.p50,
          'aim: ratio >= 0.67 (p50 <= 1.5x bare match)',
        ),
        // Ours against our own p50: the tail aim (p99 <= 3x p50) as a ratio, higher is better.
        latency(`search c=${concurrency} p99 vs own p50`, o.p99, o.p50, 'aim: ratio >= 0.33 (p99 <= 3x p50)'),
      );
    }
  }
  if (options.breakdown) {
    measurements.push(...(await searchBreakdown(es, config, mix, options.breakdown, signal)));
    const busiest = Math.max(...levels);
    measurements.push(
      ...(await searchFloor(es, config, mix, { concurrency: busiest, requests, rounds }, signal)),
    );
  }
  measurements.push(...(await suggestBench(es, config, server.url, requests, signal)));
  await Promise.allSettled([...closing]);
  return measurements;
}

type Part = (request: SearchRequest, pit: string) => () => Promise<unknown>;

/** A page-of-hits body without the body's snippets (the breakdown's and the floor's variant). */
function withoutBodyHighlight(body: Record<string, unknown>): void {
  delete (body.highlight as { fields: Record<string, unknown> }).fields.body;
}

/**
 * Where a first page's time goes: its Elasticsearch requests, and the page of hits with
 * one part left out at a time, each sent straight to Elasticsearch by one client. Per
 * query of the mix, the parts take turns `repetitions` times (so drift on a shared
 * machine hits them alike); a part's figure is the mean over the mix of its per-query
 * medians. The ceiling of every row is the bare match, timed in the same turns. Without
 * the typo clause, as the searcher's first try sends it.
 */
export async function searchBreakdown(
  es: Client,
  config: Config,
  mix: readonly SearchParams[],
  repetitions: number,
  signal?: AbortSignal,
): Promise<Measurement[]> {
  const index = config.names.alias('articles');
  const page = (pit: string) => ({ pitId: pit, keepAlive: KEEP_ALIVE, typo: false as const });
  const hits = (
    request: SearchRequest,
    pit: string,
    change: (body: Record<string, unknown>) => void = () => {},
  ) => {
    const body = structuredClone(buildSearchBody(request, { ...page(pit), countTotal: false }));
    change(body);
    return () => es.search(body as estypes.SearchRequest);
  };
  const facets = (request: SearchRequest, pit: string, cache: boolean) => {
    const body = { ...buildFacetsBody(request, page(pit)), request_cache: cache };
    return () => es.search(body as estypes.SearchRequest);
  };
  const parts: [string, Part][] = [
    [
      'open a point in time',
      () => async () => {
        const { id } = await es.openPointInTime({ index, keep_alive: KEEP_ALIVE });
        void es.closePointInTime({ id }).catch(() => {});
      },
    ],
    [
      'first page _msearch: hits and facets',
      (request, pit) => () =>
        es.msearch({ searches: buildFirstPageSearches(request, page(pit)) } as estypes.MsearchRequest),
    ],
    ['page of hits', (request, pit) => hits(request, pit)],
    ['page of hits, no highlight', (request, pit) => hits(request, pit, (b) => delete b.highlight)],
    ['page of hits, no body highlight', (request, pit) => hits(request, pit, withoutBodyHighlight)],
    ['page of hits, no _source', (request, pit) => hits(request, pit, (b) => (b._source = false))],
    ['facets search (request cache)', (request, pit) => facets(request, pit, true)],
    ['facets search (no request cache)', (request, pit) => facets(request, pit, false)],
  ];
  const bare: Part = (request) => () =>
    es.search({ index, ...bareMatchBody(request) } as estypes.SearchRequest);
  const all = [...parts, ['bare match', bare] as [string, Part]];
  const sums = new Array<number>(all.length).fill(0);
  const articles = mix.filter((p) => (p.kind ?? 'article') === 'article');
  const pit = (await es.openPointInTime({ index, keep_alive: KEEP_ALIVE })).id;
  try {
    for (const params of articles) {
      const request = parseSearchParams(params);
      const calls = all.map(([, part]) => part(request, pit));
      for (const call of calls) await call();
      const times = calls.map(() => [] as number[]);
      for (let i = 0; i < repetitions; i++) {
        for (const [k, call] of calls.entries()) {
          signal?.throwIfAborted();
          const t = performance.now();
          await call();
          times[k]!.push(performance.now() - t);
        }
      }
      for (const [k, t] of times.entries()) {
        sums[k] =
          (sums[k] ?? 0) +
          percentile(
            [...t].sort((a, b) => a - b),
            50,
          );
      }
    }
  } finally {
    await es.closePointInTime({ id: pit }).catch(() => {});
  }
  const bareMs = sums.at(-1)! / articles.length;
  const note = `straight to Elasticsearch, 1 client: mean over ${articles.length} queries of the median of ${repetitions}`;
  return all.map(([name], k) => latency(`breakdown: ${name}`, sums[k]! / articles.length, bareMs, note));
}

/**
 * What the p50 aim would allow at most: the page of hits alone (highlighted, with no
 * facets, total, timeline or point in time), and the same without the body's snippets,
 * against the bare match, each sent straight to Elasticsearch by `concurrency` clients in
 * alternating rounds. If the page of hits alone is already over 1.5x the bare match, no
 * first page that shows snippets meets the aim, whatever else it leaves out.
 */
export async function searchFloor(
  es: Client,
  config: Config,
  mix: readonly SearchParams[],
  { concurrency, requests, rounds }: { concurrency: number; requests: number; rounds: number },
  signal?: AbortSignal,
): Promise<Measurement[]> {
  const index = config.names.alias('articles');
  const articles = mix.filter((p) => (p.kind ?? 'article') === 'article');
  const bodies = (change: (body: Record<string, unknown>) => void) =>
    articles.map((params) => {
      const { pit: _pit, ...body } = structuredClone(
        buildSearchBody(parseSearchParams(params), { pitId: '', keepAlive: KEEP_ALIVE, typo: false }),
      );
      change(body);
      return { index, ...body } as estypes.SearchRequest;
    });
  const sides = {
    hits: bodies(() => {}),
    noBody: bodies(withoutBodyHighlight),
    bare: articles.map((params) => ({ index, ...bareMatchBody(params) }) as estypes.SearchRequest),
  };
  const runs = { hits: [] as Run[], noBody: [] as Run[], bare: [] as Run[] };
  for (let round = 0; round < rounds; round++) {
    for (const side of ['hits', 'noBody', 'bare'] as const) {
      const list = sides[side];
      const send = (i: number) => es.search(list[i % list.length]!).then(() => {});
      runs[side].push(await load(concurrency, requests, send, signal));
    }
  }
  const bare = summarize(runs.bare).p50;
  const note = `straight to Elasticsearch, ${concurrency} clients, ${rounds * requests} requests per side; aim: ratio >= 0.67`;
  return [
    latency(
      `floor c=${concurrency}: page of hits alone p50 vs bare match`,
      summarize(runs.hits).p50,
      bare,
      note,
    ),
    latency(
      `floor c=${concurrency}: page of hits, no body snippets, p50 vs bare match`,
      summarize(runs.noBody).p50,
      bare,
      note,
    ),
  ];
}

/** Prefixes people type into the search box: names and headline beginnings, and words inside them. */
const PREFIXES = [
  'abr',
  'lincoln',
  'roosev',
  'union add',
  'geo',
  'sta',
  'state of the union address, 18',
  'wood',
  'fra',
  'ulys',
  'tho',
  'jam',
];

/** `GET /api/suggest` at 8 clients next to the same completion request sent straight to Elasticsearch. */
async function suggestBench(
  es: Client,
  config: Config,
  base: string,
  requests: number,
  signal?: AbortSignal,
): Promise<Measurement[]> {
  const ours = async (i: number) => {
    const response = await fetch(
      `${base}/api/suggest?${new URLSearchParams({ q: PREFIXES[i % PREFIXES.length]! })}`,
    );
    await response.text();
    if (response.status !== 200) throw new Error(`GET /api/suggest: ${response.status}`);
  };
  const ceiling = async (i: number) => {
    const searches = buildSuggestSearches(
      config.names,
      PREFIXES[i % PREFIXES.length]!,
      SUGGEST_LIMITS.defaultSize,
    );
    await es.msearch({ searches: searches.flat() } as estypes.MsearchRequest);
  };
  await load(4, PREFIXES.length * 2, ours, signal);
  await load(4, PREFIXES.length * 2, ceiling, signal);
  const o = summarize([await load(8, requests, ours, signal)]);
  const c = summarize([await load(8, requests, ceiling, signal)]);
  return [
    measurement(
      'suggest c=8 throughput',
      'queries/s',
      o.qps,
      c.qps,
      'ceiling: the same completion request straight to Elasticsearch',
    ),
    latency('suggest c=8 p50', o.p50, c.p50, 'aim: ours <= 50 ms'),
  ];
}
