import type { ContentLog } from '../log/types.ts';
import type { ContentEvent } from '../schemas/catalog.ts';
import { TransientError } from '../schemas/errors.ts';
import type { ProjectionName } from '../schemas/names.ts';
import type { ArticleState } from '../schemas/state.ts';
import { type Changes, createProjectionState, type ProjectionState } from './state/projectionState.ts';
import type { DocOp } from './write/bulkWriter.ts';
import type { DeadLetter } from './write/deadLetters.ts';
import { docJson } from './write/docJson.ts';

/** Reads the article event stored at `seq` (an article re-projected by fan-out: its body is not in memory). */
export type ArticleLoader = (id: string, seq: number, signal?: AbortSignal) => Promise<ContentEvent>;

/**
 * An {@link ArticleLoader} over the content log: one direct get of the subject's last
 * message when that is the wanted one (the usual case), else the article's history.
 */
export function createArticleLoader(log: Pick<ContentLog, 'lastEvent' | 'readEntity'>): ArticleLoader {
  return async (id, seq) => {
    let last: Awaited<ReturnType<ContentLog['lastEvent']>>;
    try {
      last = await log.lastEvent('article', id);
    } catch (err) {
      if (err instanceof TransientError) throw err;
      // The subject's newest message is unreadable; the one we want may still be fine.
      last = undefined;
    }
    if (last?.seq === seq) return last.event;
    // Unreadable messages of its history are the replay's to dead-letter; skip them here.
    const history = await log.readEntity('article', id, { onUnreadable: () => {} });
    const found = history.find((stored) => stored.seq === seq);
    if (!found) throw new Error(`article ${id}: no event at sequence ${seq} in its history`);
    return found.event;
  };
}

export interface ProjectionEngineOptions {
  /** The projections whose documents are rendered; the state always tracks every entity. */
  projections: readonly ProjectionName[];
  loadArticle: ArticleLoader;
  /** Start from an existing state (default: empty). The engine takes it over: its `close()` closes it. */
  state?: ProjectionState;
  /** Article loads in flight during a render (default 32). */
  loadConcurrency?: number;
}

/** The result of rendering the queued documents. */
export interface Rendered {
  ops: DocOp[];
  /** Documents that could not be rendered for good (their article event cannot be read). */
  failures: DeadLetter[];
  /** Articles whose fields had to be read back from the log (fan-out). */
  loaded: number;
}

/**
 * The projection engine: applies events to the shared {@link ProjectionState}, queues
 * the documents each event changed, and renders the queue into versioned writes. The
 * loop around it (live projector, reindex) decides when to render and where to write.
 */
export interface ProjectionEngine {
  readonly state: ProjectionState;
  /**
   * Apply an event. Its changed documents are queued for every rendered projection for
   * which `queue(projection)` is true (default: all); returns the changes either way.
   */
  apply(seq: number, event: ContentEvent, queue?: (projection: ProjectionName) => boolean): Changes;
  /** Queue documents explicitly (a hand-over to an index that is behind). */
  queue(projection: ProjectionName, ids: Iterable<string>): void;
  /** Documents queued. */
  readonly queued: number;
  /**
   * Render every queued document at the current position into ops for `indexOf(projection)`.
   * The queue is cleared only when rendering succeeds; a transient failure (the log
   * unreachable while reading an article back) throws and leaves it intact.
   */
  render(indexOf: (projection: ProjectionName) => string, signal?: AbortSignal): Promise<Rendered>;
  /** Close the state (its temporary files); idempotent. */
  close(): void;
  /** `close()`, for a `using` declaration. */
  [Symbol.dispose](): void;
}

