import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Config } from '../../schemas/config.ts';

/** What the composition root hands every command: configuration, logging, output, shutdown. */
export interface CliContext {
  /** The validated configuration, read on first use; a bad variable throws ConfigError (exit 2). */
  config(): Config;
  /** The process's root logger (stderr), created on first use. */
  log(): Logger;
  /** True when the global `--json` was given. */
  json(): boolean;
  /** Aborted by the first SIGINT or SIGTERM; pass it to every loop. */
  readonly signal: AbortSignal;
  /** Write a command's result to stdout: `value` as JSON under `--json`, else `text()`. */
  output(value: unknown, text: () => string): void;
}

/** A command module: `scripts/commands/index.ts` lists them, `register` adds its commands. */
export interface CommandModule {
  register(program: Command, ctx: CliContext): void;
}
