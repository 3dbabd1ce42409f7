import { performance } from 'node:perf_hooks';
import type { Client, estypes } from '@elastic/elasticsearch';
import { PROJECTIONS } from '../../projectors/projections.ts';
import type { Config } from '../../schemas/config.ts';
import { parseSearchParams } from '../../search/params.ts';
import { buildHighlight, buildQuery } from '../../search/query.ts';
import { type Measurement, measurement } from './measurement.ts';

/** How the text fields are indexed for highlighting. */
type Variant = 'offsets' | 'termVectors' | 'positions';

const QUERIES = [
  'union',
  'constitution',
  '"fiery trial"',
  'railroad tariff',
  'war -peace',
  'economy',
  'slavery',
  'freedom',
];

/** The articles mapping with every text field's highlighting support switched to `variant`. */
export function mappingFor(variant: Variant, mapping: unknown): unknown {
  if (Array.isArray(mapping)) return mapping.map((m) => mappingFor(variant, m));
  if (mapping === null || typeof mapping !== 'object') return mapping;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(mapping)) out[key] = mappingFor(variant, value);
  if (out.type === 'text' && out.index_options === 'offsets') {
    delete out.index_options;
    if (variant === 'offsets') out.index_options = 'offsets';
    if (variant === 'termVectors') out.term_vector = 'with_positions_offsets';
  }
  return out;
}

/** Copy every document of `from` into `to` (the Elasticsearch we run has no `_reindex`). */
async function copyDocs(es: Client, from: string, to: string): Promise<void> {
  let after: estypes.SortResults | undefined;
  for (;;) {
    const page = await es.search({
      index: from,
      size: 100,
      sort: [{ id: 'asc' }],
      ...(after ? { search_after: after } : {}),
    });
    const hits = page.hits.hits;
    if (hits.length === 0) break;
    await es.bulk(
      { operations: hits.flatMap((h) => [{ index: { _index: to, _id: h._id } }, h._source]) },
      { requestTimeout: 600_000 },
    );
    after = hits.at(-1)?.sort;
  }
  await es.indices.refresh({ index: to });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * `presslog bench highlight`: the archive's articles copied into three indexes that differ
 * only in what the highlighter can read (offsets in the postings, term vectors, or
 * neither: it re-analyses the text), force-merged, then the page's highlighted search run
 * on each in turn. Prints store size and median latency, offsets against each alternative.
 */
export async function runHighlightBench(es: Client, config: Config, rounds = 5): Promise<Measurement[]> {
  const source = config.names.alias('articles');
  const variants: Variant[] = ['offsets', 'termVectors', 'positions'];
  const index = (v: Variant) => `${config.names.namespace}-hlbench-${v.toLowerCase()}`;
  const sizes = new Map<Variant, number>();
  const times = new Map<Variant, number[]>(variants.map((v) => [v, []]));
  try {
    for (const v of variants) {
      await es.indices.delete({ index: index(v) }, { ignore: [404] });
      await es.indices.create({
        index: index(v),
        // `as never`: our definition is plain JSON; the client's analysis types are narrower than the server's.
        settings: {
          number_of_shards: 1,
          number_of_replicas: 0,
          analysis: PROJECTIONS.articles.analysis as never,
        },
        mappings: mappingFor(v, PROJECTIONS.articles.mappings) as estypes.MappingTypeMapping,
      });
      await copyDocs(es, source, index(v));
      await es.indices.forcemerge({ index: index(v), max_num_segments: 1 }, { requestTimeout: 600_000 });
      const stats = await es.indices.stats({ index: index(v), metric: 'store' });
      sizes.set(v, stats._all.primaries?.store?.size_in_bytes ?? 0);
    }
    for (let round = 0; round < rounds; round++) {
      for (const v of variants) {
        for (const q of QUERIES) {
          const request = parseSearchParams({ q });
          const t = performance.now();
          const body: Record<string, unknown> = {
            index: index(v),
            size: 10,
            _source: false,
            query: buildQuery(request),
            highlight: buildHighlight(request),
          };
          await es.search(body as estypes.SearchRequest);
          if (round > 0) times.get(v)!.push(performance.now() - t);
        }
      }
    }
  } finally {
    await es.indices.delete({ index: variants.map(index) }, { ignore: [404] });
  }
  const mib = (v: Variant) => (sizes.get(v) ?? 0) / 2 ** 20;
  const p50 = (v: Variant) => median(times.get(v)!);
  const note = `${QUERIES.length} queries x ${rounds - 1} timed rounds, top 10 highlighted; latency ratio = ceiling/ours`;
  const latency = (name: string, ours: number, other: number) => {
    const m = measurement(name, 'ms', ours, other, note);
    return { ...m, ratio: ours > 0 ? Math.round((other / ours) * 1000) / 1000 : 0 };
  };
  return [
    measurement('index size, offsets vs term vectors', 'MiB', mib('offsets'), mib('termVectors')),
    measurement('index size, offsets vs positions only', 'MiB', mib('offsets'), mib('positions')),
    latency('highlighted search p50, offsets vs term vectors', p50('offsets'), p50('termVectors')),
    latency(
      'highlighted search p50, offsets vs positions only (re-analysis)',
      p50('offsets'),
      p50('positions'),
    ),
  ];
}
