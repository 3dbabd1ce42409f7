import type { ContentEvent } from '../schemas/catalog.ts';
import type { FieldProblem } from '../schemas/errors.ts';
import type { EntityType } from '../schemas/names.ts';
import type { EntityState } from '../schemas/state.ts';

/** An event as read back from the log: the (upcast) event plus where and when the stream stored it. */
export interface StoredEvent<E extends ContentEvent = ContentEvent> {
  /** Stream sequence: the global order of the log. */
  seq: number;
  /** When the server stored it. */
  time: Date;
  subject: string;
  /** The version the event was stored in (before upcasting). */
  storedVersion: number;
  event: E;
  /**
   * Sealed events only: the key pack its key is kept in (a new item's first-generation
   * key, created with the other new items of its append batch), when not the item's own
   * keys entry. An erasure removes the item from every pack its events name.
   */
  keyPack?: string;
  /**
   * Only from a replay with {@link ReplayOptions.rawBodies}: the article body's JSON
   * literal as stored (quotes included, UTF-8, no escapes), while `event.payload.body`
   * is `''`.
   */
  rawBody?: Uint8Array;
}

/** A message in the log that could not be read as an event (bad JSON, fails its schema). */
export interface UnreadableEvent {
  seq: number;
  time: Date;
  subject: string;
  reason: string;
  problems: FieldProblem[];
  /**
   * Set (inside the log only) when the message is sealed under a key this process has not
   * loaded yet: the log loads it and decodes the message again. Never reaches a reader.
   */
  keyMiss?: { entityType: EntityType; entityId: string; pack?: string };
}

/**
 * A message of an erased item (or of an item's redacted earlier generation): its key is
 * gone for good, so only its envelope is left. Readers skip it; `history` shows it as
 * "erased".
 */
export interface ErasedEvent {
  seq: number;
  time: Date;
  subject: string;
  id: string;
  type: string;
  entityType: EntityType;
  entityId: string;
  occurredAt: string;
  /** The key pack its key was kept in (see {@link StoredEvent.keyPack}). */
  keyPack?: string;
}

export type ReplayItem =
  | { kind: 'event'; stored: StoredEvent }
  | { kind: 'unreadable'; unreadable: UnreadableEvent }
  | { kind: 'erased'; erased: ErasedEvent };

export interface AppendItem {
  event: ContentEvent;
  /**
   * Optimistic concurrency: the sequence of the last event on this entity's subject the
   * writer decided on (0 = the entity must have no events yet). Omit to append unconditionally.
   */
  expectedLastSeq?: number;
}

/** What happened to one event of an append batch. A failed item is data, not an exception. */
export type AppendOutcome =
  | { status: 'appended'; eventId: string; seq: number }
  | { status: 'duplicate'; eventId: string; seq: number }
  | { status: 'conflict'; eventId: string; error: Error }
  | { status: 'invalid'; eventId: string; error: Error }
  | { status: 'failed'; eventId: string; error: Error };

export interface AppendStats {
  outcomes: AppendOutcome[];
  appended: number;
  duplicates: number;
  conflicts: number;
  invalid: number;
  failed: number;
  /** Highest sequence acknowledged in this batch, 0 when none. */
  lastSeq: number;
}

export interface ReplayOptions {
  /** First sequence to read (default 1). */
  fromSeq?: number;
  /** Last sequence to read, inclusive (default: the head of the log when replay starts). */
  untilSeq?: number;
  /** Stop before the first event stored after this time. */
  untilTime?: Date;
  /** Only this entity type's subjects. */
  entityType?: EntityType;
  /**
   * Leave the bodies of article events undecoded where they can be copied out as they
   * are (valid UTF-8 without escapes or control characters): the event's `payload.body`
   * is `''` and {@link StoredEvent.rawBody} holds the body's JSON literal. For a reader
   * that writes bodies into documents unchanged, i.e. a rebuild; nothing else may use
   * such an event's body. Other events and bodies are decoded as usual.
   */
  rawBodies?: boolean;
  /**
   * Only messages whose subject this accepts are decoded and yielded; the others are
   * skipped as read, before any decoding or decryption (a partition of a partitioned
   * rebuild keeps its own articles' subjects). A resumed replay may read skipped ones again.
   */
  keepSubject?: (subject: string) => boolean;
  signal?: AbortSignal;
}

