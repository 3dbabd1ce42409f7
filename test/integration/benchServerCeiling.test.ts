import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { serverPublish } from '../../scripts/bench/serverCeiling.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

let nc: NatsConnection;
before(async () => {
  nc = await connect({ servers: NATS_URL });
});
after(async () => {
  await nc.close();
});

test('serverPublish counts only PubAcks: all land with their Nats-Msg-Id, error acks and no-stream replies fail', async () => {
  const jsm = await jetstreamManager(nc);
  const tag = randomBytes(4).toString('hex');
  const stream = `BENCH_SRV_TEST_${tag}`;
  await jsm.streams.add({ name: stream, subjects: [`bsrv-${tag}.>`], max_msg_size: 1024 });
  try {
    const messages = Array.from({ length: 2_500 }, (_, i) => ({
      subject: `bsrv-${tag}.e.${i % 7}`,
      bytes: new TextEncoder().encode(JSON.stringify({ i })),
      id: `m-${i}`,
    }));
    // A window smaller than the batch, so the publisher has to wait for acks.
    const ok = await serverPublish(nc, messages, 100);
    assert.deepEqual(ok, { acked: 2_500, failed: 0 });
    assert.equal((await jsm.streams.info(stream)).state.messages, 2_500);

    // Same ids again: the server deduplicates (and still acknowledges); nothing is stored twice.
    const again = await serverPublish(nc, messages.slice(0, 10), 100);
    assert.equal(again.acked, 10);
    assert.equal((await jsm.streams.info(stream)).state.messages, 2_500);

    // Too big for the stream: a JetStream error ack, counted as failed.
    const big = await serverPublish(nc, [
      { subject: `bsrv-${tag}.e.x`, bytes: new Uint8Array(4096), id: 'big' },
    ]);
    assert.equal(big.acked, 0);
    assert.equal(big.failed, 1);
    assert.match(big.firstError ?? '', /size|maximum/i);

    // No stream on the subject: no PubAck (a no-responders status or a timeout), failed.
    const none = await serverPublish(
      nc,
      [{ subject: `bsrv-none-${tag}.x`, bytes: new Uint8Array(1), id: 'n' }],
      10,
      1_000,
    );
    assert.deepEqual([none.acked, none.failed], [0, 1]);
  } finally {
    await jsm.streams.delete(stream);
  }
});
