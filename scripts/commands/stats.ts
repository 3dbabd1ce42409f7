import type { Command } from 'commander';
import { collectStats, type LogStats } from '../../log/stats.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import { withContentLog } from './withContentLog.ts';

function text(stats: LogStats): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const s = stats.stream;
  const lines = [
    `messages ${n(s.messages)} (seq ${s.firstSeq}..${s.lastSeq}), ${n(s.bytes)} bytes stored${s.subjects !== undefined ? `, ${n(s.subjects)} entities` : ''}`,
    `first ${stats.firstTime ?? '-'}, last ${stats.lastTime ?? '-'}`,
    '',
  ];
  const rows = Object.entries(stats.byType).map(([type, { events, storedVersions }]) => [
    type,
    n(events),
    Object.entries(storedVersions)
      .map(([v, count]) => `v${v}: ${n(count)}`)
      .join(', '),
  ]);
  rows.push(['(unreadable)', n(stats.unreadable), '']);
  lines.push(formatTable([['TYPE', 'EVENTS', 'STORED VERSIONS'], ...rows]));
  lines.push(
    '',
    `by entity: ${Object.entries(stats.byEntityType)
      .map(([t, c]) => `${t} ${n(c)}`)
      .join(', ')}`,
  );
  return lines.join('\n');
}

/** `presslog stats`: events by type, first/last time, stream size; scans the log once. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description('events by type (failed image processing included), first/last time, bytes stored')
    .action(async () => {
      const stats = await withContentLog(ctx, (log) => collectStats(log, { signal: ctx.signal }));
      ctx.output(stats, () => text(stats));
    });
}
