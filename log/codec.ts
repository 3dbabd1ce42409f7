import type { ContentEvent } from '../schemas/catalog.ts';
import { validateEvent } from '../schemas/catalog.ts';
import { type FieldProblem, InvalidEventError } from '../schemas/errors.ts';
import type { Names } from '../schemas/names.ts';
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

/** The wire form of an event: its JSON in UTF-8. */
export function encodeEvent(event: ContentEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event));
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

/**
 * Decode one stored message into a (current-version) event, or describe why it cannot
 * be read. Never throws: one bad message must not stop a replay. An event stored under
 * another entity's subject is unreadable too, since per-entity reads would miss it.
 */
export function decodeMessage(names: Names, data: Uint8Array, meta: MessageMeta): ReplayItem {
  let value: unknown;
  let plainStrings: boolean;
  try {
    const text = decoder.decode(data);
    value = JSON.parse(text);
    // One character a byte: all ASCII. No backslash: no escape, so no quote, control
    // character or backslash inside a string. Buffer's indexOf is a memchr (~11 GB/s).
    plainStrings =
      text.length === data.length &&
      Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(BACKSLASH) === -1;
  } catch (err) {
    return unreadable(meta, `not JSON: ${(err as Error).message}`);
  }
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
    plainStrings,
  };
  return { kind: 'event', stored };
}
