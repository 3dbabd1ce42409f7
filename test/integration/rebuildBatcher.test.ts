import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { BATCH_BYTES, createRebuildBatcher } from '../../projectors/rebuild/rebuildBatcher.ts';
import {
  addBulkStats,
  type BulkWriter,
  createBulkWriter,
  type DocOp,
  emptyBulkStats,
} from '../../projectors/write/bulkWriter.ts';
import { createDeadLetterStore } from '../../projectors/write/deadLetters.ts';
import { withNamespace } from '../support/env.ts';

/** The real bulk writer, recording the ids of each request and holding requests while `hold` is set. */
function gatedWriter(inner: BulkWriter) {
  const requests: string[][] = [];
  let gate: Promise<void> | undefined;
  let open = () => {};
  return {
    requests,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      gate = undefined;
      open();
    },
    writer: {
      async write(ops, signal, body) {
        requests.push(ops.map((op) => op.id));
        await gate;
        return inner.write(ops, signal, body);
      },
    } satisfies BulkWriter,
  };
}

const op = (index: string, id: string, n: number): DocOp => ({
  projection: 'articles',
  index,
  id,
  action: 'index',
  version: n,
  versionType: 'internal',
  source: JSON.stringify({ id, n }),
});

describe('rebuild batcher', () => {
  test('writes a document added twice to one batch once, the last write', () =>
    withNamespace(async (ns) => {
      const client = ns.es();
      const index = `${ns.config.namespace}-batcher`;
      await client.indices.create({ index });
      const deadLetters = createDeadLetterStore({ client, names: ns.names });
      const gated = gatedWriter(createBulkWriter({ client, deadLetters }));
      const totals = emptyBulkStats();
      const batcher = createRebuildBatcher({
        writer: gated.writer,
        deadLetters,
        batchDocs: 100,
        maxInFlight: 2,
        signal: new AbortController().signal,
        onCommit: (stats) => addBulkStats(totals, stats),
      });
      assert.equal(batcher.add(op(index, 'a', 1)), false);
      assert.equal(batcher.add(op(index, 'a', 2)), false);
      await batcher.flush(2);
      assert.deepEqual(gated.requests, [['a']]);
      assert.equal(totals.indexed, 1);
      const doc = await client.get<{ n: number }>({ index, id: 'a' });
      assert.equal(doc._source?.n, 2);
    }));

  test('a write of a document in flight waits for that flight: the writes of one document land in order', () =>
    withNamespace(async (ns) => {
      const client = ns.es();
      const index = `${ns.config.namespace}-batcher`;
      await client.indices.create({ index });
      const deadLetters = createDeadLetterStore({ client, names: ns.names });
      const gated = gatedWriter(createBulkWriter({ client, deadLetters }));
      const batcher = createRebuildBatcher({
        writer: gated.writer,
        deadLetters,
        batchDocs: 100,
        maxInFlight: 3,
        signal: new AbortController().signal,
        onCommit: () => {},
      });
      gated.hold();
      batcher.add(op(index, 'a', 1));
      await batcher.submit(1);
      batcher.add(op(index, 'a', 2));
      batcher.add(op(index, 'b', 1));
      await batcher.submit(2);
      // `a` is in flight: only `b` went with the second batch.
      assert.deepEqual(gated.requests, [['a'], ['b']]);
      gated.release();
      await batcher.flush(2);
      assert.deepEqual(gated.requests, [['a'], ['b'], ['a']]);
      const doc = await client.get<{ n: number }>({ index, id: 'a' });
      assert.equal(doc._source?.n, 2);
    }));

  test('deferred writes are bounded: past BATCH_BYTES behind a flight that does not land, submit waits for it', () =>
    withNamespace(async (ns) => {
      const client = ns.es();
      const index = `${ns.config.namespace}-batcher`;
      await client.indices.create({ index });
      const deadLetters = createDeadLetterStore({ client, names: ns.names });
      const gated = gatedWriter(createBulkWriter({ client, deadLetters }));
      const batcher = createRebuildBatcher({
        writer: gated.writer,
        deadLetters,
        batchDocs: 1000,
        maxInFlight: 3,
        signal: new AbortController().signal,
        onCommit: () => {},
      });
      const filler = 'x'.repeat(512 * 1024);
      const big = (id: string, n: number): DocOp => ({
        ...op(index, id, n),
        source: JSON.stringify({ id, n, filler }),
      });
      const docs = Math.ceil(BATCH_BYTES / filler.length);
      // A flight that does not land (Elasticsearch down): its documents' next writes are deferred.
      gated.hold();
      for (let i = 0; i < docs; i++) batcher.add(big(`d${i}`, 1));
      await batcher.submit(1);
      const full = Array.from({ length: docs }, (_, i) => batcher.add(big(`d${i}`, 2)));
      assert.deepEqual(full.slice(0, -1), Array(docs - 1).fill(false));
      assert.equal(full.at(-1), true, 'a batch worth of deferred writes makes the batcher full');
      assert.equal(batcher.buffered.deferred, docs);
      assert.ok(batcher.buffered.bytes >= 2 * BATCH_BYTES, `${batcher.buffered.bytes} bytes held`);
      const submitted = batcher.submit(2).then(() => 'submitted');
      assert.equal(await Promise.race([submitted, delay(500, 'waiting')]), 'waiting');
      gated.release();
      assert.equal(await submitted, 'submitted');
      await batcher.flush(2);
      assert.deepEqual(batcher.buffered, { batches: 0, bytes: 0, deferred: 0 });
      assert.deepEqual(
        gated.requests.map((ids) => ids.length),
        [docs, docs],
      );
      const doc = await client.get<{ n: number }>({ index, id: 'd0', _source_excludes: ['filler'] });
      assert.equal(doc._source?.n, 2);
    }));
});
