import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withContentLog, withContentLogApart } from '../../scripts/commands/withContentLog.ts';
import { createEsClient } from '../../scripts/runtime.ts';
import { cleanupNamespace, testConfig } from '../support/env.ts';
import { testContext } from '../support/search.ts';

test('projector commands read the log over a connection of its own; other commands share one', async () => {
  const config = testConfig();
  const ctx = testContext(config);
  try {
    // Closing the other connection (as a stalled one would be, for the log) leaves the log working.
    const head = await withContentLogApart(ctx, async (log, nc) => {
      await log.init();
      await nc.close();
      return log.head();
    });
    assert.equal(head.lastSeq, 0);
    await assert.rejects(
      withContentLog(ctx, async (log, nc) => {
        await nc.close();
        return log.head();
      }),
      /closed/i,
    );
  } finally {
    await cleanupNamespace(config);
  }
});

test('the Elasticsearch client keeps its connection across closing points in time (DELETE with a body)', async () => {
  const config = testConfig();
  const es = createEsClient(config);
  const index = `${config.namespace}-pit-connections`;
  const opened = async () => {
    const stats = await es.nodes.stats({ metric: 'http' });
    return Object.values(stats.nodes).reduce((sum, node) => sum + (node.http?.total_opened ?? 0), 0);
  };
  try {
    await es.indices.create({ index });
    const before = await opened();
    for (let i = 0; i < 20; i++) {
      const { id } = await es.openPointInTime({ index, keep_alive: '10s' });
      await es.closePointInTime({ id });
    }
    // undici alone drops the socket after every close: 20 new connections.
    assert.ok((await opened()) - before <= 1, `${(await opened()) - before} connections opened`);
  } finally {
    await es.indices.delete({ index, ignore_unavailable: true });
    await es.close();
  }
});
