/**
 * Builders of valid content events for the projector tests (unit and integration), and
 * a seeded random log with every kind of change the projections must handle.
 */
import type { ArticleFields } from '../../schemas/articleEvents.ts';
import type { ContentEvent, EventOf, EventType } from '../../schemas/catalog.ts';
import { deriveEventId } from '../../schemas/eventId.ts';

let clock = Date.parse('1900-01-01T00:00:00Z');

function at(): string {
  clock += 60_000;
  return new Date(clock).toISOString();
}

/** A current-version event with a deterministic id. `basisSeq` feeds the id only. */
export function makeEvent<T extends EventType>(
  type: T,
  entityId: string,
  payload: EventOf<T>['payload'],
  basisSeq = 0,
): EventOf<T> {
  const entityType = type.startsWith('Article') ? 'article' : type.startsWith('Byline') ? 'byline' : 'image';
  const version = type === 'ArticlePublished' || type === 'ArticleRevised' ? 2 : 1;
  const time = at();
  return {
    id: deriveEventId({ type, entityType, entityId, payload, basisSeq }),
    type,
    version,
    entityType,
    entityId,
    occurredAt: time,
    recordedAt: time,
    source: 'test',
    payload,
  } as EventOf<T>;
}

export function digest(n: number): string {
  return `sha256:${n.toString(16).padStart(64, '0')}`;
}

export function articleFields(overrides: Partial<ArticleFields> = {}): ArticleFields {
  return {
    headline: 'A headline',
    body: 'Body text of the article.',
    publishedAt: '1900-06-01T00:00:00Z',
    bylineIds: [],
    imageIds: [],
    tags: [],
    ...overrides,
  };
}

export function processedPayload(original: string, n: number): EventOf<'ImageProcessed'>['payload'] {
  return {
    original,
    width: 100 + n,
    height: 80 + n,
    format: 'jpeg',
    hasAlpha: false,
    dominantColor: '#a0b0c0',
    placeholder: `data:image/webp;base64,AAAA${n}`,
    renditions: [
      {
        name: 'thumb',
        digest: digest(1000 + n),
        bytes: 1200,
        mediaType: 'image/webp',
        width: 32,
        height: 24,
      },
    ],
  };
}

/** A tiny deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random log of `count` events over a few bylines, images and articles: publications,
 * revisions that change references, retractions and un-retractions, byline renames and
 * bio edits, image submissions, updates, processing (including stale results), failures
 * and removals, and references to entities that appear only later.
 */
