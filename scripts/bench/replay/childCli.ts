import { spawn } from 'node:child_process';
import { PACKAGE_ROOT } from '../../packageRoot.ts';

/**
 * Node options for the reindex process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to
 * profile it (Node refuses `--cpu-prof` in NODE_OPTIONS).
 */
const nodeOptions = process.env.PRESSLOG_BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];

/** `presslog --json <args>` in a child process; its stdout parsed as JSON. */
export function runCliJson<T>(args: string[], env: Record<string, string>, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions, 'bin/presslog.js', '--json', ...args], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        return reject(new Error(`presslog ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch (err) {
        reject(
          new Error(
            `presslog ${args.join(' ')} printed no JSON: ${(err as Error).message}\n${stdout.slice(-500)}`,
          ),
        );
      }
    });
  });
}