/** Create a projection engine. */
export function createProjectionEngine(options: ProjectionEngineOptions): ProjectionEngine {
  const state = options.state ?? createProjectionState();
  const rendered = new Set(options.projections);
  const concurrency = Math.max(1, options.loadConcurrency ?? 32);
  const queues: Record<ProjectionName, Set<string>> = {
    articles: new Set(),
    images: new Set(),
    bylines: new Set(),
  };
  /** Full states (bodies included) of articles whose own event is queued: no read-back needed. */
  const fullStates = new Map<string, ArticleState>();

  function enqueue(projection: ProjectionName, ids: Iterable<string>) {
    if (!rendered.has(projection)) return;
    const queue = queues[projection];
    for (const id of ids) queue.add(id);
  }

  async function loadAll(
    ids: string[],
    signal: AbortSignal | undefined,
  ): Promise<{ states: Map<string, ArticleState>; failures: Map<string, string> }> {
    const states = new Map<string, ArticleState>();
    const failures = new Map<string, string>();
    let next = 0;
    async function worker() {
      while (next < ids.length) {
        signal?.throwIfAborted();
        const id = ids[next++]!;
        const record = state.article(id);
        if (!record || record.retracted) continue;
        try {
          const event = await options.loadArticle(id, record.lastSeq, signal);
          states.set(id, state.articleStateFrom(record, event));
        } catch (err) {
          if (err instanceof TransientError || signal?.aborted) throw err;
          failures.set(id, (err as Error).message);
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    return { states, failures };
  }

  return {
    state,
    apply(seq, event, queue) {
      const changes = state.apply(seq, event);
      // No closure per event: tsx keeps function names by defining a property on each one.
      if (!queue || queue('articles')) {
        enqueue('articles', changes.articles);
        if (changes.article && rendered.has('articles')) fullStates.set(changes.article.id, changes.article);
        else if (event.entityType === 'article') fullStates.delete(event.entityId);
      }
      if (!queue || queue('images')) enqueue('images', changes.images);
      if (!queue || queue('bylines')) enqueue('bylines', changes.bylines);
      return changes;
    },
    queue: enqueue,
    get queued() {
      return queues.articles.size + queues.images.size + queues.bylines.size;
    },
    async render(indexOf, signal) {
      const ops: DocOp[] = [];
      const failures: DeadLetter[] = [];
      const at = new Date().toISOString();

      const articleIndex = queues.articles.size > 0 ? indexOf('articles') : '';
      const toLoad: string[] = [];
      for (const id of queues.articles) {
        const record = state.article(id);
        if (!record || record.retracted) continue;
        const full = fullStates.get(id);
        if (!full || full.lastSeq !== record.lastSeq) toLoad.push(id);
      }
      const loaded = toLoad.length > 0 ? await loadAll(toLoad, signal) : undefined;

      for (const id of queues.articles) {
        const record = state.article(id);
        if (!record) continue;
        if (record.retracted) {
          ops.push({
            projection: 'articles',
            index: articleIndex,
            id,
            action: 'delete',
            version: record.lastSeq,
          });
          continue;
        }
        const failure = loaded?.failures.get(id);
        if (failure !== undefined) {
          failures.push({
            kind: 'rejected',
            projection: 'articles',
            index: articleIndex,
            seq: record.lastSeq,
            docId: id,
            reason: `cannot read the article back from the log: ${failure}`,
            at,
          });
          continue;
        }
        const full = loaded?.states.get(id) ?? fullStates.get(id);
        if (!full) continue;
        const doc = state.renderArticle(full);
        if (!doc) continue;
        ops.push({
          projection: 'articles',
          index: articleIndex,
          id,
          action: 'index',
          version: doc.lineage.asOfSeq,
          source: docJson(doc),
        });
      }

      if (queues.images.size > 0) {
        const index = indexOf('images');
        for (const id of queues.images) {
          const doc = state.renderImage(id);
          if (doc === undefined) continue;
          if (doc === null) {
            const image = state.image(id)!;
            ops.push({ projection: 'images', index, id, action: 'delete', version: image.lastSeq });
          } else {
            const source = JSON.stringify(doc);
            ops.push({
              projection: 'images',
              index,
              id,
              action: 'index',
              version: doc.lineage.asOfSeq,
              source,
            });
          }
        }
      }

      if (queues.bylines.size > 0) {
        const index = indexOf('bylines');
        for (const id of queues.bylines) {
          const doc = state.renderByline(id);
          if (!doc) continue;
          const source = JSON.stringify(doc);
          ops.push({
            projection: 'bylines',
            index,
            id,
            action: 'index',
            version: doc.lineage.asOfSeq,
            source,
          });
        }
      }

      queues.articles.clear();
      queues.images.clear();
      queues.bylines.clear();
      fullStates.clear();
      return { ops, failures, loaded: toLoad.length };
    },
    close() {
      state.close();
    },
    [Symbol.dispose]() {
      state.close();
    },
  };
}
