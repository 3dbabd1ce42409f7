import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock time of the whole process, start-up included. */
  ms: number;
}

/**
 * Run the presslog CLI as a user would, in a child process. `env` is merged over this
 * process's environment; a variable set to undefined is removed.
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  options: { onStderr?: (chunk: string) => void } = {},
): Promise<CliRun> {
  const childEnv = { ...process.env, ...env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete childEnv[name];
  const begin = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/presslog.js', ...args], {
      cwd: REPO_ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      options.onStderr?.(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - begin }));
  });
}
