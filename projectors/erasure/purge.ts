import type { Client } from '@elastic/elasticsearch';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EntityType, Names, ProjectionName } from '../../schemas/names.ts';

/** The projection whose documents are an entity type's own. */
export const PROJECTION_OF: Readonly<Record<EntityType, ProjectionName>> = {
  article: 'articles',
  image: 'images',
  byline: 'bylines',
};

/** What the downstream purge removed. */
export interface PurgeReport {
  /** Documents of the item deleted, by index. */
  documents: Record<string, number>;
  /** Articles embedding an erased byline or image deleted from indexes no projector keeps current. */
  embeddingArticles: Record<string, number>;
  deadLetters: number;
  snapshots: number;
}

/** Options of {@link purgeErased}. */
export interface PurgeOptions {
  es: Client;
  nc: NatsConnection;
  names: Names;
  entityType: EntityType;
  id: string;
  /** Sequence of the erasure record: deletes carry it as their external version, so no older write resurrects the item. */
  seq: number;
  /**
   * A redaction (`--history-only`): the live index keeps the current version; the indexes
   * no projector keeps current (kept for rollback, as-of), which hold earlier ones, lose it.
   */
  historyOnly?: boolean;
}

/** Every index of the namespace behind a projection (live, kept for rollback, as-of), and which one is live. */
async function projectionIndexes(es: Client, names: Names, projection: ProjectionName) {
  const found = (await es.indices.get(
    { index: `${names.indexPrefix(projection)}*`, expand_wildcards: 'all', allow_no_indices: true },
    { ignore: [404] },
  )) as Record<string, { aliases?: Record<string, unknown> }>;
  const alias = names.alias(projection);
  const indexes = Object.keys(found).filter((name) => name.startsWith(names.indexPrefix(projection)));
  const live = new Set(indexes.filter((name) => found[name]?.aliases && alias in found[name].aliases!));
  return { indexes, live };
}

/**
 * Push an erasure to every copy presslog made in Elasticsearch and NATS beside the log:
 * the item's document in every index of its projection (a versioned delete, like a
 * retraction's); for an erased byline or image, the articles that embed it in the indexes
 * no projector keeps current (kept for rollback, as-of: deleted there, since they can no
 * longer be rendered as they were; the live index is re-rendered without it by the live
 * projector's fan-out); the dead letters that name it; and every projection-state snapshot
 * (they hold byline names and image captions; a projector without one replays the log).
 * Idempotent.
 */
export async function purgeErased(options: PurgeOptions): Promise<PurgeReport> {
  const { es, names, entityType, id, seq } = options;
  const report: PurgeReport = { documents: {}, embeddingArticles: {}, deadLetters: 0, snapshots: 0 };
  const own = await projectionIndexes(es, names, PROJECTION_OF[entityType]);
  for (const index of own.indexes) {
    if (options.historyOnly && own.live.has(index)) continue;
    const answer = await es.delete(
      { index, id, version: seq, version_type: 'external', refresh: true },
      { ignore: [404, 409] },
    );
    if ((answer as { result?: string }).result === 'deleted') report.documents[index] = 1;
  }
  if (entityType !== 'article') {
    const field = entityType === 'byline' ? 'bylines.id' : 'images.id';
    const articles = await projectionIndexes(es, names, 'articles');
    for (const index of articles.indexes) {
      if (articles.live.has(index)) continue;
      const deleted = await deleteMatching(es, index, { term: { [field]: id } });
      if (deleted) report.embeddingArticles[index] = deleted;
    }
  }
  report.deadLetters = await purgeDeadLetters(es, names, entityType, id);
  report.snapshots = await dropSnapshots(options.nc, names);
  return report;
}

/**
 * Delete the documents a query matches. By search and bulk delete: the distribution
 * `services up` runs has no `reindex` module, hence no `_delete_by_query`.
 */
async function deleteMatching(es: Client, index: string, query: object): Promise<number> {
  let deleted = 0;
  for (;;) {
    const found = await es.search({ index, size: 1_000, _source: false, query }, { ignore: [404] });
    const hits = found.hits?.hits ?? [];
    if (hits.length === 0) return deleted;
    const answer = await es.bulk({
      refresh: true,
      operations: hits.map((h) => ({ delete: { _index: index, _id: h._id! } })),
    });
    // Otherwise the same hits would come back forever.
    if (answer.errors) throw new Error(`deleting erased documents from ${index} failed`);
    deleted += hits.length;
  }
}

/** Dead letters of the item, or whose stored source mentions it (an article embedding it). */
async function purgeDeadLetters(
  es: Client,
  names: Names,
  entityType: EntityType,
  id: string,
): Promise<number> {
  const index = `${names.namespace}-deadletters`;
  const subject = names.subject(entityType, id);
  const found = await es.search<{ source?: string; subject?: string; docId?: string }>(
    { index, size: 10_000, query: { match_all: {} } },
    { ignore: [404] },
  );
  const hits = found.hits?.hits ?? [];
  const quotedId = JSON.stringify(id);
  const doomed = hits.filter((h) => {
    const s = h._source ?? {};
    return s.docId === id || s.subject === subject || (s.source ?? '').includes(quotedId);
  });
  if (doomed.length === 0) return 0;
  await es.bulk({
    refresh: true,
    operations: doomed.map((h) => ({ delete: { _index: index, _id: h._id! } })),
  });
  return doomed.length;
}

/** Delete every saved projection-state snapshot (a cache: the next projector start replays instead). */
export async function dropSnapshots(nc: NatsConnection, names: Names): Promise<number> {
  let os: Awaited<ReturnType<Objm['open']>>;
  try {
    os = await new Objm(jetstream(nc)).open(names.bucket('state'));
  } catch {
    return 0;
  }
  let count = 0;
  for (const info of await os.list()) {
    await os.delete(info.name);
    count++;
  }
  return count;
}
