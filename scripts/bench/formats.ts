import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { generateArchive } from '../../ingest/generate.ts';
import { createIngester } from '../../ingest/ingest.ts';
import { listInputFiles } from '../../ingest/listInputFiles.ts';
import { readRecords } from '../../ingest/readRecords.ts';
import { createBlobStore } from '../../log/blobStore.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { createNames } from '../../schemas/names.ts';
import { type Measurement, measurement } from './measurement.ts';

export type BenchFormat = 'nitf' | 'wxr';

export interface FormatBenchOptions {
  nc: NatsConnection;
  format: BenchFormat;
  /** Articles in the archive (default 20,000). */
  articles: number;
  /** Rounds, the format and NDJSON interleaved (default 3). */
  rounds?: number;
  signal?: AbortSignal;
}

interface Article {
  id: string;
  headline: string;
  body: string;
  publishedAt: string;
  bylines: string[];
  tags: string[];
}

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const basic = (iso: string) => iso.replace(/[-:]/g, '').replace(/\.\d+/, '');

function nitfOf(a: Article, names: Map<string, string>): string {
  const paragraphs = a.body
    .split('\n\n')
    .map((p) => `<p>${xml(p)}</p>`)
    .join('\n');
  const persons = a.bylines.map((id) => `<person>${xml(names.get(id) ?? id)}</person>`).join(' and ');
  const keywords = a.tags.map((t) => `<keyword key="${xml(t)}"/>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<nitf version="-//IPTC//DTD NITF 3.6//EN"><head><title>${xml(a.headline)}</title>
<docdata><doc-id id-string="${xml(a.id)}"/><key-list>${keywords}</key-list></docdata>
<pubdata type="print" date.publication="${basic(a.publishedAt)}"/></head>
<body><body.head><hedline><hl1>${xml(a.headline)}</hl1></hedline>${persons ? `<byline>By ${persons}</byline>` : ''}</body.head>
<body.content>
${paragraphs}
</body.content></body></nitf>
`;
}

function wxrItem(a: Article, index: number): string {
  const html = a.body
    .split('\n\n')
    .map((p) => `<p>${xml(p)}</p>`)
    .join('\n');
  const cats = a.tags
    .map((t) => `<category domain="post_tag" nicename="${xml(t)}"><![CDATA[${t}]]></category>`)
    .join('');
  return `<item><title>${xml(a.headline)}</title><dc:creator><![CDATA[${a.bylines[0] ?? 'staff'}]]></dc:creator>
<content:encoded><![CDATA[${html}]]></content:encoded><wp:post_id>${index + 1}</wp:post_id>
<wp:post_date_gmt><![CDATA[${a.publishedAt.slice(0, 19).replace('T', ' ')}]]></wp:post_date_gmt>
<wp:status><![CDATA[publish]]></wp:status><wp:post_type><![CDATA[post]]></wp:post_type>${cats}</item>
`;
}

/** The generated archive's bylines and first-version articles (pure data, no I/O beyond reading it). */
async function generatedArticles(dir: string, count: number) {
  const archive = await generateArchive({
    dir: join(dir, 'generated'),
    records: Math.ceil(count / 0.9),
    revisionShare: 0,
    retractionShare: 0,
  });
  const names = new Map<string, string>();
  const articles: Article[] = [];
  for (const file of archive.files) {
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line);
      if (r.kind === 'byline') names.set(r.id, r.name);
      else if (r.kind === 'article' && !r.retracted && articles.length < count)
        articles.push({ ...r, bylines: r.bylines ?? [], tags: r.tags ?? [] });
    }
  }
  return { names, articles };
}

