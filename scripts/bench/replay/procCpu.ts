import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`; 100 where it cannot be asked). */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The fields of /proc/<pid>/stat after the command name (field 3 is index 0). */
async function statFields(pid: number | 'self'): Promise<string[] | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text?.slice(text.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds of this process's children that ended and were waited for, and of their
 * own waited-for children (cutime + cstime): a reindex CLI run as a child, its partition
 * workers included, once it has exited. Undefined off Linux.
 */
export async function reapedChildrenCpuSeconds(): Promise<number | undefined> {
  const fields = await statFields('self');
  if (!fields) return undefined;
  // Fields 16 and 17 (cutime, cstime) are at 13 and 14 here.
  return (Number(fields[13]) + Number(fields[14])) / TICKS;
}

/**
 * CPU seconds so far (utime + stime) of the nats-server processes that serve `natsUrl`
 * (`-p <port>`, and `-a <host>` when they name one), or undefined when none is local.
 */
export async function natsServerCpuSeconds(natsUrl: string): Promise<number | undefined> {
  const first = natsUrl.split(',')[0]!.trim();
  const url = new URL(first.includes('://') ? first : `nats://${first}`);
  const port = url.port || '4222';
  let total: number | undefined;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (comm.trim() !== 'nats-server') continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const flag = (name: string) => {
      const at = args.indexOf(name);
      return at >= 0 ? args[at + 1] : undefined;
    };
    if ((flag('-p') ?? flag('--port') ?? '4222') !== port) continue;
    const host = flag('-a') ?? flag('--addr');
    if (host !== undefined && host !== url.hostname && host !== '0.0.0.0') continue;
    const fields = await statFields(Number(entry));
    if (!fields) continue;
    total = (total ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS;
  }
  return total;
}
