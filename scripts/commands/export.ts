import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import { type ExportFormat, exportArchive } from '../../search/export/exportArchive.ts';
import { openBlobStore } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';
import { parseAsOf } from './show.ts';
import { withContentLog } from './withContentLog.ts';

interface ExportCommandOptions {
  format: ExportFormat;
  asOf?: string;
  out?: string;
}

/** Where the lines go: a file (a directory gets `presslog.ndjson`/`ninjs.ndjson` and the images beside it), or stdout. */
async function outputOf(out: string | undefined, format: ExportFormat) {
  if (out === undefined) return { path: undefined, mediaDir: undefined };
  const isDir = out.endsWith('/') || (await stat(out).catch(() => undefined))?.isDirectory() === true;
  const path = isDir ? join(out, `${format}.ndjson`) : out;
  await mkdir(dirname(path), { recursive: true });
  return { path, mediaDir: dirname(path) };
}

/**
 * `presslog export`: the archive, or its state at `--as-of`, as presslog NDJSON (every
 * version, re-ingestable, image originals written under `images/` beside the file) or
 * ninjs 2.x (one item per article, NDJSON). Streams to `--out` or stdout.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description('stream the archive as presslog NDJSON (re-ingestable, with image files) or ninjs 2.x items')
    .addOption(
      new Option('--format <format>', 'output format').choices(['presslog', 'ninjs']).default('presslog'),
    )
    .option('--as-of <time>', 'the archive as the log held it at this time (ISO 8601)')
    .option(
      '--out <file|dir>',
      'output file, or a directory (default: stdout; image files only with a file or directory)',
    )
    .action(async (options: ExportCommandOptions) => {
      const asOf = options.asOf === undefined ? undefined : parseAsOf(options.asOf);
      const { path, mediaDir } = await outputOf(options.out, options.format);
      const stream = path ? createWriteStream(path) : process.stdout;
      const writeLine = async (line: string) => {
        if (!stream.write(`${line}\n`)) await once(stream, 'drain');
      };
      const config = ctx.config();
      const stats = await withContentLog(ctx, (log, nc) =>
        exportArchive({
          log,
          blobs: openBlobStore(config, nc),
          format: options.format,
          asOf,
          writeLine,
          ...(options.format === 'presslog' && mediaDir ? { mediaDir } : {}),
          signal: ctx.signal,
        }),
      );
      if (path) {
        stream.end();
        await once(stream, 'finish');
        const summary = { ...stats, out: path, format: options.format };
        ctx.output(
          summary,
          () => `exported ${stats.lines} lines (${options.format}) to ${path}, ${stats.images} image files`,
        );
      }
    });
}
