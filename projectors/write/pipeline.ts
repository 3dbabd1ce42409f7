import type { Logger } from 'pino';
import { type BulkStats, type BulkWriter, type DocOp, emptyBulkStats } from './bulkWriter.ts';
import type { DeadLetter, DeadLetterStore } from './deadLetters.ts';

/** A batch of writes and what committing it means: everything up to `toSeq` is applied. */
export interface PipelineBatch {
  /** Highest stream sequence whose effects the batch completes. */
  toSeq: number;
  /** Stored time of the event at `toSeq`. */
  time?: Date;
  /** The end of a read of the log (caught up): make the results visible now. */
  final: boolean;
}

export interface WritePipeline<B extends PipelineBatch> {
  /**
   * Start writing a batch (waits while `maxInFlight` batches are unfinished). Batches
   * are written concurrently but committed strictly in submission order, and never
   * after a failed one: the checkpoint cannot pass a write that failed.
   */
  submit(batch: B, write: () => Promise<BulkStats>): Promise<void>;
  /** Wait until every submitted batch is committed; throws the first failure. */
  drain(): Promise<void>;
  /** Batches submitted but not committed yet. */
  readonly inFlight: number;
}

/**
 * A bounded pipeline of bulk writes with in-order commits. Concurrent bulk requests keep
 * Elasticsearch busy while the next batch is projected; that is safe because every write
 * carries an external version (a later batch overtaking an earlier one just makes the
 * earlier one's stale writes 409). The commit step (checkpoint, refresh) is serialized.
 */
export function createWritePipeline<B extends PipelineBatch>(options: {
  maxInFlight: number;
  commit: (batch: B, stats: BulkStats) => Promise<void>;
}): WritePipeline<B> {
  const maxInFlight = Math.max(1, options.maxInFlight);
  const committed: Promise<void>[] = [];
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  let inFlight = 0;

  return {
    get inFlight() {
      return inFlight;
    },
    async submit(batch, write) {
      if (failure) throw failure;
      while (committed.length >= maxInFlight) {
        await committed[0]!.catch(() => {});
        if (failure) throw failure;
      }
      inFlight++;
      const written = write();
      // Keep an early rejection from being reported as unhandled before the chain reaches it.
      written.catch(() => {});
      const done = chain.then(async () => {
        if (failure) throw failure;
        const stats = await written;
        await options.commit(batch, stats);
      });
      chain = done.catch((err: unknown) => {
        failure ??= err;
      });
      const tracked = done.finally(() => {
        inFlight--;
        committed.splice(committed.indexOf(tracked), 1);
      });
      tracked.catch(() => {});
      committed.push(tracked);
    },
    async drain() {
      await chain;
      if (failure) throw failure;
    },
  };
}

/** What one batch writes: documents, and items that failed before they became documents. */
export interface BatchContent {
  ops: readonly DocOp[];
  /** Recorded before the documents are written; counted in the stats' `deadLettered`. */
  dead: readonly DeadLetter[];
  /** The request body of exactly `ops`, when the caller encoded it as they arrived (see BulkWriter.write). */
  body?: Buffer;
}

/**
 * The write step of a batch, the one both the live projector and the rebuild hand to
 * {@link WritePipeline.submit}: dead letters recorded first (they are data, not
 * exceptions), then the documents written by the bulk writer; resolves with the stats
 * the commit step adds up.
 */
export async function writeBatch(
  target: { writer: BulkWriter; deadLetters: DeadLetterStore; logger?: Logger },
  content: BatchContent,
  signal?: AbortSignal,
): Promise<BulkStats> {
  const { ops, dead } = content;
  if (dead.length > 0) {
    target.logger?.error({ count: dead.length, first: dead[0] }, 'dead-lettering');
    await target.deadLetters.record(dead, signal);
  }
  const stats = ops.length > 0 ? await target.writer.write(ops, signal, content.body) : emptyBulkStats();
  stats.deadLettered += dead.length;
  return stats;
}
