import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import type {
  ArticleRecord,
  ArticleRetractionRecord,
  BylineRecord,
  ImageRecord,
  InputRecord,
} from './records.ts';

/** Options of {@link generateRecords} and {@link generateArchive}. */
export interface GenerateOptions {
  /** Total records (bylines + images + articles + revisions + retractions). */
  records: number;
  /** Same seed, same archive, byte for byte (default 1). */
  seed?: number;
  /** Share of records that are bylines (default 0.05). */
  bylineShare?: number;
  /** Image records (default 0); the archive then holds small generated PNG files. */
  images?: number;
  /** Share of articles that get a revised record near the end of the input (default 0.05). */
  revisionShare?: number;
  /** Share of articles retracted at the end of the input (default 0.005). */
  retractionShare?: number;
  /** Body size range in bytes (default 2 KiB to 20 KiB, uniform). */
  bodyBytes?: readonly [number, number];
}

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same sequence everywhere. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in a is that for it as was with be by on not he this are or his from at which but have an ' +
  'they you were her she there been one all we their has would when if so no what up out who them some its ' +
  'council budget election harbour minister railway strike weather market court school hospital bridge river ' +
  'mayor parliament senate treaty harvest factory museum festival storm vote report inquiry tariff shipping ' +
  'archive press edition correspondent morning evening county village city province nation government ' +
  'committee policy reform union workers farmers merchants citizens officials witnesses evidence statement ' +
  'announced declared reported confirmed denied approved rejected opened closed delayed expanded reduced'
).split(' ');
const SECTIONS = ['politics', 'business', 'local', 'world', 'culture', 'sport', 'science', 'opinion'];
const TAGS = [
  'elections',
  'economy',
  'transport',
  'health',
  'education',
  'courts',
  'weather',
  'arts',
  'labour',
  'trade',
];
const FIRST = [
  'Ada',
  'Ben',
  'Clara',
  'David',
  'Edith',
  'Frank',
  'Grace',
  'Henry',
  'Iris',
  'James',
  'Kate',
  'Louis',
  'Mary',
  'Noah',
  'Olive',
  'Paul',
];
const LAST = [
  'Archer',
  'Baker',
  'Carter',
  'Dalton',
  'Ellis',
  'Fisher',
  'Garner',
  'Hughes',
  'Irving',
  'Jensen',
  'Keller',
  'Lowell',
  'Morgan',
  'Norris',
  'Owens',
  'Porter',
];

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

function sentence(random: () => number): string {
  const n = 8 + Math.floor(random() * 14);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(pick(random, WORDS));
  const first = words[0]!;
  words[0] = first[0]!.toUpperCase() + first.slice(1);
  return `${words.join(' ')}.`;
}

