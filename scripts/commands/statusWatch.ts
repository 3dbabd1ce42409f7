import { InvalidArgumentError } from 'commander';
import { sleep } from '../../log/async.ts';
import type { StatusReport } from '../../projectors/status.ts';
import type { CliContext } from './cliContext.ts';

/** `--interval`: seconds, more than 0. */
export function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds above 0');
  return n;
}

/** Per second since the previous report: events appended to the log, and applied per projection. */
export interface StatusRates {
  appendedPerSecond: number;
  appliedPerSecond: Record<string, number>;
}

export function rates(
  previous: { report: StatusReport; at: number },
  report: StatusReport,
  at: number,
): StatusRates {
  const seconds = Math.max(0.001, (at - previous.at) / 1000);
  const per = (now: number, before: number) => Math.max(0, now - before) / seconds;
  const checkpoint = (r: StatusReport, projection: string) =>
    r.projections.find((p) => p.projection === projection)?.checkpoint?.seq ?? 0;
  return {
    appendedPerSecond: per(report.head.seq, previous.report.head.seq),
    appliedPerSecond: Object.fromEntries(
      report.projections.map((p) => [
        p.projection,
        per(checkpoint(report, p.projection), checkpoint(previous.report, p.projection)),
      ]),
    ),
  };
}

function rateLine(r: StatusRates): string {
  const applied = Object.entries(r.appliedPerSecond)
    .map(([p, n]) => `${p} ${n.toFixed(1)}/s`)
    .join(', ');
  return `log appends ${r.appendedPerSecond.toFixed(1)}/s · projected ${applied}`;
}

/**
 * `status --watch`: the status again every `intervalMs` until Ctrl-C, with the rates since
 * the previous refresh. On a terminal the screen is redrawn; otherwise (and under
 * `--json`, one JSON object a line) each refresh is appended, so it can be piped or logged.
 */
export async function watchStatus<R extends StatusReport>(
  ctx: CliContext,
  read: () => Promise<R>,
  intervalMs: number,
  text: (report: R) => string,
): Promise<void> {
  let previous: { report: StatusReport; at: number } | undefined;
  const redraw = process.stdout.isTTY && !ctx.json();
  while (!ctx.signal.aborted) {
    const report = await read();
    const at = Date.now();
    const r = previous ? rates(previous, report, at) : undefined;
    previous = { report, at };
    if (ctx.json())
      process.stdout.write(`${JSON.stringify({ at: new Date(at).toISOString(), ...report, rates: r })}\n`);
    else {
      const lines = [
        `presslog status · ${new Date(at).toISOString()} · every ${intervalMs / 1000} s (Ctrl-C stops)`,
        r ? rateLine(r) : 'rates: after the next refresh',
        '',
        text(report),
        '',
      ].join('\n');
      process.stdout.write(redraw ? `\x1b[H\x1b[2J${lines}\n` : `${lines}\n`);
    }
    await sleep(intervalMs, ctx.signal).catch(() => {});
  }
}
