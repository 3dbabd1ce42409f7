import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createPublisher } from '../../log/contentLog/publisher.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { sampleArticle } from '../../log/sampleEvents.ts';
import { createNames } from '../../schemas/names.ts';
import { connectNats } from '../../scripts/runtime.ts';
import { eventually, testConfig, uniqueNamespace } from '../support/env.ts';
import { privateNats } from '../support/privateNats.ts';

/** How many messages the stream holds right now, over a separate connection. */
async function storedCount(url: string, stream: string): Promise<number> {
  const nc = await connect({ servers: url, reconnect: false });
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

/** What a publish came to, comparable between `js.publish` and the publisher. */
type Answer = { seq: number; duplicate: boolean } | { errCode: number; status: number };

async function answer(publish: () => Promise<{ seq: number; duplicate: boolean }>): Promise<Answer> {
  try {
    const ack = await publish();
    return { seq: ack.seq, duplicate: ack.duplicate };
  } catch (err) {
    assert.ok(err instanceof JetStreamApiError, `${(err as Error).name}: ${(err as Error).message}`);
    return { errCode: err.code, status: err.status };
  }
}

describe('content log publisher (core NATS publishes, one reply inbox)', () => {
  test('server killed and restarted with 1,000 publishes awaiting acks: afterwards every event is stored exactly once', async () => {
    const server = await privateNats();
    const names = createNames(uniqueNamespace());
    try {
      await server.start();
      const log = createContentLog({
        servers: server.url,
        names,
        publishWindow: 1_000,
        requestTimeoutMs: 2_000,
      });
      await log.init();
      const events = Array.from({ length: 50_000 }, (_, i) => sampleArticle(`a-${i}`, { seed: i + 1 }));
      // A watcher sees the publishes as the server routes them and pulls the plug at the 500th.
      const watcher = await connect({ servers: server.url, reconnect: false });
      let seen = 0;
      let killing: Promise<void> | undefined;
      watcher.subscribe(names.allSubjects, {
        callback: () => {
          if (++seen === 500) killing = server.kill();
        },
      });
      await watcher.flush();
      let settled = false;
      const appending = log.append(events.map((event) => ({ event })));
      appending.finally(() => {
        settled = true;
      });
      await eventually(() => killing !== undefined, { timeout: 20_000 });
      await killing;
      assert.equal(settled, false, 'the append was still under way when the server died');
      assert.ok((await storedCount(server.url, names.stream).catch(() => -1)) === -1, 'the server is gone');
      await sleep(500);
      await server.start();
      const stats = await appending;
      assert.equal(stats.failed, 0, JSON.stringify(stats.outcomes.find((o) => o.status === 'failed')));
      assert.equal(stats.appended + stats.duplicates, events.length);
      await log.close();

      const after = createContentLog({ servers: server.url, names });
      try {
        const stored = new Map<string, number>();
        for await (const item of after.replay()) {
          assert.equal(item.kind, 'event');
          if (item.kind !== 'event') continue;
          assert.equal(stored.has(item.stored.event.id), false, `${item.stored.event.id} is stored once`);
          stored.set(item.stored.event.id, item.stored.seq);
        }
        assert.equal(stored.size, events.length, 'every event is stored');
        for (const [i, outcome] of stats.outcomes.entries()) {
          assert.equal(outcome.eventId, events[i]!.id);
          assert.ok(outcome.status === 'appended' || outcome.status === 'duplicate');
          assert.equal(
            stored.get(outcome.eventId),
            outcome.seq,
            `the ack of ${outcome.eventId} names its sequence`,
          );
        }
      } finally {
        await after.close();
      }
    } finally {
      await server.dispose();
    }
  });

  test('answers as js.publish does: duplicates, expected-last-subject-sequence conflicts, too large', async () => {
    const config = testConfig();
    const names = createNames(config.namespace);
    const nc: NatsConnection = await connectNats(config);
    const log = createContentLog({ nc, names });
    try {
      await log.init();
      const js = jetstream(nc);
      const publisher = await createPublisher(nc, { timeoutMs: 5_000 });
      const bytes = new TextEncoder().encode('{}');
      const big = new Uint8Array((nc.info?.max_payload ?? 1 << 20) - 200);
      // Each step on two subjects: one through js.publish, one through the publisher.
      const steps: { msgId: string; expect?: number; data?: Uint8Array }[] = [
        { msgId: 'm1' },
        { msgId: 'm1' }, // duplicate of the first
        { msgId: 'm2', expect: 5 }, // wrong expected last subject sequence
        { msgId: 'm3', expect: 0 }, // "must be new" on an entity that has a message
        { msgId: 'm4', data: big }, // larger than the stream allows with its headers
      ];
      const viaJs: Answer[] = [];
      const viaPublisher: Answer[] = [];
      for (const step of steps) {
        const data = step.data ?? bytes;
        viaJs.push(
          await answer(() =>
            js.publish(names.subject('byline', 'js'), data, {
              msgID: `js-${step.msgId}`,
              ...(step.expect !== undefined ? { expect: { lastSubjectSequence: step.expect } } : {}),
            }),
          ),
        );
        viaPublisher.push(
          await answer(() =>
            publisher.publish({
              subject: names.subject('byline', 'pub'),
              bytes: data,
              msgId: `pub-${step.msgId}`,
              expectedLastSubjectSequence: step.expect,
            }),
          ),
        );
      }
      // Sequences differ by one (the two subjects interleave); everything else is equal.
      const shape = (a: Answer) => ('seq' in a ? { duplicate: a.duplicate } : a);
      assert.deepEqual(viaPublisher.map(shape), viaJs.map(shape));
      assert.deepEqual(viaJs.map(shape).slice(0, 2), [{ duplicate: false }, { duplicate: true }]);
      assert.equal((viaJs[2] as { errCode: number }).errCode, 10071);
      assert.equal((viaPublisher[1] as { seq: number }).seq, (viaPublisher[0] as { seq: number }).seq);
      publisher.close();
      await assert.rejects(publisher.publish({ subject: names.subject('byline', 'x'), bytes, msgId: 'z' }), {
        name: 'ClosedConnectionError',
      });
    } finally {
      await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => {});
      await log.close();
      await nc.close();
    }
  });
});
