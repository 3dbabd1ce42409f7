import { isUtf8 } from 'node:buffer';
import { MAX_BODY_CHARS } from '../schemas/articleEvents.ts';
import type { ContentEvent } from '../schemas/catalog.ts';
import { validateEvent } from '../schemas/catalog.ts';
import { type FieldProblem, InvalidEventError } from '../schemas/errors.ts';
import type { Names } from '../schemas/names.ts';
import { type KeyLookupSource, openSealed, type PayloadParser } from './crypto/sealedCodec.ts';
import type { ReplayItem, StoredEvent } from './types.ts';

/**
 * Bytes the log keeps free below the server's `max_payload` for the headers it sends
 * with every event (`Nats-Msg-Id`, `Nats-Expected-Last-Subject-Sequence`): the server
 * counts headers and payload together against the limit.
 */
export const HEADER_RESERVE_BYTES = 512;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const BACKSLASH = 0x5c;

/** Message bytes made together with an event (see {@link encodeWithPayload}), by the event. */
const madeWith = new WeakMap<object, Uint8Array>();

/** The wire form of an event: its JSON in UTF-8 (the bytes made with it, if any). */
export function encodeEvent(event: ContentEvent): Uint8Array {
  return madeWith.get(event) ?? encoder.encode(JSON.stringify(event));
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}

const PAYLOAD_KEY = Buffer.from(',"payload":');
const CLOSE = Buffer.from('}');

/**
 * Make `event`'s message bytes now, from its payload's JSON already encoded (the
 * canonical JSON its id was derived from): the envelope is serialised without the
 * payload and the payload's bytes appended, so a payload (an article body: 95% of the
 * bytes) is serialised and UTF-8-encoded once per event, not once for the id and again
 * for the message. `encodeEvent` returns these bytes for this event from then on; the
 * event is frozen (deeply) so they cannot go stale. `payloadUtf8` must be JSON of
 * `event.payload` (any key order) in UTF-8.
 */
export function encodeWithPayload<E extends ContentEvent>(event: E, payloadUtf8: Uint8Array): E {
  const envelope = JSON.stringify({ ...event, payload: undefined });
  const head = Buffer.from(envelope.length > 2 ? envelope.slice(0, -1) : '{');
  const key = envelope.length > 2 ? PAYLOAD_KEY : PAYLOAD_KEY.subarray(1);
  deepFreeze(event);
  madeWith.set(event, Buffer.concat([head, key, payloadUtf8, CLOSE]));
  return event;
}

/**
 * The error for an event too large for one JetStream message. It names the event and
 * both sizes; like any schema violation it must not be retried.
 */
export function oversizeError(event: ContentEvent, bytes: number, limit: number): InvalidEventError {
  return new InvalidEventError(
    event.type,
    [
      {
        path: '/',
        message: `encoded event is ${bytes} bytes; the log accepts at most ${limit} (server max_payload minus ${HEADER_RESERVE_BYTES} for headers)`,
      },
    ],
    { eventId: event.id },
  );
}

/**
 * Header carrying the time a message was first stored, on a message that `presslog log
 * migrate` copied into a new stream (JetStream stamps a copy with the time of the copy).
 * Readers prefer it over the server's timestamp, so `--as-of` and `history` keep the
 * original times.
 */
export const STORED_AT_HEADER = 'Presslog-Stored-At';

/** The time a message was first stored: its {@link STORED_AT_HEADER} when present, else the server's. */
export function storedTime(headers: { get(key: string): string } | undefined, serverTime: Date): Date {
  const value = headers?.get(STORED_AT_HEADER);
  if (!value) return serverTime;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? serverTime : time;
}

/** Where and when a message was stored: what a replayed message carries besides its bytes. */
export interface MessageMeta {
  seq: number;
  time: Date;
  subject: string;
}

function unreadable(meta: MessageMeta, reason: string, problems: FieldProblem[] = []): ReplayItem {
  return {
    kind: 'unreadable',
    unreadable: { seq: meta.seq, time: meta.time, subject: meta.subject, reason, problems },
  };
}

/** Options of {@link decodeMessage}. */
export interface DecodeOptions {
  /** Leave a plain article body undecoded: see `ReplayOptions.rawBodies`. */
  rawBody?: boolean;
  /** Opens sealed payloads (see log/crypto/sealedCodec.ts); without it a sealed message is unreadable. */
  keys?: KeyLookupSource;
}

/** Where any item of a replay sits in the log: its sequence and storage time. */
export function positionOf(item: ReplayItem): { seq: number; time: Date } {
  const at = item.kind === 'event' ? item.stored : item.kind === 'erased' ? item.erased : item.unreadable;
  return { seq: at.seq, time: at.time };
}

/**
 * Decode one stored message into a (current-version) event, or describe why it cannot
 * be read. Never throws: one bad message must not stop a replay. An event stored under
 * another entity's subject is unreadable too, since per-entity reads would miss it.
 */
export function decodeMessage(
  names: Names,
  data: Uint8Array,
  meta: MessageMeta,
  options: DecodeOptions = {},
): ReplayItem {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (options.rawBody) {
    const item = decodeWithRawBody(names, bytes, meta);
    if (item) return item;
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    return unreadable(meta, `not JSON: ${(err as Error).message}`);
  }
  const opened = openSealed(value, meta, options.keys, options.rawBody ? parseRawBody : undefined);
  if ('item' in opened) return opened.item;
  const item = decodeValue(names, opened.value, meta);
  if (item.kind === 'event') {
    if (opened.keyPack) item.stored.keyPack = opened.keyPack;
    if (opened.rawBody && item.stored.event.entityType === 'article') item.stored.rawBody = opened.rawBody;
  }
  return item;
}

