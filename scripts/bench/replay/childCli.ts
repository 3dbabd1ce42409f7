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

/** A `presslog serve` in a child process: its base URL, and how to stop it. */
export interface ServeChild {
  url: string;
  close(): Promise<void>;
}

/**
 * `presslog serve --port 0` in a child process, as it is deployed: its own event loop, so
 * the load generator's work is not counted as the API's. Resolves with the URL it prints.
 */
export function startServeChild(env: Record<string, string> = {}): Promise<ServeChild> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions, 'bin/presslog.js', 'serve', '--port', '0'], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<void>((done) => child.once('close', () => done()));
    const close = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    };
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      const url = /presslog is serving (http:\/\/\S+?)\/?\s/.exec(stdout)?.[1];
      if (url) resolve({ url, close });
    });
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`presslog serve exited ${code}: ${stderr.slice(-2000)}`)));
  });
}