export interface LogHead {
  /** Sequence of the last message in the stream (0 when empty). */
  lastSeq: number;
  lastTime?: Date;
  firstSeq: number;
  firstTime?: Date;
  messages: number;
  bytes: number;
  /** Distinct subjects, i.e. entities with at least one event (when the server reports it). */
  subjects?: number;
  /** When the stream was created: tells a recreated stream (sequences start over) from the old one. */
  created?: Date;
}

export interface DriftItem {
  field: string;
  expected: unknown;
  actual: unknown;
}

export interface InitReport {
  stream: string;
  created: boolean;
  /** Differences between the existing stream and what presslog needs; reported, never silently changed. */
  drift: DriftItem[];
  /** Settings `init --apply` changed (only the replica count is ever changed in place). */
  changed?: DriftItem[];
}

/** Options of {@link ContentLog.init}. */
export interface InitOptions {
  /** Scale the stream to the configured replicas when they differ (JetStream moves the data). */
  applyReplicas?: boolean;
}

/** Options of {@link ContentLog.readEntity}. */
export interface ReadEntityOptions {
  /** Called for each message of the entity that cannot be read; without it such a message throws. */
  onUnreadable?: (unreadable: UnreadableEvent) => void;
  /** Called for each message of the entity whose content was erased (skipped otherwise). */
  onErased?: (erased: ErasedEvent) => void;
}

/** The sequence of an entity's last message, from {@link ContentLog.lastSequences}. */
export interface EntityLastSeq {
  id: string;
  seq: number;
}

/** Which clock `stateAsOf` compares with: the stream's storage time or the event's `occurredAt`. */
export type AsOfBasis = 'stored' | 'occurred';

/** The content log: the event store over JetStream that the write and read sides share. */
export interface ContentLog {
  /** Create the stream, or verify an existing one and report drift. */
  init(options?: InitOptions): Promise<InitReport>;
  /** Append events pipelined, in order; validates each first. Per-event outcomes, never a partial lie. */
  append(items: readonly AppendItem[], options?: { signal?: AbortSignal }): Promise<AppendStats>;
  /** The entity's events in order: its audit history. An unreadable message throws unless `onUnreadable` is given. */
  readEntity(entityType: EntityType, id: string, options?: ReadEntityOptions): Promise<StoredEvent[]>;
  /** The entity's last event, or undefined when it has none (a direct get, no consumer). */
  lastEvent(entityType: EntityType, id: string): Promise<StoredEvent | undefined>;
  /**
   * The entity's state folded from its events up to `time` (undefined when none). By default
   * `time` is compared with when the log stored each event (what the archive knew then);
   * `basis: 'occurred'` compares with the events' `occurredAt` (what the source says was true then).
   */
  stateAsOf(
    entityType: EntityType,
    id: string,
    time?: Date,
    options?: { basis?: AsOfBasis },
  ): Promise<EntityState | undefined>;
  /** The whole log (or a range) in sequence order, flow-controlled. */
  replay(options?: ReplayOptions): AsyncIterable<ReplayItem>;
  /**
   * Where each entity's history of one type ends: the stream sequence of its last message,
   * one item per entity in stream order, read without payloads (headers only). Lets a
   * rebuild write each entity once, at its last event. A read interrupted by a
   * TransientError must be started over. Optional: callers fall back when it is absent.
   */
  lastSequences?(entityType: EntityType, options?: { signal?: AbortSignal }): AsyncIterable<EntityLastSeq>;
  head(): Promise<LogHead>;
  /** Idempotent; closes the connection only if the log opened it. */
  close(): Promise<void>;
}
