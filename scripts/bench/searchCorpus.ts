import { readFile, writeFile } from 'node:fs/promises';
import type { ArticleRecord } from '../../ingest/records.ts';

/** Characters of speech text in one derived article (about a newspaper story's length). */
const PART_CHARS = 4_000;

/**
 * Articles derived from the sample's speeches, to grow the archive to a size worth
 * benchmarking without inventing a vocabulary: article k is a 4,000-character stretch of
 * speech (k mod 233), starting further in for each later part, with the speech's bylines,
 * date, section and tags. Real English, so stemming, highlighting and facets work as on
 * the sample itself.
 */
export function deriveArticles(speeches: readonly ArticleRecord[], count: number): ArticleRecord[] {
  const out: ArticleRecord[] = [];
  for (let k = 0; k < count; k++) {
    const speech = speeches[k % speeches.length]!;
    const part = Math.floor(k / speeches.length) + 1;
    const text = speech.body;
    const start = text.length <= PART_CHARS ? 0 : ((part - 1) * 1_777) % (text.length - PART_CHARS);
    // Start and end on word boundaries.
    const from = text.indexOf(' ', start) + 1;
    const to = text.lastIndexOf(' ', from + PART_CHARS);
    const { images: _images, ...rest } = speech;
    out.push({
      ...rest,
      id: `${speech.id}-part-${part}`,
      headline: `${speech.headline} (part ${part})`,
      body: text.slice(from, to > from ? to : undefined),
    });
  }
  return out;
}

/** Write `count` derived articles as NDJSON, from the sample's `3-articles.ndjson`. */
export async function writeDerivedArticles(
  sampleArticles: string,
  count: number,
  out: string,
): Promise<void> {
  const speeches = (await readFile(sampleArticles, 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as ArticleRecord);
  const lines = deriveArticles(speeches, count).map((a) => JSON.stringify(a));
  await writeFile(out, `${lines.join('\n')}\n`);
}
