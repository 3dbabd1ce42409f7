import type { ReindexReport } from '../../../projectors/rebuild/reindex.ts';
import { esCpuSeconds, exportDocs, loadCeiling } from './ceiling.ts';
import { runCliJson } from './childCli.ts';
import { natsServerCpuSeconds, reapedChildrenCpuSeconds } from './procCpu.ts';
import type { ReplayCpu, ReplayRun } from './types.ts';

/** The rounds of one partition count (`bench replay --partitions`). */
export interface PartitionRounds {
  partitions: number;
  seconds: number[];
  /** CPU seconds of the reindex CLI and its partition workers (reaped children), per round. */
  projectorCpu: number[];
  esCpu: number[];
  /** Undefined when no local nats-server serves NATS_URL. */
  natsCpu: (number | undefined)[];
  /** CPU seconds the reindex itself reported: the coordinator's reindex and each partition's write (process start-up excluded). */
  workCpu: number[];
  events: number;
}

/** Every round's times and CPU, the fastest reindex's report and the ceiling's document count. */
export interface ReplayRounds {
  /** With `partitions`: the rounds of each partition count, and the single process's, measured alike. */
  partitioned?: PartitionRounds[];
  single?: PartitionRounds;
  report: ReindexReport;
  oursRuns: number[];
  ceilingRuns: number[];
  ceilingWithReadRuns: number[];
  peakRssBytes: number;
  cpu: ReplayCpu;
  finalDocs: number;
}

/**
 * A full `presslog reindex all` (with `partitions`: `--partitions K`) in a child process,
 * with the CPU of that process and its workers, Elasticsearch and NATS over the same time.
 */
async function reindexRound(
  run: ReplayRun,
  partitions?: number,
): Promise<{ report: ReindexReport; esCpu: number; projectorCpu: number; natsCpu: number | undefined }> {
  const { es, config } = run.options;
  const natsUrl = config.nats.url;
  const esBefore = await esCpuSeconds(es);
  const natsBefore = await natsServerCpuSeconds(natsUrl);
  const childrenBefore = (await reapedChildrenCpuSeconds()) ?? 0;
  const report = await runCliJson<ReindexReport>(
    [
      'reindex',
      'all',
      '--no-progress',
      '--keep',
      '0',
      ...(partitions !== undefined ? ['--partitions', String(partitions)] : []),
    ],
    { ...run.env, PRESSLOG_NAMESPACE: run.namespace, PRESSLOG_LOG_LEVEL: 'warn' },
    run.options.signal,
  );
  const natsAfter = await natsServerCpuSeconds(natsUrl);
  const children = await reapedChildrenCpuSeconds();
  return {
    report,
    esCpu: (await esCpuSeconds(es)) - esBefore,
    projectorCpu: children === undefined ? report.cpuMs / 1000 : children - childrenBefore,
    natsCpu: natsBefore === undefined || natsAfter === undefined ? undefined : natsAfter - natsBefore,
  };
}

/**
 * `--partitions 1,2`: for each round, the single-process reindex and each partition count
 * one after the other, measured alike (wall time, CPU of the projector processes, of
 * Elasticsearch and of NATS).
 */
export async function partitionRounds(
  run: ReplayRun,
  rounds: number,
  partitions: readonly number[],
): Promise<{ single: PartitionRounds; partitioned: PartitionRounds[] }> {
  const empty = (k: number): PartitionRounds => ({
    partitions: k,
    seconds: [],
    projectorCpu: [],
    esCpu: [],
    natsCpu: [],
    workCpu: [],
    events: 0,
  });
  const single = empty(0);
  const partitioned = partitions.map(empty);
  for (let round = 0; round < rounds; round++) {
    for (const side of [single, ...partitioned]) {
      run.options.log?.info({ round, partitions: side.partitions }, 'reindexing (partition rounds)');
      const result = await reindexRound(run, side.partitions === 0 ? undefined : side.partitions);
      side.seconds.push(result.report.durationMs / 1000);
      side.projectorCpu.push(result.projectorCpu);
      side.esCpu.push(result.esCpu);
      side.natsCpu.push(result.natsCpu);
      const { report } = result;
      side.workCpu.push(
        (report.cpuMs + (report.partitioned?.partitions ?? []).reduce((n, p) => n + p.cpuMs, 0)) / 1000,
      );
      side.events = result.report.events;
    }
  }
  return { single, partitioned };
}

/**
 * Ours and the ceiling alternate, best of each counts: the machine is shared, and
 * Elasticsearch's own background work (merges) must not favour either side. The first
 * reindex's documents are exported for every ceiling round.
 */
export async function replayRounds(run: ReplayRun, rounds: number): Promise<ReplayRounds> {
  const { options } = run;
  let finalDocs = 0;
  let report: ReindexReport | undefined;
  const oursRuns: number[] = [];
  const ceilingRuns: number[] = [];
  let peakRssBytes = 0;
  const ceilingWithReadRuns: number[] = [];
  const cpu: ReplayCpu = {
    ours: [],
    oursEs: [],
    ceiling: [],
    ceilingEs: [],
    ceilingWithRead: [],
    ceilingWithReadEs: [],
  };
  for (let round = 0; round < rounds; round++) {
    options.log?.info({ round }, 'reindexing');
    const ours = await reindexRound(run);
    cpu.oursEs.push(ours.esCpu);
    cpu.ours.push(ours.report.cpuMs / 1000);
    oursRuns.push(ours.report.durationMs / 1000);
    peakRssBytes = Math.max(peakRssBytes, ours.report.peakRssBytes);
    if (!report || ours.report.durationMs < report.durationMs) report = ours.report;
    if (round === 0) {
      options.log?.info('exporting the final documents for the ceiling');
      finalDocs = await exportDocs(options.es, run.names, run.file, run.target);
    }
    const plain = await loadCeiling(run, round, finalDocs, false);
    ceilingRuns.push(plain.seconds);
    cpu.ceiling.push(plain.cpu);
    cpu.ceilingEs.push(plain.esCpu);
    // The same load while reading the whole log: the ceiling with the log's transport.
    const withRead = await loadCeiling(run, round, finalDocs, true);
    ceilingWithReadRuns.push(withRead.seconds);
    cpu.ceilingWithRead.push(withRead.cpu);
    cpu.ceilingWithReadEs.push(withRead.esCpu);
  }
  return { report: report!, oursRuns, ceilingRuns, ceilingWithReadRuns, peakRssBytes, cpu, finalDocs };
}

/**
 * `--sealed`: `reindex all` of the plaintext log and of the same log sealed, alternating
 * (who goes first alternates), wall seconds of each round.
 */
export async function sealedRounds(
  plain: ReplayRun,
  sealed: ReplayRun,
  rounds: number,
): Promise<{ plain: number[]; sealed: number[] }> {
  const seconds = { plain: [] as number[], sealed: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['sealed', 'plain'] as const) : (['plain', 'sealed'] as const);
    for (const side of order) {
      plain.options.log?.info({ round, side }, 'reindexing (sealed rounds)');
      const { report } = await reindexRound(side === 'sealed' ? sealed : plain);
      seconds[side].push(report.durationMs / 1000);
    }
  }
  return seconds;
}
