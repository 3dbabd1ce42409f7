import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal content always hashes equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

export interface EventIdInput {
  type: string;
  entityType: string;
  entityId: string;
  payload: unknown;
  /**
   * The entity's last sequence the event was decided on (0 for a new entity). Part of
   * the id so that a change back to an earlier state (A → B → A) is a new event, while
   * the same decision made twice (a re-run, a retried publish) is the same event.
   */
  basisSeq: number;
}

/**
 * What an event id hashes, before the payload: `[type,entityType,entityId,basisSeq,` —
 * the id is the hash of this, the payload's canonical JSON and `]`, i.e. of
 * `canonicalJson([type, entityType, entityId, basisSeq, payload])`.
 */
export function eventIdHead(input: Omit<EventIdInput, 'payload'>): string {
  return `${JSON.stringify([input.type, input.entityType, input.entityId, input.basisSeq]).slice(0, -1)},`;
}

/**
 * The id of {@link deriveEventId} from the payload's canonical JSON already encoded in
 * UTF-8, so a caller that also puts those bytes into the message serialises and encodes
 * the payload once (see `encodeWithPayload` in log/codec.ts). Same id for the same input.
 */
export function deriveEventIdFromPayload(
  input: Omit<EventIdInput, 'payload'>,
  payloadUtf8: Uint8Array,
): string {
  return createHash('sha256').update(eventIdHead(input)).update(payloadUtf8).update(']').digest('base64url');
}

/** A deterministic event id (43 chars of base64url): same decision on the same content → same id. */
export function deriveEventId(input: EventIdInput): string {
  const material = canonicalJson([
    input.type,
    input.entityType,
    input.entityId,
    input.basisSeq,
    input.payload,
  ]);
  return createHash('sha256').update(material).digest('base64url');
}
