import type { ContentEvent, EventOf, EventType } from '../schemas/catalog.ts';
import { CATALOG } from '../schemas/catalog.ts';
import { deriveEventId } from '../schemas/eventId.ts';

/**
 * Valid events for tests and benchmarks (pure, deterministic). Each builder takes the
 * entity id, a payload and the basis sequence, and derives the event id the way ingest
 * does, so the same call always yields the same event.
 */
export interface SampleEnvelope {
  /** Defaults to 2024-01-02T03:04:05.000Z. */
  occurredAt?: string;
  recordedAt?: string;
  source?: string;
  basisSeq?: number;
  correlationId?: string;
}

const DEFAULT_TIME = '2024-01-02T03:04:05.000Z';

/** An event of any type in its current version, with a deterministic id. */
export function sampleEvent<T extends EventType>(
  type: T,
  entityId: string,
  payload: EventOf<T>['payload'],
  envelope: SampleEnvelope = {},
): EventOf<T> {
  const entityType = CATALOG[type].entityType;
  const basisSeq = envelope.basisSeq ?? 0;
  return {
    id: deriveEventId({ type, entityType, entityId, payload, basisSeq }),
    type,
    version: CATALOG[type].current,
    entityType,
    entityId,
    occurredAt: envelope.occurredAt ?? DEFAULT_TIME,
    recordedAt: envelope.recordedAt ?? envelope.occurredAt ?? DEFAULT_TIME,
    source: envelope.source ?? 'test',
    ...(envelope.correlationId ? { correlationId: envelope.correlationId } : {}),
    payload,
  } as unknown as EventOf<T>;
}

const WORDS = (
  'the council voted on the new harbour budget after a long debate about fishing rights schools ' +
  'roads and the future of the old railway station while residents gathered outside city hall'
).split(' ');

/** Deterministic filler text of about `chars` characters. */
export function sampleText(chars: number, seed = 1): string {
  let out = '';
  let x = seed >>> 0 || 1;
  while (out.length < chars) {
    // xorshift: cheap, deterministic, no Math.random in fixtures.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += `${WORDS[x % WORDS.length]} `;
  }
  return out.slice(0, chars);
}

/** An ArticlePublished of roughly `bodyChars` characters of body (default 1,100: about 1.5 KB encoded). */
export function sampleArticle(
  entityId: string,
  options: { bodyChars?: number; seed?: number; headline?: string } & SampleEnvelope = {},
): EventOf<'ArticlePublished'> {
  const seed = options.seed ?? entityId.length;
  return sampleEvent(
    'ArticlePublished',
    entityId,
    {
      headline: options.headline ?? `Council debates ${sampleText(40, seed + 7).trim()}`,
      body: sampleText(options.bodyChars ?? 1_100, seed),
      section: 'local',
      publishedAt: options.occurredAt ?? DEFAULT_TIME,
      bylineIds: ['b-1'],
      imageIds: ['img-1'],
      tags: ['council', 'harbour'],
    },
    options,
  );
}

/** A BylineRegistered with the given name. */
export function sampleByline(
  entityId: string,
  name = 'Ann Reporter',
  envelope: SampleEnvelope = {},
): ContentEvent {
  return sampleEvent('BylineRegistered', entityId, { name }, envelope);
}
