import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBylineNameCache } from '../../search/bylineNameCache.ts';

test('byline names: fetched once, then from the cache until they expire; failures are not cached', async () => {
  const asked: string[][] = [];
  const fetch = async (ids: string[]) => {
    asked.push(ids);
    return new Map(ids.filter((id) => id !== 'unknown').map((id) => [id, `Name of ${id}`]));
  };
  const cache = createBylineNameCache({ ttlMs: 50 });
  assert.deepEqual(
    [...(await cache.names(['b1', 'b2', 'unknown'], fetch))],
    [
      ['b1', 'Name of b1'],
      ['b2', 'Name of b2'],
    ],
  );
  assert.deepEqual([...(await cache.names(['b2', 'b1'], fetch))].sort(), [
    ['b1', 'Name of b1'],
    ['b2', 'Name of b2'],
  ]);
  await cache.names(['b1', 'unknown'], fetch);
  assert.deepEqual(asked, [['b1', 'b2', 'unknown'], ['unknown']]);
  await new Promise((resolve) => setTimeout(resolve, 60));
  await cache.names(['b1'], fetch);
  assert.deepEqual(asked.at(-1), ['b1']);
});
