import { createHash, type Hash } from 'node:crypto';
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { canonicalJson } from '../schemas/eventId.ts';
import { isEntityType, isValidId, type Names } from '../schemas/names.ts';
import { storedTime } from './codec.ts';
import { openSealed, PLAINTEXT_TYPES } from './crypto/sealedCodec.ts';
import { isSealedPayload, keyedEventId } from './crypto/sealing.ts';
import type { KeyRing } from './keyRing.ts';

/**
 * How `log migrate` reads messages and checks its copies (log/migrate.ts): the stream read
 * in order, and per entity a digest over what a reader sees of its messages, so the copy
 * is compared with its source by what a reader sees rather than by bytes.
 */

/** A stored message parsed: any JSON object (an event, sealed or not, or something else). */
export type Parsed = Record<string, unknown> & {
  type?: unknown;
  entityType?: unknown;
  entityId?: unknown;
  id?: unknown;
};

export function parse(data: Uint8Array): Parsed | undefined {
  try {
    const value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A content event stored in plaintext (not sealed, not an erasure record), under its own subject. */
export function isPlainContent(value: Parsed, names: Names, subject: string): boolean {
  if (isSealedPayload(value.payload) || typeof value.type !== 'string' || PLAINTEXT_TYPES.has(value.type))
    return false;
  if (typeof value.entityType !== 'string' || !isEntityType(value.entityType)) return false;
  if (typeof value.entityId !== 'string' || !isValidId(value.entityId)) return false;
  return typeof value.id === 'string' && names.subject(value.entityType, value.entityId) === subject;
}

/** Every message of a stream from `fromSeq` to its last one at the start, through an ordered consumer. */
export async function* readAll(
  js: JetStreamClient,
  stream: string,
  fromSeq: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<JsMsg> {
  const consumer = await js.consumers.get(stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, fromSeq),
  });
  try {
    if ((await consumer.info(true)).num_pending === 0) return;
    const messages = await consumer.consume({ max_messages: 1024, expires: 10_000 });
    try {
      for await (const m of messages) {
        signal?.throwIfAborted();
        yield m;
        if (m.info.pending === 0) break;
      }
    } finally {
      await messages.close().catch(() => {});
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
}

/** The stored time of a message as a header value: its own header when it has one (a second migration). */
export function storedAt(m: JsMsg): string {
  return storedTime(m.headers, m.time).toISOString();
}

/** Per entity (subject), a digest over what a reader sees of its messages, in order. */
interface Digests {
  count: number;
  subjects: Map<string, string>;
}

export async function viewDigests(
  js: JetStreamClient,
  stream: string,
  prefix: string,
  view: (m: JsMsg) => string | Promise<string>,
  signal: AbortSignal | undefined,
): Promise<Digests> {
  const hashes = new Map<string, Hash>();
  let count = 0;
  for await (const m of readAll(js, stream, 1, signal)) {
    const subject = m.subject.slice(prefix.length);
    let hash = hashes.get(subject);
    if (!hash) {
      hash = createHash('sha256');
      hashes.set(subject, hash);
    }
    hash.update(`${storedAt(m)}\n${await view(m)}\n`);
    count++;
  }
  return { count, subjects: new Map([...hashes].map(([s, h]) => [s, h.digest('base64')])) };
}

export function compareDigests(a: Digests, b: Digests): string[] {
  const problems: string[] = [];
  if (a.count !== b.count) problems.push(`${a.count} messages against ${b.count}`);
  for (const [subject, digest] of a.subjects)
    if (b.subjects.get(subject) !== digest) problems.push(`${subject} differs`);
  for (const subject of b.subjects.keys()) if (!a.subjects.has(subject)) problems.push(`${subject} is extra`);
  return problems;
}

export const rawView = (m: JsMsg) => Buffer.from(m.data).toString('base64');

const ERASED = '(erased)';

/** Whether the item's keys are gone (loading its entry when not cached). */
async function isErased(keys: KeyRing, entityType: 'article' | 'image' | 'byline', entityId: string) {
  let found = keys.lookup(entityType, entityId, 1);
  if (found === undefined) {
    await keys.load(entityType, entityId);
    found = keys.lookup(entityType, entityId, 1);
  }
  return found === 'erased';
}

/** What a reader of the migrated stream should see of a source message. */
export async function sourceView(
  m: JsMsg,
  keys: KeyRing,
  names: Names,
  historyErased: Set<string>,
): Promise<string> {
  const value = parse(m.data);
  if (!value) return rawView(m);
  if (!isPlainContent(value, names, m.subject)) return sealedView(m, keys);
  const id = keyedEventId(keys.idKey, value.id as string);
  const gone =
    historyErased.has(m.subject) ||
    (await isErased(keys, value.entityType as 'article', value.entityId as string));
  return canonicalJson({ ...value, id, payload: gone ? ERASED : value.payload });
}

/** What a reader sees of a stored message: its payload opened, or marked erased. */
export async function sealedView(m: JsMsg, keys: KeyRing): Promise<string> {
  const value = parse(m.data);
  if (!value) return rawView(m);
  const meta = { seq: m.seq, time: m.time, subject: m.subject };
  let opened = openSealed(value, meta, keys);
  if ('item' in opened && opened.item.kind === 'unreadable' && opened.item.unreadable.keyMiss) {
    const { entityType, entityId, pack } = opened.item.unreadable.keyMiss;
    await keys.load(entityType, entityId, pack);
    opened = openSealed(value, meta, keys);
  }
  if ('value' in opened) return canonicalJson(opened.value);
  const { item } = opened;
  if (item.kind === 'erased') return canonicalJson({ ...value, payload: ERASED });
  const reason = item.kind === 'unreadable' ? item.unreadable.reason : 'unexpected';
  return canonicalJson({ ...value, payload: `(unreadable: ${reason})` });
}
