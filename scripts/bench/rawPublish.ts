import type { JetStreamClient } from '@nats-io/jetstream';

/** One message as the ceiling publishes it: the content log's subject, bytes and `Nats-Msg-Id`. */
export interface WireMessage {
  subject: string;
  bytes: Uint8Array;
  id: string;
}

/**
 * The ceiling of appending: pipelined `js.publish` with the same `Nats-Msg-Id`, at most
 * `window` in flight, awaited in order.
 */
export async function rawPublish(
  js: JetStreamClient,
  messages: readonly WireMessage[],
  window: number,
): Promise<void> {
  const inflight: Promise<unknown>[] = [];
  let head = 0;
  for (const m of messages) {
    if (inflight.length - head >= window) await inflight[head++];
    inflight.push(js.publish(m.subject, m.bytes, { msgID: m.id }));
  }
  for (let i = head; i < inflight.length; i++) await inflight[i];
}
