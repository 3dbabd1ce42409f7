import { JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  createInbox,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import type { Logger } from 'pino';

/** One JetStream publish as the content log sends it: already-encoded bytes on a subject. */
export interface PublishRequest {
  subject: string;
  bytes: Uint8Array;
  /** `Nats-Msg-Id`: the server's duplicate detection; every resend carries the same. */
  msgId: string;
  /** `Nats-Expected-Last-Subject-Sequence`, when set. */
  expectedLastSubjectSequence?: number;
}

/** What the stream answered: where the message is stored, and whether it was already. */
export interface PublishAck {
  seq: number;
  duplicate: boolean;
}

/**
 * JetStream publishes over the core connection: what `js.publish` does, without its
 * per-request machinery. Rejects with the errors `js.publish` rejects with
 * (`JetStreamApiError`, `TimeoutError`, `NoRespondersError`, `ClosedConnectionError`),
 * so callers map them as before.
 */
export interface Publisher {
  publish(request: PublishRequest): Promise<PublishAck>;
  /** Awaiting publishes. */
  readonly pending: number;
  /** Stop: unsubscribe, and reject what is still awaited with `ClosedConnectionError`. Idempotent. */
  close(): void;
}

export interface PublisherOptions {
  /** How long one attempt waits for its acknowledgement. */
  timeoutMs: number;
  /** Sends of one message (the first included) before it fails; default 3. */
  attempts?: number;
  log?: Logger;
}

interface Pending {
  request: PublishRequest;
  headers: MsgHdrs;
  reply: string;
  /** When this attempt gives up waiting (ms since epoch). */
  deadline: number;
  attempt: number;
  /** Waiting to be sent again after a 503 (not a new attempt), rather than for an ack. */
  backoff: boolean;
  resolve(ack: PublishAck): void;
  reject(err: Error): void;
}

interface PubAckJson {
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; err_code: number; description: string };
}

/**
 * After a 503 (no stream answered) within `timeoutMs` of a reconnect, the wait before
 * sending again: a restarted server answers 503 until JetStream has recovered its
 * streams. Any other 503 fails at once, as with `js.publish` (no stream stores the subject).
 */
const NO_RESPONDERS_BACKOFF_MS = 250;

/** The answer on a reply subject: an ack, a failure, or `retry` (a 503, which a restarting server gives too). */
function readAck(m: Msg, subject: string): PublishAck | Error | 'retry' {
  const code = m.headers?.code ?? 0;
  if (code === 503) return 'retry';
  if (code >= 300 || m.data.byteLength === 0)
    return new RequestError(`status ${code} ${m.headers?.description ?? ''}`.trim());
  let ack: PubAckJson;
  try {
    ack = JSON.parse(m.string()) as PubAckJson;
  } catch {
    return new RequestError(`not a PubAck on ${subject}: ${m.string().slice(0, 120)}`);
  }
  if (ack.error) return new JetStreamApiError(ack.error);
  if (typeof ack.seq !== 'number') return new RequestError(`not a PubAck: ${m.string().slice(0, 120)}`);
  return { seq: ack.seq, duplicate: ack.duplicate === true };
}

/**
 * A publisher on `nc`: each publish is a core NATS message with headers whose reply
 * subject is a token under ONE wildcard inbox subscription; awaited acks are kept by
 * token. One sweep timer (not one per message) finds the attempts past their deadline
 * and sends them again with the same `Nats-Msg-Id` (the server answers `duplicate` if
 * the first one was stored), up to `attempts`; after a reconnect every awaited message
 * is sent again at once (acks sent to the old connection are lost). A message is
 * settled once: the first answer on its token wins, later ones are ignored.
 *
 * Why: `js.publish` spends ~100 µs of CPU per message (a mux entry, a timer and two
 * `Error` objects per request); this spends a few, so the server's acknowledgements,
 * not the client, bound appends. The caller bounds how many are awaited at once.
 */
export async function createPublisher(nc: NatsConnection, options: PublisherOptions): Promise<Publisher> {
  const { timeoutMs, log } = options;
  const attempts = Math.max(1, options.attempts ?? 3);
  const prefix = createInbox();
  const awaited = new Map<string, Pending>();
  let next = 0;
  let closed = false;
  let reconnectedAt = Number.NEGATIVE_INFINITY;

  const fail = (p: Pending, err: Error) => {
    awaited.delete(p.reply);
    p.reject(err);
  };
  const send = (p: Pending) => {
    p.deadline = Date.now() + timeoutMs;
    p.backoff = false;
    try {
      nc.publish(p.request.subject, p.request.bytes, { headers: p.headers, reply: p.reply });
    } catch (err) {
      fail(p, err as Error);
    }
  };
  /** Send again if attempts remain (true), else leave it to the caller to fail it. */
  const again = (p: Pending, why: string): boolean => {
    if (p.attempt >= attempts) return false;
    p.attempt++;
    log?.debug({ msgId: p.request.msgId, attempt: p.attempt, why }, 'publishing again');
    send(p);
    return true;
  };

  const sub = nc.subscribe(`${prefix}.*`, {
    callback: (err, m) => {
      if (err) return;
      const p = awaited.get(m.subject);
      if (!p) return; // an ack for a message already settled
      const answer = readAck(m, p.request.subject);
      if (answer === 'retry') {
        if (Date.now() - reconnectedAt > timeoutMs) fail(p, new NoRespondersError(p.request.subject));
        else {
          // The sweep sends it again after a short wait (the same attempt).
          p.deadline = Date.now() + NO_RESPONDERS_BACKOFF_MS;
          p.backoff = true;
        }
        return;
      }
      awaited.delete(m.subject);
      if (answer instanceof Error) p.reject(answer);
      else p.resolve(answer);
    },
  });
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const p of awaited.values()) {
        if (p.deadline > now) continue;
        if (p.backoff) send(p);
        else if (!again(p, 'no ack in time')) fail(p, new TimeoutError());
      }
    },
    Math.max(20, Math.min(250, timeoutMs / 4)),
  );
  sweep.unref();
  const statuses = nc.status();
  const watchStatus = async () => {
    for await (const status of statuses) {
      if (closed) return;
      if (status.type !== 'reconnect') continue;
      reconnectedAt = Date.now();
      // Not counted as an attempt: the acks of what was sent before went to the old connection.
      log?.info({ awaited: awaited.size }, 'reconnected: publishing the unacknowledged messages again');
      for (const p of awaited.values()) send(p);
    }
  };
  watchStatus().catch(() => {});

  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(sweep);
    (statuses as { stop?: () => void }).stop?.();
    if (!nc.isClosed()) sub.unsubscribe();
    for (const p of awaited.values()) fail(p, new ClosedConnectionError());
  };
  nc.closed().then(close, close);
  // The server must know the inbox subscription before the first ack is sent to it.
  await nc.flush();

  return {
    get pending() {
      return awaited.size;
    },
    close,
    publish(request) {
      if (closed) return Promise.reject(new ClosedConnectionError());
      return new Promise<PublishAck>((resolve, reject) => {
        const h = headers();
        h.set('Nats-Msg-Id', request.msgId);
        if (request.expectedLastSubjectSequence !== undefined)
          h.set('Nats-Expected-Last-Subject-Sequence', String(request.expectedLastSubjectSequence));
        const reply = `${prefix}.${(next++).toString(36)}`;
        const p: Pending = {
          request,
          headers: h,
          reply,
          deadline: 0,
          attempt: 1,
          backoff: false,
          resolve,
          reject,
        };
        awaited.set(reply, p);
        send(p);
      });
    },
  };
}
