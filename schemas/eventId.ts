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
 * What an event id is the hash of: `[type, entityType, entityId, basisSeq, payload]` as
 * canonical JSON, with the payload's canonical JSON given (so a caller that also needs
 * it for the message serialises the payload once; see `encodeWithPayloadJson` in log/codec.ts).
 * Equal to `canonicalJson([type, entityType, entityId, basisSeq, payload])`.
 */
export function eventIdMaterial(input: Omit<EventIdInput, 'payload'>, payloadJson: string): string {
  const head = JSON.stringify([input.type, input.entityType, input.entityId, input.basisSeq]);
  return `${head.slice(0, -1)},${payloadJson}]`;
}

/** The id of {@link deriveEventId} from the payload's canonical JSON, already made. */
export function deriveEventIdFromJson(input: Omit<EventIdInput, 'payload'>, payloadJson: string): string {
  return createHash('sha256').update(eventIdMaterial(input, payloadJson)).digest('base64url');
}

/** A deterministic event id (43 chars of base64url): same decision on the same content → same id. */
export function deriveEventId(input: EventIdInput): string {
  return deriveEventIdFromJson(input, canonicalJson(input.payload));
}
