import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import type { Client } from '@elastic/elasticsearch';
import { PresslogError } from '../../schemas/errors.ts';
import { findExecutable, run } from '../services/exec.ts';

/** The CPUs of a list as `taskset -c` and /proc write them ("0", "0,2", "1-3"). */
function expandCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match)
      throw new PresslogError(`CPU list ${JSON.stringify(text)}: "${part}" is not a CPU or a range`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from) throw new PresslogError(`CPU list ${JSON.stringify(text)}: range ${part} is backwards`);
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** Parse a CPU list, validated against the CPUs this process may run on. */
export function parseCpuList(text: string, allowed: readonly number[]): number[] {
  const cpus = expandCpuList(text);
  const foreign = cpus.find((cpu) => !allowed.includes(cpu));
  if (foreign !== undefined)
    throw new PresslogError(
      `CPU list ${JSON.stringify(text)}: CPU ${foreign} is not one this process may use (${allowed.join(',')})`,
    );
  return cpus;
}

/** The CPUs a process may run on, from /proc (Linux). */
async function allowedCpus(pid: number | 'self'): Promise<number[]> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const list = /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1];
  if (!list) throw new PresslogError(`/proc/${pid}/status has no Cpus_allowed_list`);
  return expandCpuList(list.trim());
}

/** Pids of the processes whose command name is `name` (as `pgrep -x` finds them). */
async function processesNamed(name: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === name) pids.push(Number(entry));
  }
  return pids;
}

export interface CpuSplit {
  /** What runs where, for the bench's report. */
  readonly description: string;
  /** Give every pinned process its CPUs back. */
  restore(): Promise<void>;
}

/**
 * Give Elasticsearch CPUs of its own for a benchmark, as a separate machine would: its
 * threads are pinned to `esCpus`, and this process (with every process it starts), and
 * a nats-server running on this machine, to the other CPUs. On one shared machine the
 * rebuild's reading of the log and its projection take CPU from Elasticsearch; split
 * this way, the bench measures whether they keep a dedicated Elasticsearch busy.
 * Linux only (`taskset`); Elasticsearch must be a process of this machine.
 */
export async function dedicateCpus(es: Client, esCpusText: string): Promise<CpuSplit> {
  const taskset = await findExecutable('taskset');
  if (!taskset) throw new PresslogError('--es-cpus needs taskset (util-linux), which is not on PATH');
  const allowed = await allowedCpus('self');
  const esCpus = parseCpuList(esCpusText, allowed);
  const others = allowed.filter((cpu) => !esCpus.includes(cpu));
  if (others.length === 0)
    throw new PresslogError(
      `--es-cpus ${esCpusText} leaves no CPU for the rest (this process may use ${allowed.join(',')})`,
    );

  const info = await es.nodes.info({ node_id: '_local', metric: 'process' });
  const esPid = Object.values(info.nodes)[0]?.process?.id;
  const cmdline = esPid ? await readFile(`/proc/${esPid}/cmdline`, 'utf8').catch(() => '') : '';
  if (!esPid || !cmdline.includes('org.elasticsearch'))
    throw new PresslogError(
      `Elasticsearch reports process ${esPid ?? '(none)'}, which is not an Elasticsearch process of this machine: --es-cpus needs a local one`,
    );
  const natsPids = await processesNamed('nats-server');

  // -a: every thread of the process, not only its main one.
  const tasksetArgs = (pid: number, cpus: number[]) => ['-a', '-p', '-c', cpus.join(','), String(pid)];
  const pinned: { pid: number; cpus: number[] }[] = [];
  const pin = async (pid: number, cpus: number[]) => {
    const before = await allowedCpus(pid);
    await run(taskset, tasksetArgs(pid, cpus));
    pinned.push({ pid, cpus: before });
  };
  // A bench that dies before it restores (an uncaught error, say EPIPE when its output
  // is piped to `head`) must not leave Elasticsearch on one CPU: 'exit' handlers run
  // then, and may only do synchronous work.
  const restoreAtExit = () => {
    for (const { pid, cpus } of [...pinned].reverse()) {
      try {
        execFileSync(taskset, tasksetArgs(pid, cpus), { stdio: 'ignore' });
      } catch {
        // Nothing more to do while exiting.
      }
    }
  };
  process.once('exit', restoreAtExit);
  /** Every pinned process gets its CPUs back; the ones that could not are named in the error. */
  const restore = async () => {
    const failed: string[] = [];
    for (const { pid, cpus } of [...pinned].reverse()) {
      const args = tasksetArgs(pid, cpus);
      await run(taskset, args).catch((err: Error) =>
        failed.push(`taskset ${args.join(' ')}: ${err.message}`),
      );
    }
    // Only now: an exit in the middle of the awaits above still restores everything.
    process.removeListener('exit', restoreAtExit);
    if (failed.length > 0)
      throw new PresslogError(`CPU affinity not restored; to do it by hand:\n${failed.join('\n')}`);
  };
  try {
    await pin(esPid, esCpus);
    await pin(process.pid, others);
    for (const pid of natsPids) await pin(pid, others);
  } catch (err) {
    await restore().catch((restoreErr: Error) => {
      throw new PresslogError(`${(err as Error).message}\n${restoreErr.message}`, { cause: err });
    });
    throw err;
  }
  return {
    description:
      `Elasticsearch (pid ${esPid}) on CPU ${esCpus.join(',')}; this process, the reindex it starts` +
      `${natsPids.length > 0 ? ` and nats-server (pid ${natsPids.join(',')})` : ''} on CPU ${others.join(',')}` +
      `${natsPids.length === 0 ? ' (no local nats-server found to pin)' : ''}`,
    restore,
  };
}
