import { type Command, InvalidArgumentError } from 'commander';
import { runLogBench } from '../bench/log.ts';
import { formatMeasurements, jsonLines } from '../bench/measurement.ts';
import { connectNats } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';

function positiveInt(value: string): number {
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

interface LogOptions {
  events: number;
  batch: number;
  window: number;
}

/**
 * `presslog bench <name>`: benchmarks that print ours next to a ceiling measured in the
 * same run: a table, or with `--json` one `{"name","unit","ours","ceiling","ratio"}` per line.
 * Add a benchmark as a subcommand here.
 */
export function register(program: Command, ctx: CliContext): void {
  const bench = program.command('bench').description('benchmarks: ours next to the raw ceiling, measured in the same run');

  bench
    .command('log')
    .description('append N events through the content log and replay them; ceilings: raw js.publish and ordered-consumer read')
    .option('--events <n>', 'number of events', positiveInt, 100_000)
    .option('--batch <n>', 'events per append call', positiveInt, 5_000)
    .option('--window <n>', 'publishes in flight', positiveInt, 512)
    .action(async (options: LogOptions) => {
      const nc = await connectNats(ctx.config(), { name: 'presslog-bench', timeout: 5_000 });
      try {
        const measurements = await runLogBench({
          nc,
          events: options.events,
          batch: options.batch,
          window: options.window,
          log: ctx.log(),
          signal: ctx.signal,
        });
        process.stdout.write(`${ctx.json() ? jsonLines(measurements) : formatMeasurements(measurements)}\n`);
      } finally {
        await nc.close();
      }
    });
}
