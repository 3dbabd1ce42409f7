import type { Client } from '@elastic/elasticsearch';
import type { EntityType, Names } from '../../schemas/names.ts';
import { PROJECTION_OF } from './purge.ts';

/** One check of an erasure audit: what was looked at and what was found (nothing, when it holds). */
export interface AuditCheck {
  store: string;
  checked: string;
  found: number;
}

/**
 * Look for an erased item in every Elasticsearch index of the namespace (`<ns>-*`: live,
 * kept for rollback, as-of, dead letters): its own document by id in every index of its
 * projection, articles embedding it in every articles index but the live one (the live one
 * keeps the bare id of an erased byline or image, by design), dead letters naming it.
 */
export async function auditIndexes(
  es: Client,
  names: Names,
  entityType: EntityType,
  id: string,
): Promise<AuditCheck[]> {
  const ns = names.namespace;
  const checks: AuditCheck[] = [];
  const count = async (index: string, query: object) =>
    (
      (await es.count(
        { index, query, allow_no_indices: true, ignore_unavailable: true },
        { ignore: [404] },
      )) as {
        count?: number;
      }
    ).count ?? 0;
  await es.indices.refresh(
    { index: `${ns}-*`, allow_no_indices: true, ignore_unavailable: true },
    { ignore: [404] },
  );
  const projection = PROJECTION_OF[entityType];
  checks.push({
    store: 'elasticsearch',
    checked: `document ${id} in every ${names.indexPrefix(projection)}* index (live, kept, as-of)`,
    found: await count(`${names.indexPrefix(projection)}*`, { ids: { values: [id] } }),
  });
  if (entityType !== 'article') {
    const field = entityType === 'byline' ? 'bylines' : 'images';
    checks.push({
      store: 'elasticsearch',
      checked: `articles embedding ${id} with its content (${field}) in every ${names.indexPrefix('articles')}* index`,
      found: await embeddingWithContent(es, names, field, id),
    });
  }
  checks.push({
    store: 'elasticsearch',
    checked: `dead letters (${ns}-deadletters) naming ${entityType} ${id}`,
    found: await count(`${ns}-deadletters`, {
      bool: {
        should: [{ term: { docId: id } }, { term: { subject: names.subject(entityType, id) } }],
        minimum_should_match: 1,
      },
    }),
  });
  return checks;
}

/**
 * Articles whose embedded entry for `id` still carries content (a byline's name; an image's
 * caption, credit or renditions). Read from the sources: the embedded lists are plain
 * objects, so a query cannot tell which entry of an article has a name.
 */
async function embeddingWithContent(
  es: Client,
  names: Names,
  field: 'bylines' | 'images',
  id: string,
): Promise<number> {
  const found = await es.search<Record<string, { id: string; [k: string]: unknown }[]>>(
    {
      index: `${names.indexPrefix('articles')}*`,
      size: 10_000,
      _source: [field],
      query: { term: { [`${field}.id`]: id } },
      allow_no_indices: true,
      ignore_unavailable: true,
    },
    { ignore: [404] },
  );
  let count = 0;
  for (const hit of found.hits?.hits ?? []) {
    const entry = (hit._source?.[field] ?? []).find((e) => e.id === id);
    if (!entry) continue;
    const hasContent =
      field === 'bylines'
        ? entry.name !== undefined
        : entry.caption !== undefined ||
          entry.credit !== undefined ||
          ((entry.renditions as unknown[]) ?? []).length > 0;
    if (hasContent) count++;
  }
  return count;
}
