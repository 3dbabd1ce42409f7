import type { DocOp } from './bulkWriter.ts';

/**
 * The NDJSON body of a bulk request as one buffer: every line UTF-8 encoded once, straight
 * into place. Handing the client an array of lines instead makes it concatenate them into
 * one string, measure that string's UTF-8 length and encode it again; on a 1 GB rebuild
 * that was a fifth of the projector's CPU (`presslog bench replay`, profiled).
 */
export function encodeBulkBody(lines: readonly (string | Uint8Array)[], pool?: BulkBodyPool): Buffer {
  let bytes = lines.length;
  for (const line of lines) bytes += typeof line === 'string' ? Buffer.byteLength(line) : line.length;
  const body = pool ? pool.take(bytes) : Buffer.allocUnsafe(bytes);
  let offset = 0;
  for (const line of lines) {
    if (typeof line === 'string') offset += body.write(line, offset);
    else {
      body.set(line, offset);
      offset += line.length;
    }
    body[offset++] = 0x0a;
  }
  return body;
}

/**
 * Buffers for request bodies, used again once their request is answered. A rebuild sends
 * ~8 MiB bodies back to back; a new buffer for each is memory outside the JavaScript heap
 * that only a full collection returns, and those came rarely enough that ~100 MiB of
 * answered bodies stayed resident (`presslog reindex`, `external` at the end of the write
 * phase). Kept: as many buffers as requests were ever in flight at once, at most four.
 */
export interface BulkBodyPool {
  /** A buffer of exactly `bytes` (a view of a pooled one); give it back when answered. */
  take(bytes: number): Buffer;
  give(body: Buffer): void;
}

export function createBulkBodyPool(): BulkBodyPool {
  const free: Buffer[] = [];
  return {
    take(bytes) {
      const at = free.findIndex((b) => b.length >= bytes);
      // Rounded up so that the next, slightly larger body fits too.
      const buffer =
        at === -1 ? Buffer.allocUnsafeSlow(Math.max(1 << 20, bytes + (bytes >> 3))) : free.splice(at, 1)[0]!;
      return buffer.subarray(0, bytes);
    },
    give(body) {
      const whole = Buffer.from(body.buffer, 0, body.buffer.byteLength);
      if (free.length < 4) free.push(whole);
    },
  };
}

/**
 * A bulk request body written as its documents arrive: each op's action line and source
 * are encoded once, straight into a buffer of the pool, and that buffer is the request's
 * body. The op's `source` becomes a view of its bytes there (what a retry of the op alone,
 * or its dead letter, reads), so the buffer goes back to the pool only when the request
 * and its retries are settled ({@link BulkBodyBuilder.release}).
 *
 * This replaced a copy of each rendered document into shared slabs, then a second copy
 * into the request body: one copy fewer of every byte a rebuild sends, and no memory
 * outside the heap that only the collector returns (`presslog reindex`, 300k events:
 * external memory at the end of the write phase and major collections, see projections.md).
 */
export interface BulkBodyBuilder {
  /** Bytes written so far. */
  readonly bytes: number;
  /** Append `op`, its source joined from `parts` (for `index`), and point `op.source` at it. */
  append(op: DocOp, parts?: readonly (string | Uint8Array)[]): void;
  /** The body so far: every op appended, in order. */
  body(): Buffer;
  /** Give the buffer back; the ops' sources must not be read after this. */
  release(): void;
}

export function createBulkBodyBuilder(pool: BulkBodyPool, capacity: number): BulkBodyBuilder {
  let buffer = pool.take(capacity);
  let offset = 0;
  const ensure = (most: number) => {
    if (offset + most <= buffer.length) return;
    // Rare (a very large document): a larger buffer. The ops already appended keep their
    // views of the old one, which is therefore not given back.
    const larger = pool.take(Math.max(buffer.length * 2, offset + most));
    larger.set(buffer.subarray(0, offset));
    buffer = larger;
  };
  const put = (part: string | Uint8Array) => {
    if (typeof part === 'string') offset += buffer.write(part, offset);
    else {
      buffer.set(part, offset);
      offset += part.length;
    }
  };
  return {
    get bytes() {
      return offset;
    },
    append(op, parts = []) {
      const action = actionLine(op);
      // At most three bytes per UTF-16 unit (a surrogate pair: four bytes for two units).
      let most = action.length * 3 + 2;
      for (const part of parts) most += typeof part === 'string' ? part.length * 3 : part.length;
      ensure(most);
      put(action);
      buffer[offset++] = 0x0a;
      if (op.action !== 'index') return;
      const start = offset;
      for (const part of parts) put(part);
      op.source = buffer.subarray(start, offset);
      buffer[offset++] = 0x0a;
    },
    body: () => buffer.subarray(0, offset),
    release() {
      pool.give(buffer);
    },
  };
}

/** The action line of `op`: its index, id and version check. */
export function actionLine(op: DocOp): string {
  const meta =
    op.versionType === 'internal'
      ? { _index: op.index, _id: op.id }
      : { _index: op.index, _id: op.id, version: op.version, version_type: 'external' };
  return JSON.stringify(op.action === 'index' ? { index: meta } : { delete: meta });
}
