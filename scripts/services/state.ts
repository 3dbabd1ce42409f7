import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

export const SERVICE_NAMES = ['nats', 'redis', 'elasticsearch'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** What `services up` started, so that `down` stops exactly that and nothing else. */
export interface ServiceRecord {
  by: 'presslog' | 'docker';
  /** The URL (credentials masked) the service was started for. */
  url: string;
  startedAt: string;
  pid?: number;
  /** `/proc/<pid>/stat` start time: with the pid, it identifies the process across pid reuse. */
  startTime?: string;
  /** A word the process's command line contains, checked before signalling it. */
  command?: string;
  log?: string;
}

/** What `up` started, by service (or, for `up --cluster`, by node name). */
export interface ServicesState<K extends string = ServiceName> {
  services: Partial<Record<K, ServiceRecord>>;
}

const stateFile = (dir: string) => join(dir, 'state.json');
const lockFile = (dir: string) => join(dir, 'services.lock');

export async function readState<K extends string = ServiceName>(dir: string): Promise<ServicesState<K>> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as ServicesState<K>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { services: {} };
    throw err;
  }
}

/** Written only while holding the lock; the rename keeps readers from seeing half a file. */
export async function writeState<K extends string>(dir: string, state: ServicesState<K>): Promise<void> {
  const tmp = `${stateFile(dir)}.${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, stateFile(dir));
}

async function procStat(pid: number): Promise<{ state: string; startTime: string } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name in field 2 may contain spaces and parentheses; the fields after it do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, startTime: fields[19]! };
  } catch {
    return undefined;
  }
}

/** The start time of a process (Linux /proc), or undefined when there is no such process. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  return (await procStat(pid))?.startTime;
}

/** True while the process runs. A zombie has ended: a container's pid 1 may never reap it. */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await procStat(pid);
  return stat ? stat.state !== 'Z' : isAlive(pid);
}

/** True when the recorded pid is still the very process we started (not a reused pid). */
export async function isRecordedProcess(record: ServiceRecord): Promise<boolean> {
  if (record.pid === undefined || record.startTime === undefined) return false;
  const stat = await procStat(record.pid);
  if (stat?.startTime !== record.startTime || stat.state === 'Z') return false;
  const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8').catch(() => '');
  return record.command === undefined || cmdline.includes(record.command);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while a live process holds `<dir>/services.lock` (an `up` or `down` is under way). */
export async function lockHeld(dir: string): Promise<boolean> {
  const owner = Number(await readFile(lockFile(dir), 'utf8').catch(() => ''));
  return owner > 0 && isAlive(owner);
}

/**
 * Take `<dir>/services.lock` so that concurrent `services up` runs (two test processes)
 * never both start a server. The file holds the owner's pid; a lock whose owner died
 * (Ctrl-C while Elasticsearch was starting) is taken over. Returns the release function.
 */
export async function acquireLock(
  dir: string,
  log: Logger,
  signal?: AbortSignal,
  timeoutMs = 10 * 60_000,
): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = lockFile(dir);
  const deadline = Date.now() + timeoutMs;
  let waitingLogged = false;
  for (;;) {
    try {
      // link() creates the lock atomically with its content: nobody ever sees it empty.
      const mine = `${path}.${process.pid}`;
      await writeFile(mine, String(process.pid));
      await link(mine, path).finally(() => unlink(mine).catch(() => {}));
      return async () => {
        const owner = await readFile(path, 'utf8').catch(() => '');
        if (owner === String(process.pid)) await unlink(path).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(await readFile(path, 'utf8').catch(() => ''));
    if (!owner || !isAlive(owner)) {
      // Re-read right before removing, so we do not delete a lock someone else just took
      // over; the remaining window is microseconds wide and needs a crashed owner to open.
      if (Number(await readFile(path, 'utf8').catch(() => '')) === owner) await unlink(path).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`another "presslog services up" (pid ${owner}) still holds ${path}`);
    }
    if (!waitingLogged) log.info({ owner }, 'waiting for another "presslog services up" to finish');
    waitingLogged = true;
    await sleep(250, undefined, { signal });
  }
}
