import type { ReindexReport } from '../../../projectors/rebuild/reindex.ts';
import { esCpuSeconds, exportDocs, loadCeiling } from './ceiling.ts';
import { runCliJson } from './childCli.ts';
import type { ReplayCpu, ReplayRun } from './types.ts';

/** Every round's times and CPU, the fastest reindex's report and the ceiling's document count. */
export interface ReplayRounds {
  report: ReindexReport;
  oursRuns: number[];
  ceilingRuns: number[];
  ceilingWithReadRuns: number[];
  peakRssBytes: number;
  cpu: ReplayCpu;
  finalDocs: number;
}

/** A full `presslog reindex all` in a child process, with Elasticsearch's CPU over the same time. */
async function reindexRound(run: ReplayRun): Promise<{ report: ReindexReport; esCpu: number }> {
  const { es } = run.options;
  const esBefore = await esCpuSeconds(es);
  const report = await runCliJson<ReindexReport>(
    ['reindex', 'all', '--no-progress', '--keep', '0'],
    { PRESSLOG_NAMESPACE: run.namespace, PRESSLOG_LOG_LEVEL: 'warn' },
    run.options.signal,
  );
  return { report, esCpu: (await esCpuSeconds(es)) - esBefore };
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