export function randomLog(count: number, seed = 1): ContentEvent[] {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const some = (list: readonly string[], max: number) => {
    const n = Math.floor(random() * (max + 1));
    return [...new Set(Array.from({ length: n }, () => pick(list)))];
  };
  const bylines = ['b0', 'b1', 'b2', 'b3', 'b4'];
  const images = ['i0', 'i1', 'i2', 'i3', 'i4', 'i5'];
  const articles = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9'];
  const imageOriginal = new Map<string, string>();
  const published = new Set<string>();
  const events: ContentEvent[] = [];
  let n = 0;
  while (events.length < count) {
    n++;
    const r = random();
    if (r < 0.3) {
      const id = pick(articles);
      const fields = articleFields({
        headline: `Headline ${n}`,
        body: `Body ${n} ${'word '.repeat(Math.floor(random() * 20))}`,
        publishedAt: new Date(Date.parse('1900-01-01T00:00:00Z') + Math.floor(random() * 1e11)).toISOString(),
        bylineIds: some(bylines, 3),
        imageIds: some(images, 2),
        tags: some(['war', 'peace', 'economy'], 2),
        ...(random() < 0.5 ? { section: pick(['news', 'politics']) } : {}),
      });
      events.push(makeEvent(published.has(id) ? 'ArticleRevised' : 'ArticlePublished', id, fields, n));
      published.add(id);
    } else if (r < 0.38) {
      events.push(makeEvent('ArticleRetracted', pick(articles), { reason: `retracted ${n}` }, n));
    } else if (r < 0.5) {
      const id = pick(bylines);
      const rename = random() < 0.6;
      events.push(
        makeEvent(
          random() < 0.3 ? 'BylineRegistered' : 'BylineUpdated',
          id,
          { name: rename ? `Name ${n}` : `Name of ${id}`, ...(random() < 0.5 ? { bio: `bio ${n}` } : {}) },
          n,
        ),
      );
    } else if (r < 0.62) {
      const id = pick(images);
      const original = digest(n);
      imageOriginal.set(id, original);
      events.push(
        makeEvent(
          'ImageSubmitted',
          id,
          {
            fileName: `${id}.jpg`,
            original: { digest: original, bytes: 1000 + n, mediaType: 'image/jpeg' },
            ...(random() < 0.7 ? { caption: `Caption ${n}` } : {}),
            ...(random() < 0.5 ? { credit: `Credit ${n}` } : {}),
          },
          n,
        ),
      );
    } else if (r < 0.72) {
      const id = pick(images);
      const stale = random() < 0.2 || !imageOriginal.has(id);
      events.push(
        makeEvent(
          'ImageProcessed',
          id,
          processedPayload(stale ? digest(999_999) : imageOriginal.get(id)!, n),
          n,
        ),
      );
    } else if (r < 0.8) {
      const id = pick(images);
      events.push(
        makeEvent(
          'ImageUpdated',
          id,
          { caption: `New caption ${n}`, ...(random() < 0.5 ? { credit: `C ${n}` } : {}) },
          n,
        ),
      );
    } else if (r < 0.85) {
      const id = pick(images);
      events.push(
        makeEvent(
          'ImageProcessingFailed',
          id,
          { original: imageOriginal.get(id) ?? digest(7), reason: 'corrupt', attempts: 3 },
          n,
        ),
      );
    } else if (r < 0.9) {
      events.push(makeEvent('ImageRemoved', pick(images), { reason: 'rights' }, n));
    } else {
      // A revision that drops every reference at once.
      const id = pick(articles);
      if (!published.has(id)) continue;
      events.push(
        makeEvent('ArticleRevised', id, articleFields({ headline: `Rev ${n}`, body: `only body ${n}` }), n),
      );
    }
  }
  return events;
}

/**
 * A bigger log for fault tests: `articles` articles of 2-4 KB over 20 bylines and 40
 * images, with revisions, byline renames, image processing and a few retractions.
 */
export function sizedLog(articles: number, seed = 7): ContentEvent[] {
  const random = prng(seed);
  const events: ContentEvent[] = [];
  const words = [
    'harbour',
    'union',
    'congress',
    'war',
    'peace',
    'tariff',
    'railway',
    'treaty',
    'budget',
    'navy',
  ];
  const text = (n: number) =>
    Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(' ');
  for (let b = 0; b < 20; b++) events.push(makeEvent('BylineRegistered', `b${b}`, { name: `Writer ${b}` }));
  for (let i = 0; i < 40; i++) {
    events.push(
      makeEvent('ImageSubmitted', `i${i}`, {
        caption: `Caption ${text(5)}`,
        fileName: `i${i}.jpg`,
        original: { digest: digest(i + 1), bytes: 1000, mediaType: 'image/jpeg' },
      }),
    );
  }
  for (let a = 0; a < articles; a++) {
    const fields = articleFields({
      headline: `Article ${a} ${text(4)}`,
      body: text(300 + Math.floor(random() * 300)),
      publishedAt: new Date(Date.parse('1850-01-01T00:00:00Z') + a * 86_400_000).toISOString(),
      bylineIds: [`b${Math.floor(random() * 20)}`],
      imageIds: random() < 0.3 ? [`i${Math.floor(random() * 40)}`] : [],
      tags: [words[a % words.length]!],
    });
    events.push(makeEvent('ArticlePublished', `a${a}`, fields));
    const r = random();
    if (r < 0.1)
      events.push(makeEvent('ArticleRevised', `a${a}`, { ...fields, headline: `Revised ${a}` }, a + 1));
    else if (r < 0.12) events.push(makeEvent('ArticleRetracted', `a${a}`, { reason: 'test' }, a + 1));
    if (a % 97 === 0) events.push(makeEvent('BylineUpdated', `b${a % 20}`, { name: `Renamed ${a}` }, a + 1));
    if (a % 53 === 0) {
      const i = a % 40;
      events.push(makeEvent('ImageProcessed', `i${i}`, processedPayload(digest(i + 1), a), a + 1));
    }
  }
  return events;
}
