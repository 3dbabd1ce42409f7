import { type Measurement, measurement } from '../measurement.ts';
import { type LatencyResult, percentile } from './latency.ts';
import type { PartitionRounds, ReplayRounds } from './rounds.ts';
import type { ReplayBenchDetails } from './types.ts';

/** Best rounds of ours and each ceiling. */
export function bestSeconds(rounds: ReplayRounds) {
  return {
    ours: Math.min(...rounds.oursRuns),
    ceiling: Math.min(...rounds.ceilingRuns),
    ceilingWithRead: Math.min(...rounds.ceilingWithReadRuns),
  };
}

/** The reindex rows of the table: throughput, time, time against the log-reading ceiling, peak RSS. */
export function reindexMeasurements(events: number, rounds: ReplayRounds): Measurement[] {
  const best = bestSeconds(rounds);
  const { finalDocs } = rounds;
  return [
    measurement(
      'reindex events/s',
      'events/s',
      events / best.ours,
      events / best.ceiling,
      'ceiling: the final documents bulk-loaded directly, as if projecting were free',
    ),
    measurement(
      'reindex docs/s',
      'docs/s',
      finalDocs / best.ours,
      finalDocs / best.ceiling,
      `${finalDocs} final documents`,
    ),
    measurement('reindex time', 's', best.ours, best.ceiling, 'lower is better'),
    measurement(
      'reindex time, log read in the ceiling',
      's',
      best.ours,
      best.ceilingWithRead,
      'ceiling: the same load while the same process reads the whole log from NATS (what a rebuild cannot avoid on this machine); lower is better',
    ),
    measurement(
      'reindex peak RSS',
      'MiB',
      rounds.peakRssBytes / 1024 / 1024,
      0,
      'the reindex process, a whole presslog CLI (its peak at the end of "prepare", below, is before any event is read); no ceiling',
    ),
  ];
}

/**
 * The partition rows (`--partitions`): events/s of each partition count against the
 * same ceiling as `reindex events/s`, and CPU-seconds per 1,000 events of the projector
 * processes (the reindex CLI and its workers), Elasticsearch and NATS, against the
 * ceiling's (the loader reading the log and bulk-loading the final documents). Best
 * round by wall time; its CPU figures with it.
 */
export function partitionMeasurements(
  rounds: ReplayRounds,
  single: PartitionRounds,
  partitioned: readonly PartitionRounds[],
): Measurement[] {
  const best = bestSeconds(rounds);
  const bestAt = (side: PartitionRounds) => side.seconds.indexOf(Math.min(...side.seconds));
  const ceilingRound = rounds.ceilingWithReadRuns.indexOf(best.ceilingWithRead);
  const per1000 = (cpu: number, events: number) => (cpu / Math.max(1, events)) * 1000;
  const out: Measurement[] = [];
  for (const side of [single, ...partitioned]) {
    const label = side.partitions === 0 ? 'reindex, one process' : `reindex --partitions ${side.partitions}`;
    const i = bestAt(side);
    const events = side.events;
    out.push(
      measurement(
        `${label}: events/s`,
        'events/s',
        events / side.seconds[i]!,
        events / best.ceilingWithRead,
        'ceiling: the final documents bulk-loaded while the loader reads the whole log',
      ),
      measurement(
        `${label}: projector CPU-s / 1k events`,
        'CPU-s',
        per1000(side.projectorCpu[i]!, events),
        per1000(rounds.cpu.ceilingWithRead[ceilingRound] ?? 0, events),
        'the reindex CLI and its partition workers (from /proc: reaped children); ceiling: the loader; lower is better',
      ),
      measurement(
        `${label}: projector CPU-s / 1k events, start-up excluded`,
        'CPU-s',
        per1000(side.workCpu[i]!, events),
        per1000(rounds.cpu.ceilingWithRead[ceilingRound] ?? 0, events),
        "what the reindex reports: the coordinator's CPU in the reindex and each partition's write (not the processes' start-up); the per-core rate for sizing; lower is better",
      ),
      measurement(
        `${label}: Elasticsearch CPU-s / 1k events`,
        'CPU-s',
        per1000(side.esCpu[i]!, events),
        per1000(rounds.cpu.ceilingWithReadEs[ceilingRound] ?? 0, events),
        'node stats (process.cpu); ceiling: during the ceiling load; lower is better',
      ),
    );
    const nats = side.natsCpu[i];
    if (nats !== undefined)
      out.push(
        measurement(
          `${label}: NATS CPU-s / 1k events`,
          'CPU-s',
          per1000(nats, events),
          0,
          'the local nats-server serving NATS_URL (from /proc); no ceiling measured',
        ),
      );
  }
  return out;
}

