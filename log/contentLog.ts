import { readFile } from 'node:fs/promises';
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type OrderedConsumerOptions,
  type PubAck,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  connect,
  credsAuthenticator,
  DrainingConnectionError,
  type NatsConnection,
  type NodeConnectionOptions,
  NoRespondersError,
  nanos,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { validateEvent } from '../schemas/catalog.ts';
import {
  ConcurrencyError,
  ConfigError,
  InvalidEventError,
  InvalidRecordError,
  PresslogError,
  TransientError,
} from '../schemas/errors.ts';
import { type EntityType, isEntityType, isValidId, type Names, parseSubject } from '../schemas/names.ts';
import { type EntityState, foldEntity } from '../schemas/state.ts';
import { decodeMessage, encodeEvent, HEADER_RESERVE_BYTES, oversizeError } from './codec.ts';
import type {
  AppendItem,
  AppendOutcome,
  AppendStats,
  AsOfBasis,
  ContentLog,
  DriftItem,
  EntityLastSeq,
  InitReport,
  LogHead,
  ReadEntityOptions,
  ReplayItem,
  ReplayOptions,
  StoredEvent,
  UnreadableEvent,
} from './types.ts';

/** Settings shared by both ways of giving the log its connection. */
export interface ContentLogSettings {
  names: Names;
  /** JetStream duplicate window for `Nats-Msg-Id` de-duplication (default 2 minutes). */
  duplicateWindowMs?: number;
  /** Replicas of the stream when `init` creates it (default 1). Only checked for drift when set. */
  replicas?: number;
  /** Publishes in flight at once during `append` (default 512). */
  publishWindow?: number;
  /** Messages a replay holds client-side at most (default 512): the flow-control bound. */
  replayBatch?: number;
  /** Timeout of one JetStream request, a publish ack included (default 10 s). */
  requestTimeoutMs?: number;
  logger?: Logger;
}

/** Use a connection the caller owns; the log never closes it. */
export interface InjectedConnection {
  nc: NatsConnection;
  servers?: never;
}

/** Let the log connect (lazily, on first use) and close the connection in `close()`. */
export interface OwnedConnection {
  nc?: never;
  /** One URL, a comma-separated list, or an array (`nats://127.0.0.1:4222`). */
  servers: string | string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Path of a NATS `.creds` file. */
  credsFile?: string;
  /** How long the first connection attempt may take before failing (default 5 s). */
  connectTimeoutMs?: number;
  /** Connection name shown by the server's monitoring. */
  name?: string;
}

export type ContentLogOptions = ContentLogSettings & (InjectedConnection | OwnedConnection);

const WRONG_LAST_SEQUENCE = 10071;
const WRONG_LAST_SEQUENCE_UNKNOWN = 10164;
const MESSAGE_TOO_LARGE = 10054;
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;

function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND;
}

/** Errors after which a request may succeed later: the connection, not the request, failed. */
function isTransportError(err: unknown): boolean {
  return (
    err instanceof TimeoutError ||
    err instanceof ClosedConnectionError ||
    err instanceof ConnectionError ||
    err instanceof DrainingConnectionError ||
    err instanceof RequestError ||
    err instanceof NoRespondersError
  );
}

/**
 * nats.js turns "no responders" on a JetStream request into JetStreamNotEnabled (not
 * exported from the public module): for a publish it means no stream stores the subject.
 */
function isNoResponders(err: unknown): boolean {
  if (err instanceof NoRespondersError) return true;
  if (err instanceof RequestError && err.isNoResponders()) return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return (
    (err as Error | null)?.name === 'JetStreamNotEnabled' ||
    (cause !== undefined && cause !== err && isNoResponders(cause))
  );
}

