import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { createContentLog } from '../../log/contentLog.ts';
import { sampleArticle } from '../../log/sampleEvents.ts';
import type { AppendOutcome, ReplayItem } from '../../log/types.ts';
import { TransientError } from '../../schemas/errors.ts';
import { createNames } from '../../schemas/names.ts';
import { eventually, uniqueNamespace } from '../support/env.ts';
import { privateNats } from '../support/privateNats.ts';

/**
 * Faults injected for real: a private nats-server (JetStream, its own store directory
 * and port) that the test kills with SIGKILL, so the shared server is never touched.
 */
describe('content log under faults (private nats-server)', () => {
  test('server killed during a pipelined append: every "appended" is stored, "not sent" never is, a retry completes', async () => {
    const server = await privateNats();
    const names = createNames(uniqueNamespace());
    try {
      await server.start();
      const log = createContentLog({ servers: server.url, names, requestTimeoutMs: 1_500 });
      await log.init();
      const events = Array.from({ length: 6_000 }, (_, i) => sampleArticle(`a-${i}`, { seed: i + 1 }));
      const appending = log.append(events.map((event) => ({ event })));
      // Let a part of the batch through, then pull the plug.
      await eventually(async () => {
        const { stats } = await appendProgress(server.url, names.stream);
        return stats > 300;
      });
      await server.kill();
      const started = Date.now();
      const stats = await appending;
      assert.ok(Date.now() - started < 10_000, 'append gives up within seconds once the server is gone');
      assert.ok(stats.appended > 0, 'some events were acknowledged before the kill');
      assert.ok(stats.failed > 0, 'the rest are reported failed');
      assert.equal(stats.appended + stats.failed, events.length);
      const notSent = stats.outcomes.filter(
        (o): o is Extract<AppendOutcome, { status: 'failed' }> =>
          o.status === 'failed' && /^not sent/.test(o.error.message),
      );
      assert.ok(notSent.length > 0, 'after the first transport failure, nothing more is sent');
      assert.ok(stats.outcomes.every((o) => o.status !== 'failed' || o.error instanceof TransientError));
      await log.close();

      // Same store directory: what the server acknowledged survived the kill.
      await server.start();
      const after = createContentLog({ servers: server.url, names });
      try {
        const stored = new Map<string, number>();
        for await (const item of after.replay()) {
          assert.equal(item.kind, 'event');
          if (item.kind === 'event') stored.set(item.stored.event.id, item.stored.seq);
        }
        for (const outcome of stats.outcomes) {
          if (outcome.status === 'appended') {
            assert.equal(
              stored.get(outcome.eventId),
              outcome.seq,
              `acknowledged ${outcome.eventId} is stored`,
            );
          }
        }
        for (const outcome of notSent)
          assert.equal(stored.has(outcome.eventId), false, 'a "not sent" event is not stored');
        // An in-flight publish may or may not have been stored: retrying everything that
        // failed is safe, and afterwards every event is in the log exactly once.
        const failedIds = new Set(stats.outcomes.filter((o) => o.status === 'failed').map((o) => o.eventId));
        const retry = await after.append(
          events.filter((e) => failedIds.has(e.id)).map((event) => ({ event })),
        );
        assert.equal(retry.failed, 0);
        assert.equal(retry.appended + retry.duplicates, failedIds.size);
        const head = await after.head();
        assert.equal(head.messages, events.length);
      } finally {
        await after.close();
      }
    } finally {
      await server.dispose();
    }
  });

  test('connection lost during a replay: the replay throws, it never looks complete', async () => {
    const server = await privateNats();
    const names = createNames(uniqueNamespace());
    try {
      await server.start();
      // No reconnects, so the loss is final and quick to observe.
      const nc = await connect({ servers: server.url, reconnect: false });
      const log = createContentLog({ nc, names, replayBatch: 64 });
      await log.init();
      await log.append(Array.from({ length: 3_000 }, (_, i) => ({ event: sampleArticle(`a-${i}`) })));
      const seen: ReplayItem[] = [];
      await assert.rejects(
        (async () => {
          for await (const item of log.replay()) {
            seen.push(item);
            if (seen.length === 100) await server.kill();
          }
        })(),
        (err: Error) => {
          assert.ok(err instanceof TransientError, `${err.name}: ${err.message}`);
          assert.match(err.message, /interrupted/);
          return true;
        },
      );
      assert.ok(seen.length < 3_000);
      await log.close();
      if (!nc.isClosed()) await nc.close();
    } finally {
      await server.dispose();
    }
  });
});

/** How many messages the stream holds right now, over a separate connection. */
async function appendProgress(url: string, stream: string): Promise<{ stats: number }> {
  const nc = await connect({ servers: url });
  try {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    return { stats: info.state.messages };
  } finally {
    await nc.close();
  }
}
