import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withContentLog, withContentLogApart } from '../../scripts/commands/withContentLog.ts';
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
