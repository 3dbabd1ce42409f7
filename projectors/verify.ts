import { createHash } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { retrying } from './retry.ts';

const MASK = (1n << 64n) - 1n;

function term(id: string, version: number): bigint {
  const digest = createHash('sha256').update(`${id}\u0000${version}`).digest();
  return digest.readBigUInt64BE(0);
}

/**
 * An order-independent checksum of a set of (document id, version) pairs: the sum of
 * their hashes modulo 2^64. Versions are stream sequences and documents are a pure
 * function of the log up to their version, so equal checksums mean the same documents
 * at the same versions, without reading a single `_source` back.
 */
export function createChecksum() {
  let sum = 0n;
  let count = 0;
  return {
    add(id: string, version: number) {
      sum = (sum + term(id, version)) & MASK;
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

/** Read every (id, version) of an index with a scroll (ids and versions only: cheap). */
export async function* readVersions(
  client: Client,
  index: string,
  signal?: AbortSignal,
): AsyncGenerator<[string, number]> {
  let response = await retrying(
    () =>
      client.search({
        index,
        scroll: '2m',
        size: 5000,
        _source: false,
        version: true,
        sort: ['_doc'],
        query: { match_all: {} },
      }),
    { signal, deadlineMs: 60_000 },
  );
  let scrollId = response._scroll_id;
  try {
    while (response.hits.hits.length > 0) {
      for (const hit of response.hits.hits) yield [hit._id!, hit._version ?? 0];
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
  /** Up to 10 differences, when the checksums differ. */
  differences: { id: string; expected?: number; actual?: number }[];
}

/**
 * Compare an index with the expected (id, version) set: counts and checksums; on a
 * mismatch, a second pass lists the first differences so the failure can be explained.
 */
export async function verifyIndex(
  client: Client,
  index: string,
  expected: () => Iterable<[string, number]>,
  signal?: AbortSignal,
): Promise<Verification> {
  const want = createChecksum();
  for (const [id, version] of expected()) want.add(id, version);
  const have = createChecksum();
  for await (const [id, version] of readVersions(client, index, signal)) have.add(id, version);
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
    const expectedMap = new Map(expected());
    const seen = new Set<string>();
    for await (const [id, version] of readVersions(client, index, signal)) {
      seen.add(id);
      const wanted = expectedMap.get(id);
      if (wanted !== version && result.differences.length < 10)
        result.differences.push({ id, expected: wanted, actual: version });
    }
    for (const [id, version] of expectedMap) {
      if (result.differences.length >= 10) break;
      if (!seen.has(id)) result.differences.push({ id, expected: version });
    }
  }
  return result;
}
