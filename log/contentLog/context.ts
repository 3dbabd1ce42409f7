import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Names } from '../../schemas/names.ts';
import type { ContentLogOptions } from '../contentLog.ts';
import type { KeyRing } from '../keyRing.ts';
import type { Publisher } from './publisher.ts';
import { DEFAULT_FAILOVER_MS } from './request.ts';

/** The connection and the JetStream handles over it, opened together (see connection.ts). */
export interface Clients {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The same API with a short timeout, for direct gets (see `getMessage`). */
  direct: JetStreamManager;
  /**
   * For creating read consumers: on a cluster with a short timeout (nats-server 2.9 may
   * place a consumer on a peer that is down, which never answers; a new attempt is
   * placed again), on a single server the same as `js`.
   */
  reads: JetStreamClient;
}

/**
 * What every part of the content log works over: the options it was created with, its
 * settings with defaults applied, the state of its connection and the reads in progress.
 * One per `createContentLog`; the functions of this folder take it as first argument.
 */
export interface LogContext {
  readonly options: ContentLogOptions;
  readonly names: Names;
  readonly stream: string;
  readonly duplicateWindowMs: number;
  readonly publishWindow: number;
  readonly replayBatch: number;
  readonly requestTimeoutMs: number;
  readonly failoverMs: number;
  readonly log: Logger | undefined;
  /** Seals payloads at append and opens them at read; absent: plaintext (a log from before encryption). */
  readonly keys: KeyRing | undefined;
  /** The key ring's preload, started by the first replay (see replay.ts). */
  keysPreloaded: Promise<void> | undefined;
  /** The clients being opened or open; unset again when opening failed. */
  opening: Promise<Clients> | undefined;
  /** The appends' publisher, made on the first append; unset again when making it failed. */
  publisher: Promise<Publisher> | undefined;
  /** Set by the first `close()`: from then on no clients are handed out. */
  closing: Promise<void> | undefined;
  /** Stops every scan in progress; `close()` calls them so no consumer outlives the log. */
  readonly activeScans: Set<() => void>;
  /**
   * Whether direct gets work on this stream (`allow_direct`), learned from the stream
   * info before the first one: on 2.9 a direct get to a stream without it times out
   * rather than failing fast.
   */
  directGet: boolean | undefined;
}

const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;

export function createLogContext(options: ContentLogOptions): LogContext {
  const { names } = options;
  const stream = names.stream;
  return {
    options,
    names,
    stream,
    duplicateWindowMs: options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS,
    publishWindow: Math.max(1, options.publishWindow ?? 512),
    replayBatch: Math.max(1, options.replayBatch ?? 512),
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    failoverMs: options.failoverMs ?? DEFAULT_FAILOVER_MS,
    log: options.logger?.child({ component: 'content-log', stream }),
    keys: options.keys,
    keysPreloaded: undefined,
    opening: undefined,
    publisher: undefined,
    closing: undefined,
    activeScans: new Set(),
    directGet: undefined,
  };
}
