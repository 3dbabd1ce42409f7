import type { BylineDoc } from '../../schemas/documents.ts';
import type { BylineState } from '../../schemas/state.ts';
import { lineageOf } from '../lineage.ts';
import { suggestInputs } from '../suggestInputs.ts';

/** What projecting a byline needs beyond its own state: statistics over its articles. */
export interface BylineStats {
  /** Unretracted articles carrying the byline. */
  articleCount: number;
  /** Latest `publishedAt` among them (epoch ms), undefined when there are none. */
  latestArticleMs: number | undefined;
  /** Sequence of the last article event that changed these statistics (0 when none did). */
  statsSeq: number;
}

/** Project a byline into its search document. Pure. */
export function projectByline(state: BylineState, stats: BylineStats): BylineDoc {
  const embeddedSeqs: Record<string, number> = {};
  if (stats.statsSeq > 0) embeddedSeqs.articles = stats.statsSeq;
  const lineage = lineageOf(state.id, Math.max(state.lastSeq, stats.statsSeq), state.lastSeq, embeddedSeqs);
  const doc: BylineDoc = {
    id: state.id,
    name: state.fields.name,
    articleCount: stats.articleCount,
    updatedAt: state.updatedAt,
    lineage,
  };
  // Suggested only while some article carries it: choosing it filters the search to its articles.
  if (stats.articleCount > 0) doc.suggest = suggestInputs(state.fields.name);
  if (state.fields.bio !== undefined) doc.bio = state.fields.bio;
  if (stats.latestArticleMs !== undefined)
    doc.latestArticleAt = new Date(stats.latestArticleMs).toISOString();
  return doc;
}
