import { commitBatch } from './commit.ts';
import { type Entry, entryKey } from './entry.ts';
import type { IngestRun } from './ingestRun.ts';
import { deferArticle, prepareBatch } from './prepareBatch.ts';

/**
 * Groups a run's records into batches and pipelines them: one batch commits (appends,
 * waits for acks) while the next is read and prepared.
 */
export interface Batcher {
  /** Add a record to the batch; an id already in the batch closes it first (its decision depends on the earlier one). */
  add(entry: Entry, final: boolean): Promise<void>;
  /** Prepare the current batch and start committing it (once the one before has committed). */
  flush(final: boolean): Promise<void>;
  /** Wait for the batch being committed; a commit's error is thrown here. */
  settle(): Promise<void>;
  /** Wait for a commit still running, its error ignored: an error path must not leave it unobserved. */
  abandon(): Promise<void>;
}

export function createBatcher(run: IngestRun): Batcher {
  let committing: Promise<void> | undefined;
  let committingKeys = new Set<string>();
  let commitError: unknown;
  let batch: Entry[] = [];
  let batchKeys = new Set<string>();

  async function settle(): Promise<void> {
    if (committing) await committing;
    committing = undefined;
    committingKeys = new Set();
    if (commitError) throw commitError;
  }

  async function flush(final: boolean): Promise<void> {
    const current = batch;
    const keys = batchKeys;
    batch = [];
    batchKeys = new Set();
    // Interrupted: stop intake; the batch in flight finishes, this one is not started.
    if (current.length === 0 || run.signal?.aborted) return;
    // A batch touching an entity the committing batch appends must see that append.
    if (run.dryRun || [...keys].some((k) => committingKeys.has(k))) await settle();
    const decided = await prepareBatch(run, current, final);
    await settle();
    const at = run.settings.now().toISOString();
    committingKeys = keys;
    committing = commitBatch(run, decided, at).then(run.progress, (err: unknown) => {
      commitError = err;
    });
  }

  async function add(entry: Entry, final: boolean): Promise<void> {
    if (!final && entry.record.kind === 'article' && run.deferred.holds(entry.record.id)) {
      await deferArticle(run, entry);
      return;
    }
    const key = entryKey(entry);
    if (batchKeys.has(key)) await flush(final);
    batch.push(entry);
    batchKeys.add(key);
    if (batch.length >= run.settings.batchSize) await flush(final);
  }

  return {
    add,
    flush,
    settle,
    abandon: async () => {
      await committing?.catch(() => {});
    },
  };
}