/** The latency rows: append → searchable p50 and p99, and the live projector's start-up. */
export function latencyMeasurements(latency: LatencyResult): Measurement[] {
  return [
    measurement(
      'append→searchable p50',
      'ms',
      percentile(latency.ours, 50),
      percentile(latency.ceiling, 50),
      'ceiling: index + refresh straight into Elasticsearch; lower is better',
    ),
    measurement(
      'append→searchable p99',
      'ms',
      percentile(latency.ours, 99),
      percentile(latency.ceiling, 99),
      'lower is better',
    ),
    measurement(
      'live start-up',
      's',
      latency.startupSeconds,
      latency.replaySeconds,
      'a live projector restarting at the head, its state from the snapshot the reindex saved; ceiling: a bare replay of the log (what the snapshot saves); lower is better',
    ),
  ];
}

/** The run's details, in the order `--json` has always logged them. */
export function replayDetails(
  run: { namespace: string; events: number; logBytes: number; buildSeconds: number },
  rounds: ReplayRounds,
): ReplayBenchDetails {
  const { report } = rounds;
  const best = bestSeconds(rounds);
  return {
    namespace: run.namespace,
    events: run.events,
    logBytes: run.logBytes,
    buildSeconds: run.buildSeconds,
    reindex: {
      durationMs: report.durationMs,
      phasesMs: report.phasesMs,
      docsWritten: report.docsWritten,
      peakRssBytes: rounds.peakRssBytes,
      peakRssByPhase: report.peakRssByPhase,
      state: report.state,
      seq: report.seq,
    },
    ceilingSeconds: best.ceiling,
    ceilingWithReadSeconds: best.ceilingWithRead,
    runs: { ours: rounds.oursRuns, ceiling: rounds.ceilingRuns, ceilingWithRead: rounds.ceilingWithReadRuns },
    cpu: rounds.cpu,
    finalDocs: rounds.finalDocs,
  };
}

/** The facts of one run below its table: log, phases, state, rounds, CPU. */
export function describeReplayRun(details: ReplayBenchDetails): string {
  const r = details.reindex;
  const seconds = (list: number[]) => list.map((t) => t.toFixed(1)).join(', ');
  const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)}`;
  return (
    `log: ${details.events} events, ${mib(details.logBytes)} MiB, built in ${details.buildSeconds.toFixed(1)} s\n` +
    `reindex: ${(r.durationMs / 1000).toFixed(1)} s (${Object.entries(r.phasesMs)
      .map(([phase, ms]) => `${phase} ${(ms / 1000).toFixed(1)} s`)
      .join(', ')}), ${r.docsWritten} documents written, state ${JSON.stringify(r.state)}\n` +
    `peak RSS so far at the end of each phase (MiB): ${Object.entries(r.peakRssByPhase)
      .map(([phase, bytes]) => `${phase} ${mib(bytes)}`)
      .join(', ')}\n` +
    `ceiling: ${details.finalDocs} documents in ${details.ceilingSeconds.toFixed(1)} s; while reading the log ${details.ceilingWithReadSeconds.toFixed(1)} s\n` +
    `rounds (s): ours ${seconds(details.runs.ours)}; ceiling ${seconds(details.runs.ceiling)}; ceiling while reading the log ${seconds(details.runs.ceilingWithRead)}\n` +
    `cpu (s): ours ${seconds(details.cpu.ours)} + Elasticsearch ${seconds(details.cpu.oursEs)}; ceiling ${seconds(details.cpu.ceiling)} + Elasticsearch ${seconds(details.cpu.ceilingEs)}; ceiling while reading the log ${seconds(details.cpu.ceilingWithRead)} + Elasticsearch ${seconds(details.cpu.ceilingWithReadEs)}\n`
  );
}

/**
 * How a larger run compares with a smaller one of the same invocation: the reindex's
 * time growth next to the ceiling's (same machine, same hour), and the peak RSS growth.
 */
export function replayScaling(small: ReplayBenchDetails, large: ReplayBenchDetails): Measurement[] {
  const factor = large.events / small.events;
  const label = `${large.events.toLocaleString('en-US')} / ${small.events.toLocaleString('en-US')} events`;
  return [
    measurement(
      `reindex time, ${label}`,
      '×',
      Math.min(...large.runs.ours) / Math.min(...small.runs.ours),
      large.ceilingSeconds / small.ceilingSeconds,
      `best rounds; ${factor}× the events; lower is better`,
    ),
    measurement(
      `reindex peak RSS, ${label}`,
      '×',
      large.reindex.peakRssBytes / small.reindex.peakRssBytes,
      0,
      '1 is flat; no ceiling',
    ),
  ];
}
