import { setImmediate } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import type { LineageCheck } from '../../schemas/documents.ts';
import { lineageCheck } from '../lineage.ts';
import { retryingEs } from '../write/esRetry.ts';

/**
 * An order-independent checksum of a set of documents: their count and the sums of their
 * lineage check values (see `lineage.ts`): equal counts and sums mean the same documents.
 */
export function createChecksum() {
  const sums = { a: 0, b: 0, c: 0 };
  let count = 0;
  return {
    add(check: LineageCheck) {
      sums.a += check.a;
      sums.b += check.b;
      sums.c += check.c;
      count++;
    },
    get count() {
      return count;
    },
    get value(): string {
      return checksumOf(sums);
    },
    get sums(): LineageCheck {
      return { ...sums };
    },
  };
}

export const checksumOf = (sums: LineageCheck) =>
  [sums.a, sums.b, sums.c].map((sum) => sum.toString(16).padStart(14, '0')).join('');

/** Count and check sums of an index (or of the documents of `ids` in it), added up by Elasticsearch. */
export async function indexChecksum(
  client: Client,
  index: string,
  signal?: AbortSignal,
  ids?: readonly string[],
): Promise<{ count: number; value: string; sums: LineageCheck }> {
  const sum = (field: keyof LineageCheck) => ({ sum: { field: `lineage.check.${field}` } });
  const response = await retryingEs(
    () =>
      client.search({
        index,
        size: 0,
        track_total_hits: true,
        ...(ids ? { query: { ids: { values: [...ids] } } } : {}),
        aggs: { a: sum('a'), b: sum('b'), c: sum('c') },
      }),
    { signal, deadlineMs: 60_000 },
  );
  const total = response.hits.total;
  const aggs = response.aggregations as Record<keyof LineageCheck, { value: number }> | undefined;
  const sums = { a: aggs?.a.value ?? 0, b: aggs?.b.value ?? 0, c: aggs?.c.value ?? 0 };
  return { count: typeof total === 'number' ? total : (total?.value ?? 0), value: checksumOf(sums), sums };
}

const seqOf = (fields: Record<string, unknown> | undefined, name: string): number =>
  Number((fields?.[name] as unknown[] | undefined)?.[0] ?? 0);

/** Only the hits' doc values and the scroll id: the rest of each hit is most of a page. */
const LINEAGE_FILTER = ['_scroll_id', 'hits.hits.fields'];

/** Read every (id, asOfSeq, ownSeq) of an index with a scroll (doc values only), to list differences. */
async function* readLineage(
  client: Client,
  index: string,
  signal?: AbortSignal,
): AsyncGenerator<[string, number, number]> {
  let response = await retryingEs(
    () =>
      client.search({
        index,
        scroll: '2m',
        size: 10_000,
        _source: false,
        // Doc values only, no stored field (not even `_id`): every projection keeps its id in `id`.
        stored_fields: ['_none_'],
        docvalue_fields: ['id', 'lineage.asOfSeq', 'lineage.ownSeq'],
        sort: ['_doc'],
        query: { match_all: {} },
        filter_path: LINEAGE_FILTER,
      }),
    { signal, deadlineMs: 60_000 },
  );
  let scrollId = response._scroll_id;
  try {
    // The filter drops `hits` altogether from a page without hits.
    while ((response.hits?.hits ?? []).length > 0) {
      for (const hit of response.hits.hits) {
        const id = String((hit.fields?.id as unknown[] | undefined)?.[0] ?? '');
        yield [id, seqOf(hit.fields, 'lineage.asOfSeq'), seqOf(hit.fields, 'lineage.ownSeq')];
      }
      if (!scrollId) break;
      const id = scrollId;
      response = await retryingEs(
        () => client.scroll({ scroll_id: id, scroll: '2m', filter_path: LINEAGE_FILTER }),
        {
          signal,
          deadlineMs: 60_000,
        },
      );
      scrollId = response._scroll_id;
    }
  } finally {
    if (scrollId) await client.clearScroll({ scroll_id: scrollId }).catch(() => {});
  }
}

/** Result of verifying an index against the documents the projection state expects. */
export interface Verification {
  index: string;
  ok: boolean;
  expectedDocs: number;
  actualDocs: number;
  expectedChecksum: string;
  actualChecksum: string;
  /** Up to 10 differences (`asOfSeq/ownSeq`), when the checksums differ. */
  differences: { id: string; expected?: string; actual?: string }[];
}

/**
 * Compare an index with the expected documents: counts and checksums, the index's summed
 * by Elasticsearch; on a mismatch, a pass over the index's lineage lists the first
 * differences so the failure can be explained.
 */
export async function verifyIndex(
  client: Client,
  index: string,
  expected: () => Iterable<[string, number, number]>,
  signal?: AbortSignal,
): Promise<Verification> {
  const want = createChecksum();
  for (const [id, asOfSeq, ownSeq] of expected()) {
    want.add(lineageCheck(id, asOfSeq, ownSeq));
    // A million hashes take a second: let timers (lease renewals) and I/O in meanwhile.
    if (want.count % 10_000 === 0) await setImmediate();
  }
  const have = await indexChecksum(client, index, signal);
  const result: Verification = {
    index,
    ok: want.count === have.count && want.value === have.value,
    expectedDocs: want.count,
    actualDocs: have.count,
    expectedChecksum: want.value,
    actualChecksum: have.value,
    differences: [],
  };
  if (!result.ok) {
    const expectedMap = new Map<string, string>();
    for (const [id, asOfSeq, ownSeq] of expected()) expectedMap.set(id, `${asOfSeq}/${ownSeq}`);
    const seen = new Set<string>();
    for await (const [id, asOfSeq, ownSeq] of readLineage(client, index, signal)) {
      seen.add(id);
      const wanted = expectedMap.get(id);
      const actual = `${asOfSeq}/${ownSeq}`;
      if (wanted !== actual && result.differences.length < 10)
        result.differences.push({ id, expected: wanted, actual });
    }
    for (const [id, wanted] of expectedMap) {
      if (result.differences.length >= 10) break;
      if (!seen.has(id)) result.differences.push({ id, expected: wanted });
    }
  }
  return result;
}
