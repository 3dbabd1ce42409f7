import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@elastic/elasticsearch';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createContentLog } from '../../log/contentLog.ts';
import { openKeyRing } from '../../log/keyRing.ts';
import { loadMasterKey } from '../../log/masterKey.ts';
import type { ContentLog } from '../../log/types.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { createNames, type Names, PROJECTION_NAMES } from '../../schemas/names.ts';
import { type Measurement, measurement } from './measurement.ts';
import { benchLog } from './replay/benchLog.ts';
import { measureLatency } from './replay/latency.ts';
import {
  latencyMeasurements,
  partitionMeasurements,
  reindexMeasurements,
  replayDetails,
} from './replay/report.ts';
import { partitionRounds, replayRounds, sealedRounds } from './replay/rounds.ts';
import type { ReplayBenchOptions, ReplayBenchResult, ReplayRun } from './replay/types.ts';

/**
 * Append the generated log in batches of 2000; seconds it took. An entity's first event
 * expects no earlier one, as ingest appends a new item (a sealed log keeps those items'
 * keys in key packs).
 */
async function buildLog(options: ReplayBenchOptions, log: ContentLog): Promise<number> {
  const built = performance.now();
  let batch: { event: ContentEvent; expectedLastSeq?: number }[] = [];
  const seen = new Set<string>();
  for (const event of benchLog(options.events, options.bodyBytes ?? [2048, 20480])) {
    const entity = `${event.entityType}.${event.entityId}`;
    batch.push(seen.has(entity) ? { event } : { event, expectedLastSeq: 0 });
    seen.add(entity);
    if (batch.length >= 2000) {
      const stats = await log.append(batch, { signal: options.signal });
      if (stats.appended + stats.duplicates !== batch.length)
        throw new Error(
          `append failed: ${JSON.stringify(stats.outcomes.find((o) => o.status !== 'appended'))}`,
        );
      batch = [];
    }
  }
  if (batch.length > 0) await log.append(batch, { signal: options.signal });
  return (performance.now() - built) / 1000;
}

/** Delete the benchmark's indexes, content stream, KV buckets (checkpoints, leases) and object stores (state snapshots). */
async function deleteBenchData(nc: NatsConnection, es: Client, namespace: string, names: Names) {
  const jsm = await jetstreamManager(nc);
  const indexes = Object.keys(
    await es.indices.get({ index: `${namespace}-*`, expand_wildcards: 'all' }).catch(() => ({})),
  );
  if (indexes.length > 0) await es.indices.delete({ index: indexes }).catch(() => {});
  for await (const stream of jsm.streams.names()) {
    if (names.streamPrefixes.some((prefix) => stream.startsWith(prefix)))
      await jsm.streams.delete(stream).catch(() => {});
  }
}

/**
 * `--sealed`: the same log built sealed in a namespace of its own (a fresh master key in
 * `dir`), rebuilt alternately with the plaintext one; best round of each. Its data is
 * deleted here.
 */
async function sealedMeasurement(plain: ReplayRun, dir: string): Promise<Measurement> {
  const { options } = plain;
  const namespace = `${plain.namespace}-sealed`;
  const names = createNames(namespace);
  const keyFile = join(dir, 'master.key');
  const master = await loadMasterKey(keyFile, { create: true });
  const keys = await openKeyRing({ nc: options.nc, names, masterKey: master.key });
  const log = createContentLog({ nc: options.nc, names, keys, logger: options.log });
  try {
    await log.init();
    options.log?.info({ events: options.events, namespace }, 'building the sealed log');
    await buildLog(options, log);
    const rounds = Math.max(1, options.rounds ?? 2);
    const seconds = await sealedRounds(
      plain,
      { ...plain, namespace, names, env: { PRESSLOG_MASTER_KEY_FILE: keyFile } },
      rounds,
    );
    return measurement(
      'reindex sealed events/s',
      'events/s',
      options.events / Math.min(...seconds.sealed),
      options.events / Math.min(...seconds.plain),
      `ceiling: \`reindex all\` of the same log in plaintext; ${rounds} alternating rounds, best of each (sealed ${seconds.sealed.map((s) => s.toFixed(1)).join(', ')} s; plaintext ${seconds.plain.map((s) => s.toFixed(1)).join(', ')} s)`,
    );
  } finally {
    await log.close();
    keys.close();
    if (!options.keepData) await deleteBenchData(options.nc, options.es, namespace, names);
  }
}

/**
 * `presslog bench replay --events N`: build a log of N events, time a full `reindex all`
 * (in a child process, so its peak RSS is the projector's own), then the ceiling: the
 * same final documents bulk-loaded straight into fresh indexes with the same client and
 * settings. Finally append → searchable latency with a live projector running.
 */
export async function runReplayBench(options: ReplayBenchOptions): Promise<ReplayBenchResult> {
  const { nc, es } = options;
  const namespace = `bench-replay-${randomBytes(3).toString('hex')}`;
  const names = createNames(namespace);
  const log = createContentLog({ nc, names, logger: options.log });
  const tmp = await mkdtemp(join(tmpdir(), 'presslog-bench-replay-'));
  try {
    await log.init();
    options.log?.info({ events: options.events, namespace }, 'building the log');
    const buildSeconds = await buildLog(options, log);
    const head = await log.head();
    options.log?.info({ seconds: buildSeconds, bytes: head.bytes }, 'log built; reindexing');

    const run: ReplayRun = {
      options,
      namespace,
      names,
      lastSeq: head.lastSeq,
      target: Object.fromEntries(PROJECTION_NAMES.map((p) => [p, `${namespace}-ceiling-${p}`])),
      file: join(tmp, 'docs.ndjson'),
    };
    const rounds = await replayRounds(run, Math.max(1, options.rounds ?? 2));
    await rm(run.file, { force: true });

    const measurements = reindexMeasurements(options.events, rounds);
    if (options.sealed) measurements.push(await sealedMeasurement(run, tmp));
    if (options.partitions && options.partitions.length > 0) {
      const parts = await partitionRounds(run, Math.max(1, options.rounds ?? 2), options.partitions);
      measurements.push(...partitionMeasurements(rounds, parts.single, parts.partitioned));
    }
    const samples = options.latencySamples ?? 1000;
    if (samples > 0) {
      options.log?.info({ samples }, 'measuring append → searchable latency');
      measurements.push(...latencyMeasurements(await measureLatency(options, names, log, samples)));
    }
    return {
      measurements,
      details: replayDetails(
        { namespace, events: options.events, logBytes: head.bytes, buildSeconds },
        rounds,
      ),
    };
  } finally {
    await log.close();
    await rm(tmp, { recursive: true, force: true });
    if (!options.keepData) await deleteBenchData(nc, es, namespace, names);
  }
}
