import type { Client } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import { backoffMs, sleep } from '../../log/async.ts';
import type { ProjectionName } from '../../schemas/names.ts';
import { actionLine, createBulkBodyPool, encodeBulkBody } from './bulkBody.ts';
import type { DeadLetter, DeadLetterStore } from './deadLetters.ts';
import { isRetryableEsError, isRetryableStatus } from './esRetry.ts';

/** One document write. `version` is the document's `lineage.asOfSeq`, used as external version. */
export interface DocOp {
  projection: ProjectionName;
  index: string;
  id: string;
  action: 'index' | 'delete';
  version: number;
  /** The serialized document (for `index`): JSON, or JSON already UTF-8 encoded. */
  source?: string | Uint8Array;
  /**
   * `external` (default): only a higher version replaces the document. `internal`: no
   * version check, the last write wins. Only for a rebuild's first pass into a fresh
   * index, where the caller keeps the writes of one document in order (see reindex).
   */
  versionType?: 'external' | 'internal';
}

/** A write's document as JSON text (decoded when it is held encoded). */
export function sourceText(op: Pick<DocOp, 'source'>): string | undefined {
  const { source } = op;
  if (source === undefined || typeof source === 'string') return source;
  return Buffer.from(source.buffer, source.byteOffset, source.byteLength).toString('utf8');
}

/** What happened to a set of writes. Conflicts are writes Elasticsearch already had newer: not errors. */
export interface BulkStats {
  ops: number;
  indexed: number;
  deleted: number;
  /** 409: the index already holds this or a newer version (a replay after a crash, a reorder). */
  conflicts: number;
  /** Deletes of documents that were not there. */
  notFound: number;
  deadLettered: number;
  /** Requests or items sent again after a transient failure. */
  retries: number;
  requests: number;
  bytes: number;
}

export function emptyBulkStats(): BulkStats {
  return {
    ops: 0,
    indexed: 0,
    deleted: 0,
    conflicts: 0,
    notFound: 0,
    deadLettered: 0,
    retries: 0,
    requests: 0,
    bytes: 0,
  };
}

export function addBulkStats<T extends BulkStats>(into: T, from: BulkStats): T {
  for (const key of Object.keys(emptyBulkStats()) as (keyof BulkStats)[]) into[key] += from[key];
  return into;
}

/** A transient failure the writer is waiting out (for status and progress output). */
export interface RetryNotice {
  error: string;
  attempt: number;
  waitMs: number;
  /** Items still pending. */
  pending: number;
  /** How long these items have been waiting to be written (since their first attempt). */
  stalledMs: number;
}

export interface BulkWriterOptions {
  client: Client;
  deadLetters: DeadLetterStore;
  logger?: Logger;
  /** Largest request body (default 16 MiB); a batch is split into requests below it. */
  maxRequestBytes?: number;
  /**
   * Timeout of one bulk request (default: the client's `requestTimeout`, which
   * createEsClient always sets, from ELASTICSEARCH_REQUEST_TIMEOUT_MS).
   */
  requestTimeoutMs?: number;
  /** Backoff bounds for transient failures (default 200 ms .. 15 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called whenever the writer waits out a transient failure. */
  onRetry?: (notice: RetryNotice) => void;
}

/** Writes documents with external versions; see {@link createBulkWriter}. */
export interface BulkWriter {
  /**
   * Write the ops and resolve once every one is settled in Elasticsearch: written,
   * a version conflict (already newer: skipped), or dead-lettered. Transient failures
   * (Elasticsearch unreachable, 429, 5xx) are retried with backoff for as long as it
   * takes; only an abort, or an error no retry can fix (authentication), throws.
   * `body`, when given, is the request body of exactly `ops` in order (a
   * {@link BulkBodyBuilder}'s): sent as is while it is whole, never given to a pool.
   */
  write(ops: readonly DocOp[], signal?: AbortSignal, body?: Buffer): Promise<BulkStats>;
}

