import { createBulkBodyBuilder, createBulkBodyPool } from '../write/bulkBody.ts';
import type { BulkStats, BulkWriter, DocOp } from '../write/bulkWriter.ts';
import type { DeadLetter, DeadLetterStore } from '../write/deadLetters.ts';
import { createWritePipeline, type PipelineBatch, writeBatch } from '../write/pipeline.ts';

/** A batch is submitted at this many bytes of request body (or at `batchDocs` documents). */
export const BATCH_BYTES = 8 * 1024 * 1024;

export interface RebuildBatcherOptions {
  writer: BulkWriter;
  deadLetters: DeadLetterStore;
  /** Documents per batch. */
  batchDocs: number;
  /** Bulk requests in flight. */
  maxInFlight: number;
  /** Called with each batch's stats, in submission order, once it is written. */
  onCommit: (stats: BulkStats) => void;
  signal: AbortSignal;
}

/**
 * The rebuild's batches, written through the shared {@link writeBatch} step and write
 * pipeline. What the live projector's batches do not need, and this adds:
 *
 * - the request body is encoded as documents arrive (see createBulkBodyBuilder), not
 *   from the finished batch: one copy fewer of every byte a rebuild sends;
 * - a document written twice in one batch is written once, last wins;
 * - a document is never in two concurrent requests. A rebuild's first pass writes without
 *   a version check (see the write phase), so two writes of one document must land in
 *   order: a write of a document in flight waits in `deferred` (newest only) and joins the
 *   first batch submitted after that flight ends. The live projector cannot defer: its
 *   checkpoint commits with each batch, and must never pass a write still waiting.
 */
export interface RebuildBatcher {
  /**
   * Add `op`, its source joined from `parts` (default: `op.source`). Returns true when
   * the batch is full: the caller then submits it (no await per document in the hot loop).
   */
  add(op: DocOp, parts?: readonly (string | Uint8Array)[]): boolean;
  /** Items to dead-letter with the next batch. */
  dead(items: readonly DeadLetter[]): void;
  /** Items waiting for the next batch to dead-letter them. */
  readonly deadPending: number;
  /** Submit the batch being built (waits while the pipeline is full). */
  submit(toSeq: number): Promise<void>;
  /** Submit everything, deferred writes included, and wait until it is written. */
  flush(toSeq: number): Promise<void>;
}

export function createRebuildBatcher(options: RebuildBatcherOptions): RebuildBatcher {
  const { batchDocs, signal } = options;
  const target = { writer: options.writer, deadLetters: options.deadLetters };
  const pipeline = createWritePipeline<PipelineBatch>({
    maxInFlight: options.maxInFlight,
    commit: async (_batch, stats) => options.onCommit(stats),
  });
  const bodies = createBulkBodyPool();
  const newBody = () => createBulkBodyBuilder(bodies, BATCH_BYTES + (1 << 20));
  let batch: DocOp[] = [];
  let body = newBody();
  /** Position in `batch` of each document. */
  let batchSlots = new Map<string, number>();
  /** False once an op replaced one already in the body: the body is then encoded anew from `batch`. */
  let bodyExact = true;
  let pendingDead: DeadLetter[] = [];
  /** Documents of the batches being written. */
  const writing: { keys: Set<string>; done: Promise<void> }[] = [];
  const deferred = new Map<string, DocOp>();
  const inFlight = (key: string) => writing.some((w) => w.keys.has(key));
  const sourceParts = (op: DocOp) => (op.source === undefined ? [] : [op.source]);

  const append = (key: string, op: DocOp, parts: readonly (string | Uint8Array)[]) => {
    body.append(op, parts);
    const slot = batchSlots.get(key);
    if (slot === undefined) {
      batchSlots.set(key, batch.length);
      batch.push(op);
    } else {
      batch[slot] = op;
      bodyExact = false;
    }
  };

  const submit = async (toSeq: number) => {
    for (const [key, op] of deferred) {
      if (inFlight(key)) continue;
      deferred.delete(key);
      append(key, op, sourceParts(op));
    }
    // An empty batch has an empty body: keep both for the next ops.
    if (batch.length === 0 && pendingDead.length === 0) return;
    const ops = batch;
    const dead = pendingDead;
    const keys = new Set(batchSlots.keys());
    const built = body;
    const exact = bodyExact;
    batch = [];
    batchSlots = new Map();
    body = newBody();
    bodyExact = true;
    pendingDead = [];
    let finished!: () => void;
    const entry = { keys, done: new Promise<void>((resolve) => (finished = resolve)) };
    writing.push(entry);
    await pipeline.submit({ toSeq, final: false }, async () => {
      try {
        return await writeBatch(target, { ops, dead, body: exact ? built.body() : undefined }, signal);
      } finally {
        // Settled: nothing reads the ops' sources any more.
        built.release();
        writing.splice(writing.indexOf(entry), 1);
        finished();
      }
    });
  };

  return {
    add(op, parts = sourceParts(op)) {
      const key = `${op.projection}/${op.id}`;
      if (inFlight(key)) {
        // Rare: held until its flight ends, as bytes of its own.
        if (op.action === 'index')
          op.source = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
        deferred.set(key, op);
        return false;
      }
      deferred.delete(key);
      append(key, op, parts);
      return batch.length >= batchDocs || body.bytes >= BATCH_BYTES;
    },
    dead(items) {
      pendingDead.push(...items);
    },
    get deadPending() {
      return pendingDead.length;
    },
    submit,
    async flush(toSeq) {
      await submit(toSeq);
      while (deferred.size > 0) {
        await Promise.race(writing.map((w) => w.done));
        await submit(toSeq);
      }
      await pipeline.drain();
    },
  };
}