function parseServerTime(value: string | undefined): Date | undefined {
  if (!value || value.startsWith('0001-')) return undefined;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** A settled append: the outcome plus whether later items of the batch should not be sent at all. */
interface Settled {
  outcome: AppendOutcome;
  stop?: Error;
}

/**
 * Create the content log: the event store over one JetStream stream that ingest,
 * image workers and projectors share. Pass either an open connection (`nc`, never
 * closed by the log) or connection settings (`servers`, credentials: the log connects
 * on first use and closes in `close()`).
 *
 * Append guarantees (see also README "Guarantees"):
 * - Events are validated (current schema version only) and size-checked before any
 *   byte is sent; an invalid or oversized event is reported `invalid`, never published.
 * - A batch is published pipelined in batch order (up to `publishWindow` in flight), so
 *   the stream stores the appended events of one batch in that order.
 * - Per entity, a batch is appended as a prefix: an item whose entity already had an
 *   item earlier in the batch is sent only after that one was acknowledged, and is not
 *   sent if that one was not appended (reported `conflict`, or `failed` if the earlier
 *   one failed). Its `expectedLastSeq`, when set, is replaced by the earlier item's
 *   acknowledged sequence: "right after my previous event", which the caller cannot
 *   know in advance.
 * - After a transport failure (timeout, connection lost) or an abort no further item is
 *   sent; those are reported `failed` as not sent. An item whose publish timed out may
 *   still have been stored: retrying it is safe within the duplicate window.
 */
export function createContentLog(options: ContentLogOptions): ContentLog {
  const { names } = options;
  const stream = names.stream;
  const duplicateWindowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
  const publishWindow = Math.max(1, options.publishWindow ?? 512);
  const replayBatch = Math.max(1, options.replayBatch ?? 512);
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const log = options.logger?.child({ component: 'content-log', stream });

  interface Clients {
    nc: NatsConnection;
    js: JetStreamClient;
    jsm: JetStreamManager;
  }
  let opening: Promise<Clients> | undefined;
  let closing: Promise<void> | undefined;
  /** Stops every scan in progress; `close()` calls them so no consumer outlives the log. */
  const activeScans = new Set<() => void>();
  /**
   * Whether direct gets work on this stream (`allow_direct`), learned from the stream
   * info before the first one: on 2.9 a direct get to a stream without it times out
   * rather than failing fast.
   */
  let directGet: boolean | undefined;

  async function open(): Promise<Clients> {
    let nc: NatsConnection;
    if (options.nc) {
      nc = options.nc;
    } else {
      const servers = Array.isArray(options.servers)
        ? options.servers
        : options.servers.split(',').map((s) => s.trim());
      const connectOptions: NodeConnectionOptions = {
        servers,
        user: options.user,
        pass: options.pass,
        token: options.token,
        timeout: options.connectTimeoutMs ?? 5_000,
        name: options.name ?? 'presslog-content-log',
      };
      if (options.credsFile)
        connectOptions.authenticator = credsAuthenticator(await readFile(options.credsFile));
      try {
        nc = await connect(connectOptions);
      } catch (err) {
        throw new TransientError(
          `cannot connect to NATS at ${servers.join(',')}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: requestTimeoutMs });
      const js = jetstream(nc, { timeout: requestTimeoutMs });
      return { nc, js, jsm };
    } catch (err) {
      // Release what we opened before failing (the injected connection is the caller's).
      if (!options.nc) await nc.close().catch(() => {});
      if ((err as Error).name === 'JetStreamNotEnabled') {
        throw new ConfigError(
          'NATS_URL',
          `JetStream is not enabled on this server: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (isTransportError(err)) {
        throw new TransientError(`NATS did not answer a JetStream request: ${(err as Error).message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  function clients(): Promise<Clients> {
    if (closing) return Promise.reject(new PresslogError('the content log is closed'));
    if (!opening) {
      opening = open();
      // A failed connect may be retried by the next call.
      opening.catch(() => {
        opening = undefined;
      });
    }
    return opening;
  }

  function streamMissing(err: unknown): ConfigError {
    return new ConfigError(stream, `stream not found: run \`presslog init\` first`, { cause: err });
  }

  function wrapRequestError(what: string, err: unknown): Error {
    if (isStreamNotFound(err)) return streamMissing(err);
    if (isTransportError(err))
      return new TransientError(`${what}: ${(err as Error).message}`, { cause: err });
    return err as Error;
  }

  function desiredConfig(): Partial<StreamConfig> & { name: string } {
    return {
      name: stream,
      subjects: [names.allSubjects],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_msgs: -1,
      max_bytes: -1,
      max_age: 0,
      max_msgs_per_subject: -1,
      max_msg_size: -1,
      max_consumers: -1,
      discard: DiscardPolicy.Old,
      num_replicas: options.replicas ?? 1,
      duplicate_window: nanos(duplicateWindowMs),
      allow_direct: true,
      deny_delete: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
      sealed: false,
    };
  }

  /** The settings presslog depends on, compared field by field; anything else is the operator's business. */
  function driftOf(actual: StreamConfig): DriftItem[] {
    const want = desiredConfig();
    const drift: DriftItem[] = [];
    const check = (field: string, expected: unknown, value: unknown) => {
      if (JSON.stringify(expected) !== JSON.stringify(value)) drift.push({ field, expected, actual: value });
    };
    check('subjects', want.subjects, actual.subjects);
    check('retention', want.retention, actual.retention);
    check('storage', want.storage, actual.storage);
    for (const field of ['max_msgs', 'max_bytes', 'max_msgs_per_subject', 'max_msg_size'] as const) {
      // Absent or 0 would also mean "unlimited" on some fields, but the server always reports -1.
      check(field, -1, actual[field] ?? -1);
    }
    check('max_age', 0, actual.max_age ?? 0);
    check('duplicate_window', want.duplicate_window, actual.duplicate_window);
    check('deny_delete', true, actual.deny_delete ?? false);
    check('deny_purge', true, actual.deny_purge ?? false);
    check('allow_rollup_hdrs', false, actual.allow_rollup_hdrs ?? false);
    check('allow_direct', true, actual.allow_direct ?? false);
    check('sealed', false, actual.sealed ?? false);
    // Per-message TTLs (server 2.11+) would let events expire: history must not.
    const ttl = (actual as { allow_msg_ttl?: boolean }).allow_msg_ttl;
    if (ttl) check('allow_msg_ttl', false, ttl);
    if (actual.mirror) check('mirror', undefined, actual.mirror);
    if (options.replicas !== undefined) check('num_replicas', options.replicas, actual.num_replicas);
    return drift;
  }

  async function init(): Promise<InitReport> {
    const { jsm } = await clients();
    let info: StreamInfo | undefined;
    try {
      info = await jsm.streams.info(stream);
    } catch (err) {
      if (!isStreamNotFound(err)) throw wrapRequestError(`stream info ${stream}`, err);
    }
    if (!info) {
      try {
        await jsm.streams.add(desiredConfig());
        log?.debug({ subjects: names.allSubjects }, 'created content stream');
        return { stream, created: true, drift: [] };
      } catch (err) {
        // Another process created it between our info and add: verify theirs instead.
        if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE)) {
          throw wrapRequestError(`create stream ${stream}`, err);
        }
        info = await jsm.streams.info(stream);
      }
    }
    const drift = driftOf(info.config);
    if (drift.length > 0) log?.warn({ drift }, 'content stream configuration drifted; not changing it');
    return { stream, created: false, drift };
  }

  async function head(): Promise<LogHead> {
    const { jsm } = await clients();
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(stream);
    } catch (err) {
      throw wrapRequestError(`stream info ${stream}`, err);
    }
    const { state } = info;
    directGet = info.config.allow_direct === true;
    return {
      lastSeq: state.last_seq,
      lastTime: state.messages > 0 ? parseServerTime(state.last_ts) : undefined,
      firstSeq: state.first_seq,
      firstTime: state.messages > 0 ? parseServerTime(state.first_ts) : undefined,
      messages: state.messages,
      bytes: state.bytes,
      ...(state.num_subjects !== undefined ? { subjects: state.num_subjects } : {}),
      ...(info.created ? { created: new Date(info.created) } : {}),
    };
  }

  function settleError(
    err: unknown,
    eventId: string,
    subject: string,
    expected: number | undefined,
  ): Settled {
    if (err instanceof JetStreamApiError) {
      if (err.code === WRONG_LAST_SEQUENCE || err.code === WRONG_LAST_SEQUENCE_UNKNOWN) {
        return {
          outcome: {
            status: 'conflict',
            eventId,
            error: new ConcurrencyError(subject, expected ?? -1, { cause: err }),
          },
        };
      }
      if (err.code === MESSAGE_TOO_LARGE) {
        return {
          outcome: {
            status: 'invalid',
            eventId,
            error: new InvalidEventError('event', [{ path: '/', message: err.message }], {
              eventId,
              cause: err,
            }),
          },
        };
      }
      const error = isStreamNotFound(err)
        ? streamMissing(err)
        : new PresslogError(`JetStream refused ${eventId} on ${subject}: ${err.message}`, { cause: err });
      return { outcome: { status: 'failed', eventId, error } };
    }
    if (isNoResponders(err)) {
      // No responders on a publish: no stream listens on the subject.
      const error = new ConfigError(stream, `no stream stores ${subject}: run \`presslog init\` first`, {
        cause: err,
      });
      return { outcome: { status: 'failed', eventId, error }, stop: error };
    }
    const error = isTransportError(err)
      ? new TransientError(`append ${eventId} on ${subject}: ${(err as Error).message}`, { cause: err })
      : new PresslogError(`append ${eventId} on ${subject}: ${(err as Error).message}`, { cause: err });
    return { outcome: { status: 'failed', eventId, error }, stop: error };
  }

  async function append(
    items: readonly AppendItem[],
    appendOptions: { signal?: AbortSignal } = {},
  ): Promise<AppendStats> {
    const { signal } = appendOptions;
    const { nc, js } = await clients();
    const limit = (nc.info?.max_payload ?? 1024 * 1024) - HEADER_RESERVE_BYTES;
    const outcomes = new Array<AppendOutcome>(items.length);
    const inflight: Promise<void>[] = [];
    let inflightHead = 0;
    /** The last item of each entity in this batch, for the per-entity prefix rule. */
    const previous = new Map<string, { index: number; done: Promise<void> }>();
    let stop: Error | undefined;

    for (let index = 0; index < items.length; index++) {
      const item = items[index]!;
      const raw = item.event as { id?: unknown; entityType?: unknown; entityId?: unknown };
      const eventId = typeof raw?.id === 'string' ? raw.id : `#${index}`;
      const subject =
        typeof raw?.entityType === 'string' &&
        isEntityType(raw.entityType) &&
        typeof raw.entityId === 'string' &&
        isValidId(raw.entityId)
          ? names.subject(raw.entityType, raw.entityId)
          : undefined;

      if (!stop && signal?.aborted) stop = abortError(signal);
      if (stop) {
        outcomes[index] = {
          status: 'failed',
          eventId,
          error: new TransientError(`not sent: ${stop.message}`, { cause: stop }),
        };
        continue;
      }

      let event: ReturnType<typeof validateEvent>;
      let bytes: Uint8Array;
      try {
        event = validateEvent(item.event, { currentOnly: true });
        bytes = encodeEvent(event);
        if (bytes.byteLength > limit) throw oversizeError(event, bytes.byteLength, limit);
      } catch (err) {
        outcomes[index] = { status: 'invalid', eventId, error: err as Error };
        if (subject) previous.set(subject, { index, done: Promise.resolve() });
        continue;
      }
      const entitySubject = names.subject(event.entityType, event.entityId);

      let expected = item.expectedLastSeq;
      const before = previous.get(entitySubject);
      if (before) {
        await before.done;
        const prior = outcomes[before.index]!;
        if (prior.status !== 'appended' && prior.status !== 'duplicate') {
          const error =
            prior.status === 'failed'
              ? new TransientError(
                  `not sent: the entity's earlier event ${prior.eventId} in this batch failed`,
                )
              : new ConcurrencyError(entitySubject, expected ?? -1, {
                  cause: new PresslogError(
                    `not sent: the entity's earlier event ${prior.eventId} in this batch was ${prior.status === 'conflict' ? 'a conflict' : prior.status}`,
                  ),
                });
          outcomes[index] = {
            status: prior.status === 'failed' ? 'failed' : 'conflict',
            eventId: event.id,
            error,
          };
          previous.set(entitySubject, { index, done: Promise.resolve() });
          continue;
        }
        if (expected !== undefined) expected = prior.seq;
        // The wait may have let a failure or an abort happen; re-check before sending.
        if (!stop && signal?.aborted) stop = abortError(signal);
        if (stop) {
          outcomes[index] = {
            status: 'failed',
            eventId: event.id,
            error: new TransientError(`not sent: ${stop.message}`, { cause: stop }),
          };
          previous.set(entitySubject, { index, done: Promise.resolve() });
          continue;
        }
      }

      // Bounded pipelining: wait for the oldest publish when the window is full.
      while (inflight.length - inflightHead >= publishWindow) await inflight[inflightHead++];

      const at = index;
      const publishOptions = {
        msgID: event.id,
        ...(expected !== undefined ? { expect: { lastSubjectSequence: expected } } : {}),
      };
      const done = js.publish(entitySubject, bytes, publishOptions).then(
        (ack: PubAck) => {
          outcomes[at] = ack.duplicate
            ? { status: 'duplicate', eventId: event.id, seq: ack.seq }
            : { status: 'appended', eventId: event.id, seq: ack.seq };
        },
        (err: unknown) => {
          const settled = settleError(err, event.id, entitySubject, expected);
          outcomes[at] = settled.outcome;
          if (settled.stop && !stop) stop = settled.stop;
        },
      );
      inflight.push(done);
      previous.set(entitySubject, { index, done });
    }
    for (let i = inflightHead; i < inflight.length; i++) await inflight[i];

    const stats: AppendStats = {
      outcomes,
      appended: 0,
      duplicates: 0,
      conflicts: 0,
      invalid: 0,
      failed: 0,
      lastSeq: 0,
    };
    for (const outcome of outcomes) {
      switch (outcome.status) {
        case 'appended':
          stats.appended++;
          stats.lastSeq = Math.max(stats.lastSeq, outcome.seq);
          break;
        case 'duplicate':
          stats.duplicates++;
          break;
        case 'conflict':
          stats.conflicts++;
          break;
        case 'invalid':
          stats.invalid++;
          break;
        case 'failed':
          stats.failed++;
          break;
      }
    }
    if (stats.failed > 0)
      log?.warn({ failed: stats.failed, appended: stats.appended }, 'append batch had failures');
    return stats;
  }

  /**
   * Read the messages of a subject filter in sequence order through an ordered consumer
   * (client-side flow control: at most `batch` messages are pulled ahead of the reader).
   * Ends at `untilSeq`, or when the server reports nothing pending, which makes a
   * filtered read end even when the filter's last message is below `untilSeq`.
   * A scan cut short by a lost connection or `close()` throws; it never looks complete.
   * Messages are decoded here rather than in a wrapping generator: one generator hop
   * per message fewer is measurable in a full replay.
   */
  /**
   * Read `filter` with an ephemeral ordered consumer until `visit` says the last wanted
   * message was seen: the one lifecycle behind every bulk read (abort, close of the log,
   * a connection lost mid-read, consumer clean-up). `visit` returns the item to yield, if
   * any, and whether the read is complete. A read that stops before it is complete
   * throws: the abort reason, or a TransientError the caller may resume from.
   */
  async function* readOrdered<T>(params: {
    filter: string;
    consumer: Partial<OrderedConsumerOptions>;
    batch: number;
    signal?: AbortSignal;
    visit: (m: JsMsg) => { item?: T; last: boolean };
  }): AsyncGenerator<T> {
    const { filter, batch, signal, visit } = params;
    const { js } = await clients();
    let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>>;
    try {
      // `filter_subjects` given a string becomes the single `filter_subject` that 2.9 accepts.
      consumer = await js.consumers.get(stream, { ...params.consumer, filter_subjects: filter });
    } catch (err) {
      throw wrapRequestError(`create consumer on ${stream}`, err);
    }
    let finished = false;
    let stopReason: Error | undefined;
    try {
      const info = await consumer.info(true);
      if (info.num_pending === 0) {
        finished = true;
        return;
      }
      // Pulls expire after 10 s (not the client's 30 s): two missed heartbeats (half of that
      // each) are how a vanished consumer is noticed, so a read recovers in ~10 s, not ~30 s.
      const messages = await consumer.consume({ max_messages: batch, expires: 10_000 });
      const stopRead = (reason: Error) => {
        stopReason ??= reason;
        void messages.close();
      };
      const onAbort = () => stopRead(abortError(signal!));
      const onClose = () => stopRead(new PresslogError('the content log was closed during a read'));
      signal?.addEventListener('abort', onAbort, { once: true });
      activeScans.add(onClose);
      try {
        try {
          for await (const m of messages) {
            const { item, last } = visit(m);
            if (item !== undefined) {
              yield item;
              // An abort or close while the reader held this message wins over buffered ones.
              if (stopReason) break;
            }
            if (last || m.info.pending === 0) {
              finished = true;
              break;
            }
          }
        } catch (err) {
          // The iterator fails when the connection goes (e.g. its next pull cannot be sent).
          stopReason ??= err as Error;
        }
        if (!finished && !stopReason) {
          const closedWith = await messages.closed().catch((err: unknown) => err);
          stopReason = closedWith instanceof Error ? closedWith : undefined;
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
        activeScans.delete(onClose);
        await messages.close().catch(() => {});
      }
    } finally {
      // Ordered consumers are ephemeral (memory storage, inactive threshold), but removing
      // them at once keeps the server's consumer count honest during many short reads.
      consumer.delete().catch(() => {});
    }
    if (!finished) {
      if (signal?.aborted) throw abortError(signal);
      throw new TransientError(
        `read of ${filter} interrupted: ${stopReason?.message ?? 'consumer stopped'}`,
        {
          cause: stopReason,
        },
      );
    }
  }

  async function* scan(params: {
    filter: string;
    fromSeq: number;
    /** Inclusive; a function is called once, before the consumer exists (the head at start). */
    untilSeq: number | (() => Promise<number>);
    untilTime?: Date;
    batch: number;
    rawBodies?: boolean;
    signal?: AbortSignal;
  }): AsyncGenerator<ReplayItem> {
    const { filter, fromSeq, untilTime, batch, signal } = params;
    const decodeOptions = { rawBody: params.rawBodies === true };
    signal?.throwIfAborted();
    const untilSeq = typeof params.untilSeq === 'function' ? await params.untilSeq() : params.untilSeq;
    if (fromSeq > untilSeq) return;
    yield* readOrdered({
      filter,
      consumer: { opt_start_seq: fromSeq },
      batch,
      signal,
      visit(m) {
        const seq = m.info.streamSequence;
        const time = m.time;
        if (seq > untilSeq || (untilTime && time > untilTime)) return { last: true };
        return {
          item: decodeMessage(names, m.data, { seq, time, subject: m.subject }, decodeOptions),
          last: seq >= untilSeq,
        };
      },
    });
  }

  function entitySubject(entityType: EntityType, id: string): string {
    if (!isEntityType(entityType)) {
      throw new InvalidRecordError(`unknown entity type ${JSON.stringify(entityType)}`, {
        field: 'entityType',
      });
    }
    if (!isValidId(id)) {
      throw new InvalidRecordError(
        `invalid ${entityType} id ${JSON.stringify(id)}: use 1-128 of [A-Za-z0-9_-]`,
        {
          field: 'id',
        },
      );
    }
    return names.subject(entityType, id);
  }

  function unreadableError(unreadable: UnreadableEvent): InvalidEventError {
    return new InvalidEventError('stored', [
      { path: '/', message: `seq ${unreadable.seq} on ${unreadable.subject}: ${unreadable.reason}` },
      ...unreadable.problems,
    ]);
  }

  /**
   * One stored message by query, or null when there is none. A direct get (any replica
   * answers, no consumer) when the stream allows it, else the stream API. `head()` learns
   * which, and throws "run presslog init" when there is no stream.
   */
  async function getMessage(
    query: { last_by_subj: string } | { seq: number; next_by_subj: string },
  ): Promise<{ data: Uint8Array; seq: number; time: Date; subject: string } | null> {
    const { jsm } = await clients();
    if (directGet === undefined) await head();
    try {
      if (directGet) {
        try {
          return await jsm.direct.getMessage(stream, query);
        } catch (err) {
          if (!isNoResponders(err)) throw err;
          await head();
          if (directGet) throw err;
        }
      }
      return await jsm.streams.getMessage(stream, query);
    } catch (err) {
      throw wrapRequestError(`get ${JSON.stringify(query)} from ${stream}`, err);
    }
  }

  /**
   * Most entities have a handful of events: reading them by direct gets (one request each)
   * is several times faster than creating a consumer. Past this many, one ordered
   * consumer reads the rest.
   */
  const DIRECT_READS = 8;

  async function readEntity(
    entityType: EntityType,
    id: string,
    readOptions: ReadEntityOptions = {},
  ): Promise<StoredEvent[]> {
    const subject = entitySubject(entityType, id);
    const events: StoredEvent[] = [];
    const take = (item: ReplayItem) => {
      if (item.kind === 'event') events.push(item.stored);
      else if (readOptions.onUnreadable) readOptions.onUnreadable(item.unreadable);
      else throw unreadableError(item.unreadable);
    };
    let next = 1;
    for (let reads = 0; reads < DIRECT_READS; reads++) {
      const message = await getMessage({ seq: next, next_by_subj: subject });
      if (!message) return events;
      take(
        decodeMessage(names, message.data, {
          seq: message.seq,
          time: message.time,
          subject: message.subject,
        }),
      );
      next = message.seq + 1;
    }
    for await (const item of scan({
      filter: subject,
      fromSeq: next,
      untilSeq: Number.MAX_SAFE_INTEGER,
      batch: 256,
    })) {
      take(item);
    }
    return events;
  }

  async function lastEvent(entityType: EntityType, id: string): Promise<StoredEvent | undefined> {
    const subject = entitySubject(entityType, id);
    const message = await getMessage({ last_by_subj: subject });
    if (!message) return undefined;
    const item = decodeMessage(names, message.data, {
      seq: message.seq,
      time: message.time,
      subject: message.subject,
    });
    if (item.kind === 'unreadable') throw unreadableError(item.unreadable);
    return item.stored;
  }

  async function stateAsOf(
    entityType: EntityType,
    id: string,
    time?: Date,
    asOfOptions: { basis?: AsOfBasis } = {},
  ): Promise<EntityState | undefined> {
    const events = await readEntity(entityType, id);
    const basis = asOfOptions.basis ?? 'stored';
    const until = time?.getTime();
    // Stored time: what the archive knew then (monotonic along the subject).
    // Occurred time: what the source said was true then, applied in log order.
    const included =
      until === undefined
        ? events
        : basis === 'stored'
          ? events.filter((e) => e.time.getTime() <= until)
          : events.filter((e) => Date.parse(e.event.occurredAt) <= until);
    return foldEntity(included.map((e) => ({ event: e.event, seq: e.seq })));
  }

  function replay(replayOptions: ReplayOptions = {}): AsyncGenerator<ReplayItem> {
    const filter = replayOptions.entityType
      ? names.entitySubjects(replayOptions.entityType)
      : names.allSubjects;
    return scan({
      filter,
      fromSeq: Math.max(1, replayOptions.fromSeq ?? 1),
      // Bounded by the head at start, so a replay always ends; events appended meanwhile
      // are for the live tail that follows it.
      untilSeq: async () => {
        const { lastSeq } = await head();
        return Math.min(replayOptions.untilSeq ?? lastSeq, lastSeq);
      },
      untilTime: replayOptions.untilTime,
      batch: replayBatch,
      rawBodies: replayOptions.rawBodies,
      signal: replayOptions.signal,
    });
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      for (const stop of activeScans) stop();
      if (!opening || options.nc) return;
      const opened = await opening.catch(() => undefined);
      if (opened && !opened.nc.isClosed()) await opened.nc.close();
    })();
    return closing;
  }

  /**
   * The last message of every subject of an entity type, headers only (added for the
   * projectors' rebuild), in stream order. An ordered consumer that recovers from a gap
   * goes on from a start sequence, which would deliver more than the last message of a
   * subject: such a read stops with a TransientError instead, so every item it yielded is
   * a subject's last message and a caller that retries starts over.
   */
  async function* lastSequences(
    entityType: EntityType,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<EntityLastSeq> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (!isEntityType(entityType)) {
      throw new InvalidRecordError(`unknown entity type ${JSON.stringify(entityType)}`, {
        field: 'entityType',
      });
    }
    let consumer: string | undefined;
    yield* readOrdered({
      filter: names.entitySubjects(entityType),
      consumer: { deliver_policy: DeliverPolicy.LastPerSubject, headers_only: true },
      batch: 4096,
      signal,
      visit(m) {
        consumer ??= m.info.consumer;
        if (m.info.consumer !== consumer) {
          throw new TransientError('the consumer was recreated, no longer last-per-subject');
        }
        const parsed = parseSubject(names, m.subject);
        return { item: parsed ? { id: parsed.id, seq: m.info.streamSequence } : undefined, last: false };
      },
    });
  }

  return { init, append, readEntity, lastEvent, stateAsOf, replay, lastSequences, head, close };
}
