import type { Command } from 'commander';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import { withContentLog } from './withContentLog.ts';

/** `presslog init`: create the content stream, or verify it and report drift (exit 1 on drift). */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description(
      'create the content log stream, or verify an existing one (exit 1 when its settings drifted)',
    )
    .action(async () => {
      const report = await withContentLog(ctx, (log) => log.init());
      const masterKeyFile = ctx.config().masterKey.file;
      ctx.output({ ...report, masterKeyFile }, () => {
        const verb = report.created ? 'created' : 'verified';
        const key = `master key: ${masterKeyFile} (BACK IT UP: without it no content can be read; see README "Takedowns")`;
        if (report.drift.length === 0) return `${verb} stream ${report.stream}: settings as expected\n${key}`;
        const rows = report.drift.map((d) => [d.field, JSON.stringify(d.expected), JSON.stringify(d.actual)]);
        return [
          `stream ${report.stream} exists but ${report.drift.length} setting(s) drifted (not changed; fix them deliberately):`,
          formatTable([['FIELD', 'EXPECTED', 'ACTUAL'], ...rows]),
        ].join('\n');
      });
      if (report.drift.length > 0) process.exitCode = 1;
    });
}