function body(random: () => number, bytes: number): string {
  const paragraphs: string[] = [];
  let size = 0;
  while (size < bytes) {
    const sentences: string[] = [];
    const count = 3 + Math.floor(random() * 5);
    for (let i = 0; i < count && size < bytes; i++) {
      const s = sentence(random);
      sentences.push(s);
      size += s.length + 1;
    }
    paragraphs.push(sentences.join(' '));
    size += 2;
  }
  return paragraphs.join('\n\n');
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** How many records of each kind an archive of `records` gets. */
export function archivePlan(options: GenerateOptions) {
  const bylines = Math.max(1, Math.round(options.records * (options.bylineShare ?? 0.05)));
  const images = Math.min(options.images ?? 0, Math.max(0, options.records - bylines - 1));
  const rest = Math.max(1, options.records - bylines - images);
  // articles + revisions + retractions = rest
  const revisionShare = options.revisionShare ?? 0.05;
  const retractionShare = options.retractionShare ?? 0.005;
  const articles = Math.max(1, Math.round(rest / (1 + revisionShare + retractionShare)));
  const revisions = Math.min(articles, Math.round(articles * revisionShare));
  const retractions = Math.max(0, Math.min(articles, rest - articles - revisions));
  return { bylines, images, articles, revisions, retractions };
}

/**
 * A deterministic stream of input records (pure): bylines first, then images, then
 * articles (each with 1-2 bylines, sometimes an image), then revisions of some articles
 * (a changed headline and body), then retractions. Same options, same records.
 */
export function* generateRecords(options: GenerateOptions): Generator<InputRecord> {
  const random = createRandom(options.seed ?? 1);
  const plan = archivePlan(options);
  const [minBody, maxBody] = options.bodyBytes ?? [2048, 20480];
  const bylineId = (i: number) => `b-${pad(i, 6)}`;
  const imageId = (i: number) => `img-${pad(i, 6)}`;
  const articleId = (i: number) => `a-${pad(i, 8)}`;
  for (let i = 0; i < plan.bylines; i++) {
    const name = `${pick(random, FIRST)} ${pick(random, LAST)}`;
    yield {
      kind: 'byline',
      id: bylineId(i),
      name,
      bio: `${name} writes for the ${pick(random, SECTIONS)} desk.`,
    } satisfies BylineRecord;
  }
  for (let i = 0; i < plan.images; i++) {
    yield {
      kind: 'image',
      id: imageId(i),
      file: `images/${imageId(i)}.png`,
      caption: sentence(random),
      credit: `${pick(random, FIRST)} ${pick(random, LAST)} / Archive`,
    } satisfies ImageRecord;
  }
  const start = Date.UTC(1990, 0, 1);
  const article = (i: number, revision: boolean): ArticleRecord => {
    // Each article's fields come from its own seeded stream, so a revision can re-derive
    // the original's references and date without keeping anything in memory.
    const own = createRandom(Math.imul(options.seed ?? 1, 0x9e3779b1) ^ i);
    const bylines = [bylineId(Math.floor(own() * plan.bylines))];
    if (own() < 0.2) bylines.push(bylineId(Math.floor(own() * plan.bylines)));
    const images = plan.images > 0 && own() < 0.3 ? [imageId(Math.floor(own() * plan.images))] : [];
    const publishedAt = new Date(start + Math.floor(own() * 30 * 365 * 86_400) * 1000)
      .toISOString()
      .replace('.000Z', 'Z');
    const section = pick(own, SECTIONS);
    const tags = [pick(own, TAGS)];
    const size = minBody + Math.floor(random() * (maxBody - minBody + 1));
    return {
      kind: 'article',
      id: articleId(i),
      headline: `${revision ? 'Updated: ' : ''}${sentence(random).slice(0, -1)}`,
      body: body(random, size),
      section,
      publishedAt,
      bylines: [...new Set(bylines)],
      images,
      tags,
    };
  };
  for (let i = 0; i < plan.articles; i++) yield article(i, false);
  const step = plan.articles / Math.max(1, plan.revisions);
  for (let r = 0; r < plan.revisions; r++) yield article(Math.floor(r * step), true);
  const retractStep = plan.articles / Math.max(1, plan.retractions);
  for (let r = 0; r < plan.retractions; r++) {
    yield {
      kind: 'article',
      id: articleId(Math.floor(r * retractStep + retractStep / 2)),
      retracted: true,
      reason: 'Generated retraction',
    } satisfies ArticleRetractionRecord;
  }
}

/** A valid PNG of 8x8 pixels in one colour (distinct bytes per colour), for generated image records. */
export function tinyPng(rgb: readonly [number, number, number]): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc(body));
    return Buffer.concat([head, body, tail]);
  };
  const size = 8;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([
    Buffer.from([0]),
    Buffer.from(Array.from({ length: size }, () => [...rgb]).flat()),
  ]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: size }, () => row)));
  return Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    chunk('IHDR', ihdr),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface GenerateArchiveOptions extends GenerateOptions {
  /** Directory to write into (created). */
  dir: string;
  /** Records per NDJSON file (default 50 000). */
  recordsPerFile?: number;
}

export interface GeneratedArchive {
  dir: string;
  files: string[];
  records: number;
  bytes: number;
  plan: ReturnType<typeof archivePlan>;
}

/**
 * Write a generated archive as NDJSON files (`part-0001.ndjson`, ...) in input order,
 * plus `images/*.png` when images are asked for. Deterministic: same options, same bytes.
 */
export async function generateArchive(options: GenerateArchiveOptions): Promise<GeneratedArchive> {
  const { dir } = options;
  const perFile = Math.max(1, options.recordsPerFile ?? 50_000);
  await mkdir(dir, { recursive: true });
  const plan = archivePlan(options);
  if (plan.images > 0) {
    await mkdir(join(dir, 'images'), { recursive: true });
    const { writeFile } = await import('node:fs/promises');
    for (let i = 0; i < plan.images; i++) {
      const png = tinyPng([(i * 37) % 256, (i * 91) % 256, Math.floor(i / 256) % 256]);
      await writeFile(join(dir, 'images', `img-${pad(i, 6)}.png`), png);
    }
  }
  const files: string[] = [];
  let records = 0;
  let bytes = 0;
  let out: ReturnType<typeof createWriteStream> | undefined;
  const close = () =>
    new Promise<void>((resolve, reject) => {
      if (!out) return resolve();
      out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
  for (const record of generateRecords(options)) {
    if (records % perFile === 0) {
      await close();
      const path = join(dir, `part-${pad(files.length + 1, 4)}.ndjson`);
      files.push(path);
      out = createWriteStream(path);
    }
    const line = `${JSON.stringify(record)}\n`;
    bytes += Buffer.byteLength(line);
    records++;
    if (!out!.write(line)) await new Promise<void>((resolve) => out!.once('drain', () => resolve()));
  }
  await close();
  return { dir, files, records, bytes, plan };
}
