import { createRandom } from '../../../ingest/generate.ts';
import type { ArticleFields } from '../../../schemas/articleEvents.ts';
import type { ContentEvent, EventOf, EventType } from '../../../schemas/catalog.ts';
import { deriveEventId } from '../../../schemas/eventId.ts';
import { benchDigest, benchRenditions } from '../benchRenditions.ts';

const WORDS = (
  'the of and to in a is that for it as was with be by on not he this are or his from at which but have ' +
  'council budget election harbour minister railway strike weather market court school hospital bridge river ' +
  'mayor parliament senate treaty harvest factory museum festival storm vote report inquiry tariff shipping ' +
  'committee policy reform union workers farmers merchants citizens officials witnesses evidence statement'
).split(' ');

interface BenchArticle {
  id: string;
  bylineIds: string[];
  imageIds: string[];
}

/**
 * The generator's state: its seeded random source, the clock (an hour per event), the
 * events so far and the articles published so far (for revisions and retractions). Every
 * value comes from `random()` in a fixed order, so a count gives the same log each time.
 */
interface BenchLogState {
  random: () => number;
  bodyBytes: readonly [number, number];
  clock: number;
  n: number;
  bylines: number;
  images: number;
  articles: BenchArticle[];
}

function pick<T>(s: BenchLogState, list: readonly T[]): T {
  return list[Math.floor(s.random() * list.length)]!;
}

/** Words from WORDS up to `bytes` long. */
function text(s: BenchLogState, bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const word = pick(s, WORDS);
    parts.push(word);
    size += word.length + 1;
  }
  return parts.join(' ');
}

/** An envelope an hour after the previous one, its id derived from its place in the log. */
function event<T extends EventType>(
  s: BenchLogState,
  type: T,
  entityId: string,
  payload: EventOf<T>['payload'],
): EventOf<T> {
  const entityType = type.startsWith('Article') ? 'article' : type.startsWith('Byline') ? 'byline' : 'image';
  s.clock += 3_600_000;
  const time = new Date(s.clock).toISOString();
  return {
    id: deriveEventId({ type, entityType, entityId, payload, basisSeq: ++s.n }),
    type,
    version: type === 'ArticlePublished' || type === 'ArticleRevised' ? 2 : 1,
    entityType,
    entityId,
    occurredAt: time,
    recordedAt: time,
    source: 'bench',
    payload,
  } as EventOf<T>;
}

function articleFields(s: BenchLogState, a: BenchArticle): ArticleFields {
  return {
    headline: text(s, 40 + Math.floor(s.random() * 60)),
    body: text(s, s.bodyBytes[0] + Math.floor(s.random() * (s.bodyBytes[1] - s.bodyBytes[0]))),
    section: pick(s, ['politics', 'business', 'local', 'world', 'culture']),
    publishedAt: new Date(s.clock).toISOString(),
    bylineIds: a.bylineIds,
    imageIds: a.imageIds,
    tags: [pick(s, ['economy', 'transport', 'courts', 'labour', 'trade'])],
  };
}

function imageProcessed(s: BenchLogState): EventOf<'ImageProcessed'> {
  const i = Math.floor(s.random() * s.images);
  return event(s, 'ImageProcessed', `img-${i}`, {
    original: benchDigest(i + 1),
    width: 4000,
    height: 3000,
    format: 'jpeg',
    hasAlpha: false,
    dominantColor: '#336699',
    placeholder: `data:image/webp;base64,${'A'.repeat(400)}`,
    renditions: benchRenditions(i * 4 + 10_000_000),
  });
}

function articlePublished(s: BenchLogState): EventOf<'ArticlePublished'> {
  const a = {
    id: `a-${s.articles.length}`,
    bylineIds: [
      ...new Set([
        `b-${Math.floor(s.random() * s.bylines)}`,
        ...(s.random() < 0.3 ? [`b-${Math.floor(s.random() * s.bylines)}`] : []),
      ]),
    ],
    imageIds: s.random() < 0.33 ? [`img-${Math.floor(s.random() * s.images)}`] : [],
  };
  s.articles.push(a);
  return event(s, 'ArticlePublished', a.id, articleFields(s, a));
}

/** One event of the mix that follows the bylines and images. */
function mixedEvent(s: BenchLogState): ContentEvent {
  const r = s.random();
  if (s.articles.length > 10 && r < 0.08) {
    const a = pick(s, s.articles);
    return event(s, 'ArticleRevised', a.id, articleFields(s, a));
  }
  if (s.articles.length > 10 && r < 0.085)
    return event(s, 'ArticleRetracted', pick(s, s.articles).id, { reason: 'bench' });
  if (r < 0.09)
    return event(s, 'BylineUpdated', `b-${Math.floor(s.random() * s.bylines)}`, {
      name: `Renamed ${text(s, 10)}`,
    });
  if (r < 0.13) return imageProcessed(s);
  if (r < 0.14)
    return event(s, 'ImageUpdated', `img-${Math.floor(s.random() * s.images)}`, {
      caption: text(s, 60),
      credit: 'Updated credit',
    });
  return articlePublished(s);
}

/**
 * A realistic log, generated lazily: 1% bylines and 4% images up front, then articles
 * (2-20 KB bodies, 1-2 bylines, a third with an image) mixed with revisions (8%),
 * image processing results (4%), caption updates (1%), byline renames (0.5%) and
 * retractions (0.5%). Deterministic for a given count.
 */
export function* benchLog(count: number, bodyBytes: readonly [number, number]): Generator<ContentEvent> {
  const s: BenchLogState = {
    random: createRandom(count),
    bodyBytes,
    clock: Date.parse('1851-09-18T00:00:00Z'),
    n: 0,
    bylines: Math.max(5, Math.round(count * 0.01)),
    images: Math.max(5, Math.round(count * 0.04)),
    articles: [],
  };
  let emitted = 0;
  for (let b = 0; b < s.bylines && emitted < count; b++, emitted++) {
    yield event(s, 'BylineRegistered', `b-${b}`, {
      name: `${pick(s, ['Ada', 'Ben', 'Clara', 'Edith'])} ${text(s, 8)}`,
    });
  }
  for (let i = 0; i < s.images && emitted < count; i++, emitted++) {
    yield event(s, 'ImageSubmitted', `img-${i}`, {
      caption: text(s, 60),
      credit: `Photo ${pick(s, ['Archer', 'Baker'])}`,
      fileName: `img-${i}.jpg`,
      original: { digest: benchDigest(i + 1), bytes: 200_000, mediaType: 'image/jpeg' },
    });
  }
  for (; emitted < count; emitted++) yield mixedEvent(s);
}