/**
 * The parts of a bulk response the writers read, and all Elasticsearch sends back: each
 * item's status and error. The rest of an item (`_index`, `_id`, `_version`, `result`,
 * `_shards`, `_seq_no`, `_primary_term`) is ~200 bytes per document to serialize, send
 * and parse for nothing.
 */
const BULK_FILTER = 'errors,items.*.status,items.*.error';

export interface BulkResponse {
  errors: boolean;
  items: Record<string, ItemResult>[];
}

/** Send a bulk request whose body {@link encodeBulkBody} (bulkBody.ts) made. */
export async function sendBulk(
  client: Client,
  body: Buffer,
  options: { signal?: AbortSignal; requestTimeout?: number; refresh?: boolean | 'wait_for' } = {},
): Promise<BulkResponse> {
  return client.transport.request<BulkResponse>(
    {
      method: 'POST',
      path: '/_bulk',
      bulkBody: body,
      querystring: { refresh: String(options.refresh ?? false), filter_path: BULK_FILTER },
    },
    {
      signal: options.signal,
      ...(options.requestTimeout === undefined ? {} : { requestTimeout: options.requestTimeout }),
      maxRetries: 0,
      // The client's default ('replace') deep-copies a failed request's diagnostics to
      // redact secrets, the body included: a Buffer becomes an object with one property
      // per byte, ~100 bytes of heap for every byte sent: ~800 MB for each failed 8 MiB
      // request during an Elasticsearch outage (issue #26: a reindex's RSS at 1.1 GB).
      // 'remove' drops the headers and options, where credentials are, and copies nothing.
      redaction: { type: 'remove' },
    },
  );
}

export interface ItemResult {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { reason?: string } };
}

/** `body`: prepared by the caller (and theirs); otherwise encoded from `lines`. */
interface Chunk {
  ops: readonly DocOp[];
  lines: (string | Uint8Array)[];
  bytes: number;
  body?: Buffer;
}

/** `ops` in request-sized chunks, each below `maxRequestBytes` (unless one op alone is larger). */
function chunks(ops: readonly DocOp[], maxRequestBytes: number): Chunk[] {
  const out: Chunk[] = [];
  let current: Chunk & { ops: DocOp[] } = { ops: [], lines: [], bytes: 0 };
  for (const op of ops) {
    const action = actionLine(op);
    const size = action.length + 1 + (op.source ? op.source.length + 1 : 0);
    if (current.ops.length > 0 && current.bytes + size > maxRequestBytes) {
      out.push(current);
      current = { ops: [], lines: [], bytes: 0 };
    }
    current.ops.push(op);
    current.lines.push(action);
    if (op.action === 'index') current.lines.push(op.source ?? '{}');
    current.bytes += size;
  }
  if (current.ops.length > 0) out.push(current);
  return out;
}

/**
 * Create the bulk writer of the projectors. Every write carries the document's version
 * (`lineage.asOfSeq`, a stream sequence) with `version_type: external`, so re-applying
 * old events, a replay after a crash, or a retried item that lost a race can never
 * replace a newer document: Elasticsearch answers 409 and the writer counts it as skipped.
 */
