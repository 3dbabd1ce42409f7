import type { ContentEvent } from '../../schemas/catalog.ts';
import { type EntityType, isEntityType } from '../../schemas/names.ts';
import type { KeyLookup } from '../keyRing.ts';
import type { ReplayItem } from '../types.ts';
import { type DataKey, isSealedPayload, keyedEventId, openPayloadBytes, sealPayload } from './sealing.ts';

const encoder = new TextEncoder();

/**
 * Event types whose payload stays plaintext: the erasure records, which by construction
 * carry no content (who, when, why), and must stay readable after the item's keys are gone.
 */
export const PLAINTEXT_TYPES: ReadonlySet<string> = new Set([
  'ArticleErased',
  'ImageErased',
  'BylineErased',
  'ArticleHistoryErased',
]);

/** The stored form of an event: id keyed, payload sealed under the item's data key (erasure records stay plain). */
export function sealEvent(
  event: ContentEvent,
  dataKey: DataKey | undefined,
  idKey: Uint8Array,
): { id: string; bytes: Uint8Array } {
  const id = keyedEventId(idKey, event.id);
  if (dataKey === undefined || PLAINTEXT_TYPES.has(event.type))
    return { id, bytes: encoder.encode(JSON.stringify({ ...event, id })) };
  const { sealed } = sealPayload(event, event.payload, dataKey);
  // The envelope serialised without its payload, the sealed payload written after it: the
  // ciphertext's base64 (most of the bytes) needs no JSON escaping, so it is not scanned
  // by JSON.stringify again.
  const envelope = JSON.stringify({ ...event, id, payload: undefined });
  const head = envelope.length > 2 ? `${envelope.slice(0, -1)},` : '{';
  return {
    id,
    bytes: encoder.encode(
      `${head}"payload":{"sealed":{"key":${sealed.key},${sealed.pack ? `"pack":"${sealed.pack}",` : ''}"iv":"${sealed.iv}","data":"${sealed.data}"}}}`,
    ),
  };
}

/**
 * Parses an opened payload's JSON bytes: the payload, and (a rebuild's fast path, see
 * `ReplayOptions.rawBodies`) an article body's JSON literal left undecoded.
 */
export type PayloadParser = (type: string, bytes: Buffer) => { payload: unknown; rawBody?: Buffer };

const parseWhole: PayloadParser = (_type, bytes) => ({ payload: JSON.parse(bytes.toString('utf8')) });

/** Where a message came from, for the items {@link openSealed} returns. */
interface Meta {
  seq: number;
  time: Date;
  subject: string;
}

/** The lookup the decoder needs from the key ring. */
export interface KeyLookupSource {
  /** `pack`: the key pack the event names, when its key is kept in one. */
  lookup(entityType: EntityType, entityId: string, gen: number, pack?: string): KeyLookup;
}

/**
 * A parsed message with its payload opened: the value to validate, or the item to
 * return instead (erased, unreadable, or a key miss the log resolves by loading the key).
 * A plaintext payload (a log written before encryption, or an erasure record) passes as it is.
 */
export function openSealed(
  value: unknown,
  meta: Meta,
  keys: KeyLookupSource | undefined,
  parsePayload: PayloadParser = parseWhole,
): { value: unknown; keyPack?: string; rawBody?: Buffer } | { item: ReplayItem } {
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== 'object' || !isSealedPayload(v.payload)) return { value };
  const { entityType, entityId, type } = v;
  const unreadable = (
    reason: string,
    keyMiss?: { entityType: EntityType; entityId: string; pack?: string },
  ) => ({
    item: {
      kind: 'unreadable' as const,
      unreadable: {
        seq: meta.seq,
        time: meta.time,
        subject: meta.subject,
        reason,
        problems: [],
        ...(keyMiss ? { keyMiss } : {}),
      },
    },
  });
  if (
    typeof entityType !== 'string' ||
    !isEntityType(entityType) ||
    typeof entityId !== 'string' ||
    typeof type !== 'string'
  )
    return unreadable('a sealed payload in an envelope without a valid type, entityType or entityId');
  if (!keys)
    return unreadable('the payload is sealed and this reader has no key ring (PRESSLOG_MASTER_KEY_FILE)');
  const { key: gen, pack } = v.payload.sealed;
  const key = keys.lookup(entityType, entityId, gen, pack);
  if (key === undefined)
    return unreadable(`key of ${entityType} ${entityId} not loaded`, {
      entityType,
      entityId,
      ...(pack ? { pack } : {}),
    });
  if (key === 'missing')
    return unreadable(
      `no key for ${entityType} ${entityId} generation ${gen}${pack ? ` (key pack ${pack})` : ''} in the keys bucket (was it lost? restore it from a backup)`,
    );
  if (key === 'erased')
    return {
      item: {
        kind: 'erased',
        erased: {
          seq: meta.seq,
          time: meta.time,
          subject: meta.subject,
          id: String(v.id),
          type,
          entityType,
          entityId,
          occurredAt: String(v.occurredAt),
          ...(pack ? { keyPack: pack } : {}),
        },
      },
    };
  let parsed: ReturnType<PayloadParser>;
  try {
    parsed = parsePayload(type, openPayloadBytes({ type, entityType, entityId }, v.payload, key));
  } catch (err) {
    return unreadable(`sealed payload does not open: ${(err as Error).message}`);
  }
  return {
    value: { ...v, payload: parsed.payload },
    ...(pack ? { keyPack: pack } : {}),
    ...(parsed.rawBody ? { rawBody: parsed.rawBody } : {}),
  };
}
