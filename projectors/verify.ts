import { createHash } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import { retrying } from './retry.ts';

const MASK = (1n << 64n) - 1n;

function term(id: string, asOfSeq: number, ownSeq: number): bigint {
  const digest = createHash('sha256').update(`${id}\u0000${asOfSeq}\u0000${ownSeq}`).digest();
  return digest.readBigUInt64BE(0);
}

/**
 * An order-independent checksum of a set of documents identified by (id,
 * `lineage.asOfSeq`, `lineage.ownSeq`): the sum of their hashes modulo 2^64. The entity's
 * own last event and the newest event of everything embedded pin down what a document
 * was built from, so equal checksums mean the same documents, without reading a single
 * `_source` back.
 */
export function createChecksum() {
  let sum = 0n;
  let count = 0;
  return {
    add(id: string, asOfSeq: number, ownSeq: number) {
      sum = (sum + term(id, asOfSeq, ownSeq)) & MASK;
      count++;
    },
    get count() {
      return count;
    },
    get value(): string {
      return sum.toString(16).padStart(16, '0');
    },
  };
}

const seqOf = (fields: Record<string, unknown> | undefined, name: string): number =>
  Number((fields?.[name] as unknown[] | undefined)?.[0] ?? 0);

/** Read every (id, asOfSeq, ownSeq) of an index with a scroll (doc values only: cheap). */
export async function* readLineage(
  client: Client,
  index: string,
  signal?: AbortSignal,
): AsyncGenerator<[string, number, number]> {
  let response = await retrying(
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
      }),
    { signal, deadlineMs: 60_000 },
  );
  let scrollId = response._scroll_id;
  try {
    while (response.hits.hits.length > 0) {
      for (const hit of response.hits.hits) {
        const id = String((hit.fields?.id as unknown[] | undefined)?.[0] ?? hit._id);
        yield [id, seqOf(hit.fields, 'lineage.asOfSeq'), seqOf(hit.fields, 'lineage.ownSeq')];
      }
      if (!scrollId) break;
      const id = scrollId;
      response = await retrying(() => client.scroll({ scroll_id: id, scroll: '2m' }), {
        signal,
        deadlineMs: 60_000,
      });
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
 * Compare an index with the expected documents: counts and checksums; on a mismatch, a
 * second pass lists the first differences so the failure can be explained.
 */
export async function verifyIndex(
  client: Client,
  index: string,
  expected: () => Iterable<[string, number, number]>,
  signal?: AbortSignal,
): Promise<Verification> {
  const want = createChecksum();
  for (const [id, asOfSeq, ownSeq] of expected()) {
    want.add(id, asOfSeq, ownSeq);
    // A million hashes take seconds: let timers (lease renewals) and I/O in meanwhile.
    if (want.count % 10_000 === 0) await setImmediate();
  }
  const have = createChecksum();
  for await (const [id, asOfSeq, ownSeq] of readLineage(client, index, signal)) have.add(id, asOfSeq, ownSeq);
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