export function createBulkWriter(options: BulkWriterOptions): BulkWriter {
  const { client, deadLetters } = options;
  const maxRequestBytes = options.maxRequestBytes ?? 16 * 1024 * 1024;
  const requestTimeout = options.requestTimeoutMs;
  const initial = options.initialBackoffMs ?? 200;
  const max = options.maxBackoffMs ?? 15_000;
  const log = options.logger?.child({ component: 'bulk-writer' });
  const bodies = createBulkBodyPool();

  async function writeChunk(chunk: Chunk, stats: BulkStats, signal?: AbortSignal): Promise<void> {
    let pending = chunk;
    const since = Date.now();
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      let items: ItemResult[];
      try {
        stats.requests++;
        stats.bytes += pending.bytes;
        const body = pending.body ?? encodeBulkBody(pending.lines, bodies);
        try {
          const response = await sendBulk(client, body, { signal, requestTimeout });
          items = response.items.map((item) => Object.values(item)[0]!);
        } finally {
          // Answered or failed, the request no longer reads its body.
          if (body !== pending.body) bodies.give(body);
        }
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!isRetryableEsError(err)) throw err;
        const waitMs = backoffMs(attempt, initial, max);
        const notice = {
          error: (err as Error).message,
          attempt: attempt + 1,
          waitMs,
          pending: pending.ops.length,
          stalledMs: Date.now() - since,
        };
        log?.warn(notice, 'bulk request failed; retrying');
        options.onRetry?.(notice);
        stats.retries++;
        await sleep(waitMs, signal);
        continue;
      }
      const { retry, dead, lastRetryReason } = settle(pending.ops, items, stats);
      if (dead.length > 0) {
        log?.error(
          { count: dead.length, first: { id: dead[0]!.docId, reason: dead[0]!.reason } },
          'documents rejected; dead-lettered',
        );
        await deadLetters.record(dead, signal);
        stats.deadLettered += dead.length;
      }
      if (retry.length === 0) return;
      // A subset of a chunk always fits in one request.
      pending = chunks(retry, maxRequestBytes)[0]!;
      const waitMs = backoffMs(attempt, initial, max);
      const notice = {
        error: lastRetryReason,
        attempt: attempt + 1,
        waitMs,
        pending: retry.length,
        stalledMs: Date.now() - since,
      };
      log?.warn(notice, 'bulk items rejected for load; retrying them');
      options.onRetry?.(notice);
      stats.retries += retry.length;
      await sleep(waitMs, signal);
    }
  }

  return {
    async write(ops, signal, body) {
      const stats = emptyBulkStats();
      stats.ops = ops.length;
      const prepared = body && body.length <= maxRequestBytes && { ops, lines: [], bytes: body.length, body };
      for (const chunk of prepared ? [prepared] : chunks(ops, maxRequestBytes))
        await writeChunk(chunk, stats, signal);
      return stats;
    },
  };
}

/**
 * Count each item of a bulk response into `stats`; returns the ops to send again
 * (rejected for load) and the items to dead-letter (rejected for good). A deleted index
 * throws: nothing written now could stay consistent.
 */
function settle(
  ops: readonly DocOp[],
  items: readonly (ItemResult | undefined)[],
  stats: BulkStats,
): { retry: DocOp[]; dead: DeadLetter[]; lastRetryReason: string } {
  const retry: DocOp[] = [];
  const dead: DeadLetter[] = [];
  let lastRetryReason = '';
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const item = items[i];
    const status = item?.status ?? 0;
    if (status >= 200 && status < 300) {
      if (op.action === 'index') stats.indexed++;
      else stats.deleted++;
    } else if (status === 409) {
      stats.conflicts++;
    } else if (status === 404 && op.action === 'delete' && !item?.error) {
      stats.notFound++;
    } else if (isRetryableStatus(status) || status === 0) {
      retry.push(op);
      lastRetryReason = item?.error?.reason ?? `status ${status}`;
    } else if (item?.error?.type === 'index_not_found_exception') {
      // The index was deleted under us: nothing written now could stay consistent.
      throw new Error(`index ${op.index} no longer exists: ${item.error.reason}`);
    } else {
      const reason = [item?.error?.type, item?.error?.reason, item?.error?.caused_by?.reason]
        .filter(Boolean)
        .join(': ');
      dead.push({
        kind: 'rejected',
        projection: op.projection,
        index: op.index,
        seq: op.version,
        docId: op.id,
        reason: reason || `status ${status}`,
        source: sourceText(op),
        at: new Date().toISOString(),
      });
    }
  }
  return { retry, dead, lastRetryReason };
}