/** Write the archive in the format, and the same records (as the format reader maps them) as NDJSON. */
export async function writeArchives(dir: string, format: BenchFormat, count: number) {
  const { names, articles } = await generatedArticles(dir, count);
  const formatDir = join(dir, format);
  await mkdir(formatDir, { recursive: true });
  if (format === 'nitf') {
    for (let i = 0; i < articles.length; i += 1000) {
      await Promise.all(
        articles
          .slice(i, i + 1000)
          .map((a, j) =>
            writeFile(join(formatDir, `${String(i + j).padStart(7, '0')}.xml`), nitfOf(a, names)),
          ),
      );
    }
  } else {
    const out = createWriteStream(join(formatDir, 'export.xml'));
    const authors = [...names].map(
      ([login, name]) =>
        `<wp:author><wp:author_login><![CDATA[${login}]]></wp:author_login><wp:author_display_name><![CDATA[${name}]]></wp:author_display_name></wp:author>`,
    );
    out.write(
      `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">\n<channel><title>bench</title><wp:base_site_url>https://bench.example</wp:base_site_url>\n${authors.join('\n')}\n`,
    );
    for (const [i, a] of articles.entries()) if (!out.write(wxrItem(a, i))) await once(out, 'drain');
    out.end('</channel></rss>\n');
    await once(out, 'finish');
  }
  // The baseline: exactly the records the format reader yields, as presslog NDJSON.
  const ndjson = join(dir, 'ndjson', 'archive.ndjson');
  await mkdir(join(dir, 'ndjson'));
  const out = createWriteStream(ndjson);
  let records = 0;
  for (const file of (await listInputFiles([formatDir])).files) {
    for await (const item of readRecords(file)) {
      if (!item.ok) throw new Error(`bench archive: ${item.reason}`);
      records++;
      if (!out.write(`${item.raw}\n`)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
  return { formatDir, ndjsonDir: join(dir, 'ndjson'), records };
}

async function timedIngest(nc: NatsConnection, path: string, tag: string, signal?: AbortSignal) {
  const names = createNames(`bench-${tag}`);
  const log = createContentLog({ nc, names });
  await log.init();
  const blobDir = await mkdtemp(join(tmpdir(), 'presslog-bench-blobs-'));
  try {
    const started = performance.now();
    const stats = await createIngester({ log, blobs: createBlobStore(blobDir), source: 'bench' }).ingest(
      [path],
      { signal },
    );
    const seconds = (performance.now() - started) / 1000;
    if (stats.rejected > 0) throw new Error(`bench ingest of ${path}: ${stats.rejected} rejected`);
    return { seconds, read: stats.read };
  } finally {
    await log.close();
    await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => {});
    await rm(blobDir, { recursive: true, force: true });
  }
}

/**
 * `presslog bench ingest --format nitf|wxr`: the same generated archive (2-20 KB
 * articles, bylines, tags) ingested from the format and from presslog NDJSON (the very
 * records the format reader yields), each into a fresh scratch log, rounds interleaved.
 * Ours: records/s from the format; ceiling: records/s from NDJSON in the same run.
 */
export async function runFormatBench(options: FormatBenchOptions): Promise<Measurement[]> {
  const rounds = options.rounds ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'presslog-bench-formats-'));
  const tag = randomBytes(3).toString('hex');
  try {
    const { formatDir, ndjsonDir, records } = await writeArchives(dir, options.format, options.articles);
    let formatSeconds = 0;
    let ndjsonSeconds = 0;
    for (let round = 0; round < rounds; round++) {
      const ours = await timedIngest(options.nc, formatDir, `${tag}-f${round}`, options.signal);
      const base = await timedIngest(options.nc, ndjsonDir, `${tag}-n${round}`, options.signal);
      if (ours.read !== records || base.read !== records)
        throw new Error('bench: the two archives read different record counts');
      formatSeconds += ours.seconds;
      ndjsonSeconds += base.seconds;
    }
    const files = (await readdir(formatDir)).length;
    return [
      measurement(
        `ingest from ${options.format === 'nitf' ? 'NITF' : 'WordPress WXR'} vs the same records as NDJSON`,
        'records/s',
        (records * rounds) / formatSeconds,
        (records * rounds) / ndjsonSeconds,
        `${options.articles} articles (${records} records, ${files} ${options.format} file${files === 1 ? '' : 's'}), ${rounds} rounds interleaved, each into a fresh scratch log`,
      ),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
