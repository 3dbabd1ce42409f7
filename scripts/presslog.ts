/**
 * The presslog CLI, the one composition root: it reads the environment, builds the
 * logger and the shutdown signal, registers the commands of ./commands and maps
 * failures to exit codes: 0 ok, 1 failure, 2 usage or configuration error.
 */
import { Command, CommanderError } from 'commander';
import type { Logger } from 'pino';
import { type Config, loadConfig } from '../schemas/config.ts';
import { ConfigError } from '../schemas/errors.ts';
import type { CliContext } from './commands/cliContext.ts';
import { commandsFor } from './commands/index.ts';
import { createLogger, createShutdownSignal, limitHeapGrowth, maskCredentials } from './runtime.ts';

limitHeapGrowth();

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

const program = new Command('presslog')
  .description('A newspaper content archive as an event log (NATS JetStream → Elasticsearch).')
  .option('--json', 'print results as JSON on stdout')
  // Before any subcommand exists: subcommands copy these settings when created.
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(maskCredentials(text)) });

const shutdown = createShutdownSignal();
let config: Config | undefined;
let log: Logger | undefined;
const ctx: CliContext = {
  config: () => {
    config ??= loadConfig(process.env);
    return config;
  },
  log: () => {
    log ??= createLogger(ctx.config());
    return log;
  },
  json: () => program.opts().json === true,
  signal: shutdown.signal,
  output: (value, text) => {
    process.stdout.write(`${ctx.json() ? JSON.stringify(value, null, 2) : text()}\n`);
  },
};

// Only the command being run is loaded: the root's own options are parsed first to find it.
const [firstOperand] = program.parseOptions(process.argv.slice(2)).operands;
for (const command of await commandsFor(firstOperand)) command.register(program, ctx);

function report(err: unknown): number {
  // Commander has already printed its usage message (or the help, exit code 0).
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  if (shutdown.signal.aborted) {
    process.stderr.write('presslog: interrupted\n');
    return EXIT_INTERRUPTED;
  }
  const error = err instanceof Error ? err : new Error(String(err));
  const message = maskCredentials(error.message);
  log?.debug({ stack: maskCredentials(error.stack ?? '') }, 'command failed');
  if (ctx.json()) {
    const variable = error instanceof ConfigError ? { variable: error.variable } : {};
    process.stderr.write(`${JSON.stringify({ error: { name: error.name, message, ...variable } })}\n`);
  } else {
    const kind = error instanceof ConfigError ? 'configuration error' : 'error';
    process.stderr.write(`presslog: ${kind}: ${message}\n`);
  }
  return error instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = report(err);
} finally {
  shutdown.dispose();
}
