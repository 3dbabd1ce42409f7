import { translate } from './esErrors.ts';
import type { CallOptions, SearcherContext } from './searcherContext.ts';

/** An archive as it stood: an index built by `presslog reindex --as-of`. */
export interface Archive {
  /** The index name, to pass as `asOf`. */
  index: string;
  projection: string;
  /** The moment the archive was rebuilt as of (ISO 8601), when the index says. */
  asOf: string | null;
  docs: number;
}

interface CatIndex {
  index?: string;
  'docs.count'?: string;
}

/** The `--as-of` indexes of this namespace (articles and images), newest moment first. */
export async function listArchives(
  ctx: Pick<SearcherContext, 'es' | 'names'>,
  call: CallOptions = {},
): Promise<Archive[]> {
  const { es, names } = ctx;
  const patterns = (['articles', 'images'] as const).map((p) => `${names.indexPrefix(p)}asof-*`);
  const transport = call.signal ? { signal: call.signal } : undefined;
  try {
    const [rows, mappings] = await Promise.all([
      es.cat.indices(
        { index: patterns, format: 'json', h: ['index', 'docs.count'], expand_wildcards: 'open' },
        transport,
      ),
      es.indices.getMapping({ index: patterns, allow_no_indices: true, ignore_unavailable: true }, transport),
    ]);
    const archives = (rows as CatIndex[]).flatMap((row) => {
      if (!row.index) return [];
      const meta = (mappings[row.index]?.mappings as { _meta?: { presslog?: { asOf?: string } } } | undefined)
        ?._meta?.presslog;
      const projection = row.index.startsWith(names.indexPrefix('images')) ? 'images' : 'articles';
      return [
        { index: row.index, projection, asOf: meta?.asOf ?? null, docs: Number(row['docs.count'] ?? 0) },
      ];
    });
    return archives.sort(
      (a, b) => (b.asOf ?? '').localeCompare(a.asOf ?? '') || a.index.localeCompare(b.index),
    );
  } catch (err) {
    throw translate(err, { index: patterns.join(','), cursor: false });
  }
}