/**
 * A sealed article payload opened for a rebuild: its body's literal cut out of the
 * plaintext bytes as {@link decodeWithRawBody} cuts it out of a plaintext message (the
 * same checks), else the whole payload parsed.
 */
const parseRawBody: PayloadParser = (type, bytes) => {
  if (type === 'ArticlePublished' || type === 'ArticleRevised') {
    const cut = withoutBody(bytes);
    if (cut && (cut.value as { body?: unknown } | null)?.body === '')
      return { payload: cut.value, rawBody: cut.literal };
  }
  return { payload: JSON.parse(bytes.toString('utf8')) };
};

/**
 * The JSON in `bytes` parsed with its first `"body":"…"` literal replaced by `""`, and
 * that literal (quotes included), when the literal is already what `JSON.stringify`
 * writes: no escapes, no control characters, valid UTF-8, at most MAX_BODY_CHARS long.
 */
function withoutBody(bytes: Buffer): { value: unknown; literal: Buffer } | undefined {
  const key = bytes.indexOf(BODY_KEY);
  if (key === -1) return undefined;
  const open = key + BODY_KEY.length - 1;
  const close = bytes.indexOf(QUOTE, open + 1);
  if (close === -1) return undefined;
  // A backslash before the first quote would make that quote an escaped one.
  const backslash = bytes.indexOf(BACKSLASH, open + 1);
  if (backslash !== -1 && backslash < close) return undefined;
  const content = bytes.subarray(open + 1, close);
  if (content.length > MAX_BODY_CHARS || hasControlByte(content) || !isUtf8(content)) return undefined;
  try {
    const value: unknown = JSON.parse(
      `${decoder.decode(bytes.subarray(0, open))}""${decoder.decode(bytes.subarray(close + 1))}`,
    );
    return { value, literal: bytes.subarray(open, close + 1) };
  } catch {
    return undefined;
  }
}

/** The checks after parsing: schema (with upcasting) and subject. */
function decodeValue(names: Names, value: unknown, meta: MessageMeta): ReplayItem {
  const storedVersion = (value as { version?: unknown } | null)?.version;
  let event: ContentEvent;
  try {
    event = validateEvent(value);
  } catch (err) {
    if (err instanceof InvalidEventError) return unreadable(meta, err.message, [...err.problems]);
    return unreadable(meta, (err as Error).message);
  }
  if (names.subject(event.entityType, event.entityId) !== meta.subject) {
    return unreadable(meta, `event for ${event.entityType} ${event.entityId} stored under ${meta.subject}`, [
      { path: '/entityId', message: 'does not match the subject' },
    ]);
  }
  const stored: StoredEvent = {
    seq: meta.seq,
    time: meta.time,
    subject: meta.subject,
    storedVersion: storedVersion as number,
    event,
  };
  return { kind: 'event', stored };
}

const BODY_KEY = Buffer.from('"body":"');
const QUOTE = 0x22;

/**
 * An article event decoded around its body: the body's JSON literal is cut out of the
 * message, the rest parsed with `""` in its place, and the literal kept as bytes in
 * `rawBody`. Only for a literal that is already what `JSON.stringify` writes (valid
 * UTF-8 without escapes or control characters), so copying it into a document is
 * exactly writing the decoded body. Undefined whenever anything is not as expected
 * (another event type, a body with escapes, a `"body":"` that is not the payload's):
 * the caller decodes the whole message instead, which also reports what is wrong.
 *
 * Why: the body is ~95% of an article event; decoding it, parsing it and writing it back
 * out was a third of a rebuild's CPU per article.
 */
function decodeWithRawBody(names: Names, bytes: Buffer, meta: MessageMeta): ReplayItem | undefined {
  const cut = withoutBody(bytes);
  if (!cut) return undefined;
  const { value, literal } = cut;
  // Only a valid article event whose payload's body is the one cut out. A `"body":"`
  // elsewhere could only end a key (an unescaped quote follows `body`), and no valid
  // event has such a key besides the payload's.
  if ((value as { payload?: { body?: unknown } } | null)?.payload?.body !== '') return undefined;
  const item = decodeValue(names, value, meta);
  if (item.kind !== 'event' || item.stored.event.entityType !== 'article') return undefined;
  item.stored.rawBody = literal;
  return item;
}

/**
 * Whether any byte is below 0x20 (a control character, which a JSON string must escape),
 * sixteen bytes a step: `(x - 0x20202020) & ~x` sets a byte's top bit when that byte is
 * below 0x20 (a borrow can only follow such a byte). ~3.6 GB/s where a byte loop did 0.6
 * (Int32Array: its elements stay small integers, Uint32Array's become doubles).
 */
function hasControlByte(bytes: Uint8Array): boolean {
  const { byteOffset, length } = bytes;
  let i = 0;
  const head = Math.min(length, (4 - (byteOffset & 3)) & 3);
  for (; i < head; i++) if (bytes[i]! < 0x20) return true;
  const words = (length - i) >> 2;
  if (words > 0) {
    const view = new Int32Array(bytes.buffer, byteOffset + i, words);
    let found = 0;
    let w = 0;
    for (; w + 4 <= words; w += 4) {
      const a = view[w]!;
      const b = view[w + 1]!;
      const c = view[w + 2]!;
      const d = view[w + 3]!;
      found |=
        ((a - 0x20202020) & ~a) | ((b - 0x20202020) & ~b) | ((c - 0x20202020) & ~c) | ((d - 0x20202020) & ~d);
    }
    for (; w < words; w++) found |= (view[w]! - 0x20202020) & ~view[w]!;
    if ((found & 0x80808080) !== 0) return true;
  }
  for (i += words * 4; i < length; i++) if (bytes[i]! < 0x20) return true;
  return false;
}
