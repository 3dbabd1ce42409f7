import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Names } from '../schemas/names.ts';
import { append } from './contentLog/append.ts';
import { close } from './contentLog/connection.ts';
import { createLogContext } from './contentLog/context.ts';
import { head } from './contentLog/head.ts';
import { lastSequences } from './contentLog/lastSequences.ts';
import { lastEvent, readEntity, stateAsOf } from './contentLog/readEntity.ts';
import { replay } from './contentLog/replay.ts';
import { init } from './contentLog/streamConfig.ts';
import type { KeyRing } from './keyRing.ts';
import type { ContentLog } from './types.ts';

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
  /**
   * How long a read request that times out is retried when the server is part of a
   * cluster (default 20 s): enough to elect a new stream leader after a node died. On a
   * single server, or with 0, a read fails at its first timeout.
   */
  failoverMs?: number;
  logger?: Logger;
  /**
   * The key ring (see `openKeyRing`): with it every payload is sealed under its item's
   * data key and every event id keyed (crypto-shredding, README "Takedowns"); without it
   * events are stored in plaintext. Sealed and plaintext messages are both read back.
   */
  keys?: KeyRing;
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

/**
 * Create the content log: the event store over one JetStream stream that ingest,
 * image workers and projectors share. Pass either an open connection (`nc`, never
 * closed by the log) or connection settings (`servers`, credentials: the log connects
 * on first use and closes in `close()`).
 *
 * Each method is a function of `contentLog/` over one {@link createLogContext context}:
 * connection.ts (open, close), streamConfig.ts (init, drift), head.ts, append.ts (the
 * pipelined publisher and its guarantees, see README "Guarantees"), readOrdered.ts (the
 * one ordered-consumer read), replay.ts, readEntity.ts (history, last event, state as
 * of), lastSequences.ts.
 */
export function createContentLog(options: ContentLogOptions): ContentLog {
  const ctx = createLogContext(options);
  return {
    init: (options) => init(ctx, options),
    append: (items, appendOptions) => append(ctx, items, appendOptions),
    readEntity: (entityType, id, readOptions) => readEntity(ctx, entityType, id, readOptions),
    lastEvent: (entityType, id) => lastEvent(ctx, entityType, id),
    stateAsOf: (entityType, id, time, asOfOptions) => stateAsOf(ctx, entityType, id, time, asOfOptions),
    replay: (replayOptions) => replay(ctx, replayOptions),
    lastSequences: (entityType, lastOptions) => lastSequences(ctx, entityType, lastOptions),
    head: () => head(ctx),
    close: () => close(ctx),
  };
}
