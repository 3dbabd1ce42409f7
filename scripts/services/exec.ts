import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Kills the command when aborted; only for commands that are safe to interrupt. */
  signal?: AbortSignal;
}

/** A command that failed; `output` holds everything it printed. */
export class RunError extends Error {
  override name = 'RunError';
  constructor(
    message: string,
    readonly output: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Run a command to completion; on failure the message ends with the last lines of its output. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const timeout = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: options.env, cwd: options.cwd, signal: options.signal, timeout, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const output = `${stdout}\n${stderr}`.trim();
        const tail = output.split('\n').slice(-15).join('\n');
        const commandLine = [command, ...args].join(' ');
        const shown = commandLine.length > 160 ? `${commandLine.slice(0, 160)}...` : commandLine;
        const why = err.killed ? `timed out after ${timeout} ms` : `failed (${err.code})`;
        reject(new RunError(`${shown} ${why}${tail ? `:\n${tail}` : ''}`, output, { cause: err }));
      },
    );
  });
}

// Server binaries live in sbin, which a non-root PATH often lacks.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The full path of an executable on PATH (or in an sbin directory), or undefined. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

export function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
