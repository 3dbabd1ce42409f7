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
  /** When to send this attempt again after a 503 (ms since epoch; 0: not waiting to). */
  retryAt: number;
  resolve(ack: PublishAck): void;
  reject(err: Error): void;
}

interface PubAckJson {
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; err_code: number; description: string };
}

/**
 * After a 503 (no stream answered) within `timeoutMs` of a reconnect, or on a clustered
 * server (a stream electing its leader after a node died), the wait before sending
 * again: a restarted server answers 503 until JetStream has recovered its streams. Any
 * other 503 fails at once, as with `js.publish` (no stream stores the subject).
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

/** A publisher's state, shared by the functions below (one per publisher). */
interface PublisherState {
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly log: Logger | undefined;
  /** Awaited acks by reply subject, in the order first sent. */
  readonly awaited: Map<string, Pending>;
  next: number;
  closed: boolean;
  reconnectedAt: number;
}

function fail(state: PublisherState, p: Pending, err: Error): void {
  state.awaited.delete(p.reply);
  p.reject(err);
}

/** Start an attempt: it waits `timeoutMs` for its ack from now. */
function send(state: PublisherState, p: Pending): void {
  p.deadline = Date.now() + state.timeoutMs;
  transmit(state, p);
}

/** Put the message on the wire, within its current attempt (its deadline unchanged). */
function transmit(state: PublisherState, p: Pending): void {
  p.retryAt = 0;
  try {
    state.nc.publish(p.request.subject, p.request.bytes, { headers: p.headers, reply: p.reply });
  } catch (err) {
    fail(state, p, err as Error);
  }
}

/** Send again if attempts remain (true); otherwise the caller fails it. */
function again(state: PublisherState, p: Pending, why: string): boolean {
  if (p.attempt >= state.attempts) return false;
  p.attempt++;
  state.log?.debug({ msgId: p.request.msgId, attempt: p.attempt, why }, 'publishing again');
  send(state, p);
  return true;
}

/** An answer on the inbox: settle its message once, or (a 503 right after a reconnect) wait and send again. */
function onAnswer(state: PublisherState, m: Msg): void {
  const p = state.awaited.get(m.subject);
  if (!p) return; // an ack for a message already settled
  const answer = readAck(m, p.request.subject);
  if (answer === 'retry') {
    const now = Date.now();
    // On a cluster a 503 also means the stream is electing a leader (a node died): wait
    // within the attempts like after a reconnect. On one server it means no stream.
    const electing = state.nc.info?.cluster !== undefined;
    if (!electing && now - state.reconnectedAt > state.timeoutMs)
      fail(state, p, new NoRespondersError(p.request.subject));
    // Within the same attempt: the sweep sends it again after a short wait.
    else p.retryAt = now + NO_RESPONDERS_BACKOFF_MS;
    return;
  }
  state.awaited.delete(m.subject);
  if (answer instanceof Error) p.reject(answer);
  else p.resolve(answer);
}

/**
 * The sweep timer's work: send again what waited past its deadline (a new attempt) or
 * its 503 backoff (the same attempt), fail what has no attempts left. So every send of
 * a message falls within `attempts × timeoutMs` of its first, which `publisher(ctx)`
 * keeps inside the stream's duplicate window: a resend of a stored message is always
 * recognised as a duplicate.
 */
function sweep(state: PublisherState): void {
  const now = Date.now();
  for (const p of state.awaited.values()) {
    if (p.deadline <= now) {
      if (!again(state, p, 'no ack in time')) fail(state, p, new TimeoutError());
    } else if (p.retryAt !== 0 && p.retryAt <= now) transmit(state, p);
  }
}

/** After each reconnect, send every awaited message again: its ack went to the old connection. */
async function resendOnReconnect(state: PublisherState, statuses: AsyncIterable<{ type: string }>) {
  for await (const status of statuses) {
    if (state.closed) return;
    if (status.type !== 'reconnect') continue;
    state.reconnectedAt = Date.now();
    state.log?.info(
      { awaited: state.awaited.size },
      'reconnected: publishing the unacknowledged messages again',
    );
    // Within the same attempt (its deadline unchanged).
    for (const p of state.awaited.values()) transmit(state, p);
  }
}

function publishOne(state: PublisherState, request: PublishRequest): Promise<PublishAck> {
  if (state.closed) return Promise.reject(new ClosedConnectionError());
  return new Promise<PublishAck>((resolve, reject) => {
    const h = headers();
    h.set('Nats-Msg-Id', request.msgId);
    if (request.expectedLastSubjectSequence !== undefined)
      h.set('Nats-Expected-Last-Subject-Sequence', String(request.expectedLastSubjectSequence));
    const reply = `${state.prefix}.${(state.next++).toString(36)}`;
    const p: Pending = {
      request,
      headers: h,
      reply,
      deadline: 0,
      attempt: 1,
      retryAt: 0,
      resolve,
      reject,
    };
    state.awaited.set(reply, p);
    send(state, p);
  });
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
  const state: PublisherState = {
    nc,
    prefix: createInbox(),
    timeoutMs: options.timeoutMs,
    attempts: Math.max(1, options.attempts ?? 3),
    log: options.log,
    awaited: new Map(),
    next: 0,
    closed: false,
    reconnectedAt: Number.NEGATIVE_INFINITY,
  };
  const sub = nc.subscribe(`${state.prefix}.*`, {
    callback: (err, m) => {
      if (!err) onAnswer(state, m);
    },
  });
  const timer = setInterval(() => sweep(state), Math.max(20, Math.min(250, state.timeoutMs / 4)));
  timer.unref();
  const statuses = nc.status();
  resendOnReconnect(state, statuses).catch(() => {});

  const close = () => {
    if (state.closed) return;
    state.closed = true;
    clearInterval(timer);
    (statuses as { stop?: () => void }).stop?.();
    if (!nc.isClosed()) sub.unsubscribe();
    for (const p of state.awaited.values()) fail(state, p, new ClosedConnectionError());
  };
  nc.closed().then(close, close);
  // No flush needed before the first publish: the server reads a connection's protocol in
  // order, so it knows the inbox subscription before any message asking for an ack there
  // (and a flush would wait out a reconnect before the first append could even fail).

  return {
    get pending() {
      return state.awaited.size;
    },
    close,
    publish: (request) => publishOne(state, request),
  };
}
