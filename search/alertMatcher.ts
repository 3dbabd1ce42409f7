import type { Client, estypes } from '@elastic/elasticsearch';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ArticleDoc } from '../schemas/documents.ts';
import type { Names } from '../schemas/names.ts';
import { parseSearchParams } from './params.ts';
import { buildQuery } from './query.ts';
import { type AlertMatch, alertSubject, type SavedSearch, type SavedSearches } from './savedSearches.ts';

export interface AlertMatcherOptions {
  es: Client;
  nc: NatsConnection;
  names: Names;
  searches: SavedSearches;
  logger?: Logger;
}

export interface AlertMatcher {
  /**
   * Run every saved search against just these articles (ids, already searchable) and
   * publish each hit. Calls are queued: one runs at a time, in the order given.
   */
  match(ids: readonly string[]): Promise<AlertMatch[]>;
  /** Waits for queued matching; idempotent. */
  close(): Promise<void>;
}

/**
 * One saved search as a search restricted to `ids`: its own query and filters, plus
 * "the article's own event came after the search was saved" (a fan-out re-render of an
 * old article, or a projector catching up on old content, never fires).
 */
export function buildAlertSearch(saved: SavedSearch, ids: readonly string[]): Record<string, unknown> {
  const query = buildQuery(parseSearchParams({ ...saved.params }));
  return {
    size: ids.length,
    _source: ['id', 'headline', 'publishedAt', 'lineage.ownSeq'],
    query: {
      bool: {
        must: [query],
        filter: [{ ids: { values: [...ids] } }, { range: { 'lineage.ownSeq': { gt: saved.sinceSeq } } }],
      },
    },
  };
}

/**
 * Saved searches matched against newly applied articles, without the percolator: one
 * `_msearch` per batch of articles made visible by the live projector (a search per saved
 * search, each restricted to those ids). A match goes to `<ns>.alerts.<name>` (core NATS)
 * and the search's recent matches (KV). Already recorded (article, event) pairs are skipped.
 */
export function createAlertMatcher(options: AlertMatcherOptions): AlertMatcher {
  const { es, nc, names, searches } = options;
  const log = options.logger?.child({ component: 'alerts' });
  let queue: Promise<unknown> = Promise.resolve();

  async function run(ids: readonly string[]): Promise<AlertMatch[]> {
    const saved = await searches.list();
    if (saved.length === 0 || ids.length === 0) return [];
    const index = names.alias('articles');
    const response = await es.msearch({
      searches: saved.flatMap((s) => [{ index }, buildAlertSearch(s, ids)]) as estypes.MsearchRequestItem[],
    });
    const all: AlertMatch[] = [];
    for (const [i, answer] of response.responses.entries()) {
      const search = saved[i]!;
      if ('error' in answer) {
        log?.warn({ alert: search.name, error: answer.error }, 'a saved search failed to run');
        continue;
      }
      const seen = new Set((await searches.recent(search.name)).map((m) => `${m.articleId}@${m.seq}`));
      const matches = answer.hits.hits.flatMap((hit) => {
        const doc = hit._source as Partial<ArticleDoc> | undefined;
        const seq = doc?.lineage?.ownSeq ?? 0;
        const id = doc?.id ?? hit._id ?? '';
        if (seen.has(`${id}@${seq}`)) return [];
        return [
          {
            alert: search.name,
            articleId: id,
            headline: doc?.headline ?? '',
            publishedAt: doc?.publishedAt ?? null,
            seq,
            matchedAt: new Date().toISOString(),
          },
        ];
      });
      if (matches.length === 0) continue;
      await searches.record(search.name, matches);
      for (const match of matches) nc.publish(alertSubject(names, search.name), JSON.stringify(match));
      all.push(...matches);
    }
    return all;
  }

  return {
    match(ids) {
      const next = queue.then(() => run(ids));
      queue = next.catch((err) => log?.warn({ err }, 'matching saved searches failed'));
      return next;
    },
    async close() {
      await queue;
    },
  };
}
