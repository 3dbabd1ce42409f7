import type { Command } from 'commander';
import { buildSampleArchive } from '../../ingest/sampleArchive.ts';
import type { CliContext } from './cliContext.ts';

/** `presslog sample [--out DIR]`: build the sample archive the quick start ingests. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('sample')
    .description(
      'build an ingestable sample archive from real public data: State of the Union addresses and period photographs',
    )
    .option('--out <dir>', 'where to write it (default var/<namespace>/sample)')
    .action(async (options: { out?: string }) => {
      const dir = options.out ?? `var/${ctx.config().namespace}/sample`;
      const archive = await buildSampleArchive(dir);
      ctx.output(archive, () =>
        [
          `sample archive in ${archive.dir}: ${archive.articles} articles, ${archive.bylines} bylines, ${archive.images} images`,
          `ingest it with: presslog ingest ${archive.dir}`,
        ].join('\n'),
      );
    });
}
