import type { Client, estypes } from '@elastic/elasticsearch';
import type { Config } from '../../schemas/config.ts';
import { parseSearchParams } from '../../search/params.ts';
import { buildQuery } from '../../search/query.ts';

/** A question as a reader types it into the search box, and the one speech that answers it. */
export interface KnownItem {
  q: string;
  id: string;
}

/**
 * Known-item queries over the sample archive (the State of the Union addresses): each is
 * worded the way a reader remembers it, with inflections that often differ from the text
 * ("declared" for "declares", "hostages", "crises"), and has exactly one right answer.
 */
export const KNOWN_ITEMS: readonly KnownItem[] = [
  { q: 'declared unconditional war on poverty', id: 'sotu-1964-lyndon-b-johnson' },
  { q: 'era of big governments over', id: 'sotu-1996-william-j-clinton' },
  { q: 'axis of evil', id: 'sotu-2002-george-w-bush' },
  { q: "our generation's sputnik moments", id: 'sotu-2011-barack-obama' },
  { q: 'compensated emancipation fiery trials', id: 'sotu-1862-abraham-lincoln' },
  { q: 'four freedoms worshipping', id: 'sotu-1941-franklin-d-roosevelt' },
  { q: 'chronic wrongdoings police powers', id: 'sotu-1904-theodore-roosevelt' },
  { q: 'european powers colonizing american continents', id: 'sotu-1823-james-monroe' },
  { q: 'the only thing we have to fear', id: 'sotu-1936-franklin-d-roosevelt' },
  { q: 'fall of the berlin walls', id: 'sotu-1990-george-bush' },
  { q: 'kuwait new world orders', id: 'sotu-1991-george-bush' },
  { q: 'iran hostages acid rains', id: 'sotu-1981-jimmy-carter' },
  { q: 'battleship maine destroyed havana', id: 'sotu-1898-william-mckinley' },
  { q: 'attacks on pearl harbor', id: 'sotu-1942-franklin-d-roosevelt' },
  { q: 'year of watergate energy crises', id: 'sotu-1974-richard-nixon' },
  { q: 'health insurance reforms economic recovery', id: 'sotu-2010-barack-obama' },
];

export interface KnownItemResult {
  q: string;
  id: string;
  /** 1-based rank of the answer in the first 10 hits, or null when it is not there. */
  rankBefore: number | null;
  rankAfter: number | null;
}

/** The same query on the unstemmed `.exact` sub-fields: the analysis presslog had before stemming. */
function unstemmed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unstemmed);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [
      key,
      key === 'fields' && Array.isArray(v)
        ? v.map((f: string) => f.replace(/^([^^]+)/, '$1.exact'))
        : unstemmed(v),
    ]),
  );
}

async function rankOf(es: Client, index: string, query: unknown, id: string): Promise<number | null> {
  const response = await es.search({ index, size: 10, _source: false, query } as estypes.SearchRequest);
  const rank = response.hits.hits.findIndex((h) => h._id === id);
  return rank < 0 ? null : rank + 1;
}

/** Rank every known item with and without stemming; MRR@10 of each. */
export async function runKnownItems(
  es: Client,
  config: Config,
  items: readonly KnownItem[] = KNOWN_ITEMS,
): Promise<{ results: KnownItemResult[]; mrrBefore: number; mrrAfter: number }> {
  const index = config.names.alias('articles');
  const results: KnownItemResult[] = [];
  for (const item of items) {
    const query = buildQuery(parseSearchParams({ q: item.q }));
    const [rankBefore, rankAfter] = await Promise.all([
      rankOf(es, index, unstemmed(query), item.id),
      rankOf(es, index, query, item.id),
    ]);
    results.push({ ...item, rankBefore, rankAfter });
  }
  const mrr = (ranks: (number | null)[]) =>
    ranks.reduce<number>((s, r) => s + (r ? 1 / r : 0), 0) / ranks.length;
  return {
    results,
    mrrBefore: mrr(results.map((r) => r.rankBefore)),
    mrrAfter: mrr(results.map((r) => r.rankAfter)),
  };
}
