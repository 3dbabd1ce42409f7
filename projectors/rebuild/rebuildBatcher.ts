import {
  type BulkBodyBuilder,
  type BulkBodyPool,
  createBulkBodyBuilder,
  createBulkBodyPool,
} from '../write/bulkBody.ts';
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
  /** What the write side holds now: the bound the reader waits on (see {@link BufferedWrites}). */
  readonly buffered: BufferedWrites;
}

/**
 * Writes held in memory: batches submitted and not settled (in flight or waiting out a
 * failure between retries), the batch being built, and deferred writes. Bounded while
 * Elasticsearch fails or hangs: at most `maxInFlight` batches (the pipeline), each
 * below {@link BATCH_BYTES} plus one document, the one being built, and deferred
 * writes below {@link BATCH_BYTES} (past that the caller's next submit waits for a
 * flight to land). The reader of the log only reads on while the caller's submit
 * returns, so this bounds the rebuild's memory during an outage too.
 */
export interface BufferedWrites {
  batches: number;
  bytes: number;
  deferred: number;
}

export function createRebuildBatcher(options: RebuildBatcherOptions): RebuildBatcher {
  const { batchDocs, signal } = options;
  const target = { writer: options.writer, deadLetters: options.deadLetters };
  const pipeline = createWritePipeline<PipelineBatch>({
    maxInFlight: options.maxInFlight,
    commit: async (_batch, stats) => options.onCommit(stats),
  });
  const bodies = createBulkBodyPool();
  let open = openBatch(bodies);
  let pendingDead: DeadLetter[] = [];
  const flights = createFlights();
  const deferred = new Map<string, DocOp>();
  let deferredBytes = 0;
  const held = { batches: 0, bytes: 0 };
  const undefer = (key: string) => {
    const op = deferred.get(key);
    if (!op) return;
    deferred.delete(key);
    deferredBytes -= op.source?.length ?? 0;
  };

  const submit = async (toSeq: number) => {
    // Too much held back behind batches that do not land (Elasticsearch down): wait for one.
    while (deferredBytes >= BATCH_BYTES && flights.size > 0) await flights.nextLanding();
    for (const [key, op] of deferred) {
      if (flights.has(key)) continue;
      undefer(key);
      appendTo(open, key, op, sourceParts(op));
    }
    // An empty batch has an empty body: keep both for the next ops.
    if (open.ops.length === 0 && pendingDead.length === 0) return;
    const { ops, slots, body, exact } = open;
    const dead = pendingDead;
    open = openBatch(bodies);
    pendingDead = [];
    const landed = flights.start(slots);
    // Held from here, waiting for a place in the pipeline included, until settled.
    const bytes = body.bytes;
    let started = false;
    held.batches++;
    held.bytes += bytes;
    const settled = () => {
      held.batches--;
      held.bytes -= bytes;
    };
    try {
      await pipeline.submit({ toSeq, final: false }, async () => {
        started = true;
        try {
          return await writeBatch(target, { ops, dead, body: exact ? body.body() : undefined }, signal);
        } finally {
          // Settled: nothing reads the ops' sources any more.
          settled();
          body.release();
          landed();
        }
      });
    } catch (err) {
      if (!started) settled();
      throw err;
    }
  };

  return {
    add(op, parts = sourceParts(op)) {
      const key = `${op.projection}/${op.id}`;
      if (flights.has(key)) {
        // Rare: held until its flight ends, as bytes of its own.
        if (op.action === 'index')
          op.source = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
        undefer(key);
        deferred.set(key, op);
        deferredBytes += op.source?.length ?? 0;
        // Full: the caller's submit then waits until they can be written.
        return deferredBytes >= BATCH_BYTES;
      }
      undefer(key);
      appendTo(open, key, op, parts);
      return open.ops.length >= batchDocs || open.body.bytes >= BATCH_BYTES;
    },
    dead(items) {
      pendingDead.push(...items);
    },
    get deadPending() {
      return pendingDead.length;
    },
    submit,
    get buffered() {
      return {
        batches: held.batches,
        bytes: held.bytes + open.body.bytes + deferredBytes,
        deferred: deferred.size,
      };
    },
    async flush(toSeq) {
      await submit(toSeq);
      while (deferred.size > 0) {
        await flights.nextLanding();
        await submit(toSeq);
      }
      await pipeline.drain();
    },
  };
}

const sourceParts = (op: DocOp) => (op.source === undefined ? [] : [op.source]);

/** The batch being built: one op per document, and its request body, written as the ops arrive. */
interface OpenBatch {
  ops: DocOp[];
  /** Position in `ops` of each document. */
  slots: Map<string, number>;
  body: BulkBodyBuilder;
  /** False once an op replaced one already in the body: the body is then encoded anew from `ops`. */
  exact: boolean;
}

function openBatch(bodies: BulkBodyPool): OpenBatch {
  return {
    ops: [],
    slots: new Map(),
    body: createBulkBodyBuilder(bodies, BATCH_BYTES + (1 << 20)),
    exact: true,
  };
}

/** Add `op` (document `key`), its source joined from `parts`; a document already in the batch is replaced. */
function appendTo(batch: OpenBatch, key: string, op: DocOp, parts: readonly (string | Uint8Array)[]): void {
  batch.body.append(op, parts);
  const slot = batch.slots.get(key);
  if (slot === undefined) {
    batch.slots.set(key, batch.ops.length);
    batch.ops.push(op);
  } else {
    batch.ops[slot] = op;
    batch.exact = false;
  }
}

/** The documents of the batches being written, by flight. */
function createFlights() {
  const flying: { keys: { has(key: string): boolean }; landed: Promise<void> }[] = [];
  return {
    get size() {
      return flying.length;
    },
    has: (key: string) => flying.some((f) => f.keys.has(key)),
    /** A flight of `keys` took off; call the result when it is settled. */
    start(keys: { has(key: string): boolean }): () => void {
      let land!: () => void;
      const flight = { keys, landed: new Promise<void>((resolve) => (land = resolve)) };
      flying.push(flight);
      return () => {
        flying.splice(flying.indexOf(flight), 1);
        land();
      };
    },
    /** Resolves when the next flight is settled. */
    nextLanding: () => Promise.race(flying.map((f) => f.landed)),
  };
}
