import { createReadStream, createWriteStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Client } from '@elastic/elasticsearch';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { applyLiveSettings, createProjectionIndex, deleteIndexes } from '../../../projectors/indexes.ts';
import { PROJECTIONS } from '../../../projectors/projections.ts';
import { createBulkBodyPool, encodeBulkBody } from '../../../projectors/write/bulkBody.ts';
import { sendBulk } from '../../../projectors/write/bulkWriter.ts';
import { type Names, PROJECTION_NAMES } from '../../../schemas/names.ts';
import type { ReplayRun } from './types.ts';

/** Export the final documents of the projections to an NDJSON bulk file (action + source lines). */
export async function exportDocs(
  es: Client,
  names: Names,
  file: string,
  target: Record<string, string>,
): Promise<number> {
  const out = createWriteStream(file);
  let count = 0;
  for (const projection of PROJECTION_NAMES) {
    let response = await es.search({
      index: names.alias(projection),
      scroll: '5m',
      size: 1000,
      query: { match_all: {} },
    });
    while (response.hits.hits.length > 0) {
      for (const hit of response.hits.hits) {
        const line = `${JSON.stringify({ index: { _index: target[projection], _id: hit._id } })}\n${JSON.stringify(hit._source)}\n`;
        if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
        count++;
      }
      response = await es.scroll({ scroll_id: response._scroll_id!, scroll: '5m' });
    }
    if (response._scroll_id) await es.clearScroll({ scroll_id: response._scroll_id }).catch(() => {});
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return count;
}

/** CPU seconds Elasticsearch's processes have used so far (all nodes). */
export async function esCpuSeconds(es: Client): Promise<number> {
  const stats = await es.nodes.stats({ metric: 'process' });
  let ms = 0;
  for (const node of Object.values(stats.nodes)) ms += node.process?.cpu?.total_in_millis ?? 0;
  return ms / 1000;
}

/** One bulk request, the same the projectors' bulk writer sends; any item error fails it. */
async function sendCeilingBulk(es: Client, batch: string[], bodies: ReturnType<typeof createBulkBodyPool>) {
  const body = encodeBulkBody(batch, bodies);
  const response = await sendBulk(es, body, { requestTimeout: 120_000 }).finally(() => bodies.give(body));
  if (response.errors)
    throw new Error(
      `ceiling bulk had errors: ${JSON.stringify(response.items.find((i) => Object.values(i)[0]?.error))}`,
    );
}

/**
 * The ceiling: the same final documents bulk-loaded straight into fresh indexes with the
 * same client, the same index settings (bulk mode, then live settings and a refresh), the
 * same request size (1000 documents or 8 MiB) and the same requests in flight (3).
 */
async function ceilingLoad(es: Client, file: string, indexes: string[]): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let lines: string[] = [];
  let bytes = 0;
  let docs = 0;
  const bodies = createBulkBodyPool();
  const flush = async () => {
    if (lines.length === 0) return;
    const batch = lines;
    lines = [];
    bytes = 0;
    docs = 0;
    while (inflight.size >= 3) await Promise.race(inflight);
    const p = sendCeilingBulk(es, batch, bodies).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const reader = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let pending: string | undefined;
  for await (const line of reader) {
    if (pending === undefined) {
      pending = line;
      continue;
    }
    lines.push(pending, line);
    bytes += pending.length + line.length + 2;
    docs++;
    pending = undefined;
    if (docs >= 1000 || bytes >= 8 * 1024 * 1024) await flush();
  }
  await flush();
  await Promise.all(inflight);
  for (const index of indexes) await applyLiveSettings(es, index);
  await es.indices.refresh({ index: indexes.join(',') });
}

/**
 * Read every message of the content stream, in order, through an ordered consumer (the
 * client and pull size a replay uses) and do nothing with it: what moving the log out of
 * NATS costs on this machine, in nats-server and in the reading process.
 */
async function readWholeLog(nc: NatsConnection, stream: string, lastSeq: number): Promise<number> {
  if (lastSeq === 0) return 0;
  const consumer = await jetstream(nc).consumers.get(stream, { opt_start_seq: 1 });
  let bytes = 0;
  try {
    const messages = await consumer.consume({ max_messages: 512, expires: 10_000 });
    for await (const m of messages) {
      bytes += m.data.length;
      if (m.info.streamSequence >= lastSeq || m.info.pending === 0) break;
    }
    await messages.close();
  } finally {
    await consumer.delete().catch(() => {});
  }
  return bytes;
}

/** Fresh bulk-mode indexes for the ceiling, named by `target`. */
async function createCeilingIndexes(es: Client, target: Record<string, string>): Promise<void> {
  for (const projection of PROJECTION_NAMES) {
    await createProjectionIndex(es, {
      index: target[projection]!,
      definition: PROJECTIONS[projection],
      mode: 'bulk',
      meta: {
        projection,
        fingerprint: PROJECTIONS[projection].fingerprint,
        state: 'building',
        createdAt: new Date().toISOString(),
      },
    });
  }
}

/**
 * One ceiling round into fresh bulk-mode indexes, optionally reading the whole log
 * meanwhile: its time to the end of both, this process's CPU and Elasticsearch's.
 */
export async function loadCeiling(
  run: ReplayRun,
  round: number,
  finalDocs: number,
  withRead: boolean,
): Promise<{ seconds: number; cpu: number; esCpu: number }> {
  const { es, nc } = run.options;
  const { target } = run;
  await createCeilingIndexes(es, target);
  run.options.log?.info({ round, docs: finalDocs, withRead }, 'loading the ceiling');
  const usedBefore = process.cpuUsage();
  const esBefore = await esCpuSeconds(es);
  const started = performance.now();
  const [, readBytes] = await Promise.all([
    ceilingLoad(es, run.file, Object.values(target)),
    withRead ? readWholeLog(nc, run.names.stream, run.lastSeq) : 0,
  ]);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(usedBefore);
  const esUsed = (await esCpuSeconds(es)) - esBefore;
  run.options.log?.debug({ round, withRead, readBytes }, 'ceiling loaded');
  await deleteIndexes(es, Object.values(target));
  return { seconds, cpu: (used.user + used.system) / 1e6, esCpu: esUsed };
}
