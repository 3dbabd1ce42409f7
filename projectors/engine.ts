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

/** What the engine's parts share: the state, the render queues and the articles already in memory. */
interface EngineContext {
  state: ProjectionState;
  /** The projections whose documents are rendered. */
  rendered: ReadonlySet<ProjectionName>;
  loadArticle: ArticleLoader;
  /** Article loads in flight during a render. */
  concurrency: number;
  queues: Record<ProjectionName, Set<string>>;
  /** Full states (bodies included) of articles whose own event is queued: no read-back needed. */
  fullStates: Map<string, ArticleState>;
}

interface LoadedArticles {
  states: Map<string, ArticleState>;
  /** Why an article could not be read back, by id. */
  failures: Map<string, string>;
}

function enqueue(ctx: EngineContext, projection: ProjectionName, ids: Iterable<string>) {
  if (!ctx.rendered.has(projection)) return;
  const queue = ctx.queues[projection];
  for (const id of ids) queue.add(id);
}

/** Queued live articles whose full state is not in memory at their current sequence (fan-out). */
function articlesToLoad(ctx: EngineContext): string[] {
  const toLoad: string[] = [];
  for (const id of ctx.queues.articles) {
    const record = ctx.state.article(id);
    if (!record || record.retracted) continue;
    const full = ctx.fullStates.get(id);
    if (!full || full.lastSeq !== record.lastSeq) toLoad.push(id);
  }
  return toLoad;
}

/**
 * Read the articles back from the log, `concurrency` at a time. A transient failure (or
 * an abort) throws; any other failure is the article's, kept to be dead-lettered.
 */
async function loadArticles(
  ctx: EngineContext,
  ids: string[],
  signal: AbortSignal | undefined,
): Promise<LoadedArticles> {
  const states = new Map<string, ArticleState>();
  const failures = new Map<string, string>();
  let next = 0;
  async function worker() {
    while (next < ids.length) {
      signal?.throwIfAborted();
      const id = ids[next++]!;
      const record = ctx.state.article(id);
      if (!record || record.retracted) continue;
      try {
        const event = await ctx.loadArticle(id, record.lastSeq, signal);
        states.set(id, ctx.state.articleStateFrom(record, event));
      } catch (err) {
        if (err instanceof TransientError || signal?.aborted) throw err;
        failures.set(id, (err as Error).message);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(ctx.concurrency, ids.length) }, worker));
  return { states, failures };
}

/** The queued articles' ops (a delete for a retracted one), and a dead letter for each that could not be read back. */
function renderArticles(
  ctx: EngineContext,
  index: string,
  loaded: LoadedArticles | undefined,
  at: string,
  ops: DocOp[],
  failures: DeadLetter[],
) {
  for (const id of ctx.queues.articles) {
    const record = ctx.state.article(id);
    if (!record) continue;
    if (record.retracted) {
      ops.push({
        projection: 'articles',
        index,
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
        index,
        seq: record.lastSeq,
        docId: id,
        reason: `cannot read the article back from the log: ${failure}`,
        at,
      });
      continue;
    }
    const full = loaded?.states.get(id) ?? ctx.fullStates.get(id);
    if (!full) continue;
    const doc = ctx.state.renderArticle(full);
    if (!doc) continue;
    ops.push({
      projection: 'articles',
      index,
      id,
      action: 'index',
      version: doc.lineage.asOfSeq,
      source: docJson(doc),
    });
  }
}

/** The queued images' ops: a delete for a removed image. */
function renderImages(ctx: EngineContext, index: string, ops: DocOp[]) {
  for (const id of ctx.queues.images) {
    const doc = ctx.state.renderImage(id);
    if (doc === undefined) continue;
    if (doc === null) {
      const image = ctx.state.image(id)!;
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

/** The queued bylines' ops. */
function renderBylines(ctx: EngineContext, index: string, ops: DocOp[]) {
  for (const id of ctx.queues.bylines) {
    const doc = ctx.state.renderByline(id);
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

/** Every queued document rendered into ops; the queues are cleared only when this succeeds. */
async function render(
  ctx: EngineContext,
  indexOf: (projection: ProjectionName) => string,
  signal: AbortSignal | undefined,
): Promise<Rendered> {
  const { queues } = ctx;
  const ops: DocOp[] = [];
  const failures: DeadLetter[] = [];
  const at = new Date().toISOString();
  const articleIndex = queues.articles.size > 0 ? indexOf('articles') : '';
  const toLoad = articlesToLoad(ctx);
  const loaded = toLoad.length > 0 ? await loadArticles(ctx, toLoad, signal) : undefined;
  renderArticles(ctx, articleIndex, loaded, at, ops, failures);
  if (queues.images.size > 0) renderImages(ctx, indexOf('images'), ops);
  if (queues.bylines.size > 0) renderBylines(ctx, indexOf('bylines'), ops);
  queues.articles.clear();
  queues.images.clear();
  queues.bylines.clear();
  ctx.fullStates.clear();
  return { ops, failures, loaded: toLoad.length };
}

/** Create a projection engine. */
export function createProjectionEngine(options: ProjectionEngineOptions): ProjectionEngine {
  const ctx: EngineContext = {
    state: options.state ?? createProjectionState(),
    rendered: new Set(options.projections),
    loadArticle: options.loadArticle,
    concurrency: Math.max(1, options.loadConcurrency ?? 32),
    queues: { articles: new Set(), images: new Set(), bylines: new Set() },
    fullStates: new Map(),
  };
  const { state, rendered, queues, fullStates } = ctx;
  return {
    state,
    apply(seq, event, queue) {
      const changes = state.apply(seq, event);
      // No closure per event: tsx keeps function names by defining a property on each one.
      if (!queue || queue('articles')) {
        enqueue(ctx, 'articles', changes.articles);
        if (changes.article && rendered.has('articles')) fullStates.set(changes.article.id, changes.article);
        else if (event.entityType === 'article') fullStates.delete(event.entityId);
      }
      if (!queue || queue('images')) enqueue(ctx, 'images', changes.images);
      if (!queue || queue('bylines')) enqueue(ctx, 'bylines', changes.bylines);
      return changes;
    },
    queue: (projection, ids) => enqueue(ctx, projection, ids),
    get queued() {
      return queues.articles.size + queues.images.size + queues.bylines.size;
    },
    render: (indexOf, signal) => render(ctx, indexOf, signal),
    close() {
      state.close();
    },
    [Symbol.dispose]() {
      state.close();
    },
  };
}
