import { createInbox, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { WireMessage } from './rawPublish.ts';

/** Outstanding acks of the server ceiling unless told otherwise (what `nats bench js pub` keeps). */
export const SERVER_WINDOW = 1_000;

/** What the server acknowledged of one `serverPublish`: acked messages, failed ones, the first failure. */
export interface ServerPublishResult {
  acked: number;
  failed: number;
  firstError?: string;
}

/** Why an ack reply is not a success (a JetStream API error, a status such as 503), or undefined when it is. */
function ackProblem(m: Msg): string | undefined {
  const code = m.headers?.code ?? 0;
  if (code >= 300 || m.data.byteLength === 0) return `status ${code} ${m.headers?.description ?? ''}`.trim();
  try {
    const ack = m.json<{ stream?: string; seq?: number; error?: { code: number; description: string } }>();
    if (ack.error) return `${ack.error.code} ${ack.error.description}`;
    if (typeof ack.seq !== 'number') return `not a PubAck: ${m.string().slice(0, 120)}`;
    return undefined;
  } catch {
    return `not JSON: ${m.string().slice(0, 120)}`;
  }
}

/**
 * The server's ceiling of appending: the same bytes and headers (`Nats-Msg-Id`) as core
 * NATS publishes on `nc`, each with a reply subject under ONE wildcard inbox
 * subscription, at most `window` unacknowledged (wait when full), counting only
 * messages the server acknowledged with a PubAck. What `nats bench js pub` does: it
 * skips nats.js's per-request machinery (a subscription mux entry, timers and `Error`
 * objects per publish), so it measures what the server can acknowledge. An ack with an
 * error, a status reply or no ack within `timeoutMs` counts as failed.
 */
export async function serverPublish(
  nc: NatsConnection,
  messages: readonly WireMessage[],
  window = SERVER_WINDOW,
  timeoutMs = 10_000,
): Promise<ServerPublishResult> {
  const result: ServerPublishResult = { acked: 0, failed: 0 };
  const fail = (why: string) => {
    result.failed++;
    result.firstError ??= why;
  };
  const prefix = createInbox();
  // Reply token → deadline (ms since epoch).
  const pending = new Map<string, number>();
  let wake: (() => void) | undefined;
  const settled = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const sub = nc.subscribe(`${prefix}.*`, {
    callback: (err, m) => {
      if (err) return;
      const token = m.subject.slice(prefix.length + 1);
      if (!pending.delete(token)) return; // late ack of a message already timed out
      const problem = ackProblem(m);
      if (problem) fail(problem);
      else result.acked++;
      settled();
    },
  });
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [token, deadline] of pending) {
        if (deadline > now) break; // Map order is publish order, deadlines ascend
        pending.delete(token);
        fail(`no ack within ${timeoutMs} ms`);
      }
      settled();
    },
    Math.min(250, timeoutMs),
  );
  const room = (limit: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (pending.size < limit) resolve();
        else wake = check;
      };
      check();
    });
  try {
    // Make sure the server knows the inbox subscription before any ack is sent to it.
    await nc.flush();
    for (let i = 0; i < messages.length; i++) {
      if (pending.size >= window) await room(window);
      const m = messages[i]!;
      const h = headers();
      h.set('Nats-Msg-Id', m.id);
      const token = i.toString(36);
      pending.set(token, Date.now() + timeoutMs);
      nc.publish(m.subject, m.bytes, { headers: h, reply: `${prefix}.${token}` });
    }
    await room(1);
  } finally {
    clearInterval(sweep);
    sub.unsubscribe();
  }
  return result;
}
