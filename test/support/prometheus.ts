import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinary } from '../../scripts/services/debian.ts';
import { REPO_ROOT } from './cli.ts';
import { eventually } from './env.ts';

/** Debian's `prometheus` package: the server and promtool, installed on first use. */
export async function prometheusBinaries(): Promise<{ prometheus: string; promtool: string }> {
  const say = (message: string) => process.stderr.write(`${message}\n`);
  return {
    prometheus: await ensureBinary('prometheus', 'prometheus', say),
    promtool: await ensureBinary('promtool', 'prometheus', say),
  };
}

/** Run promtool with `input` on stdin; resolves with its exit code and output. */
export function promtool(
  promtoolPath: string,
  args: readonly string[],
  input = '',
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtoolPath, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

/** A free TCP port on loopback (free when asked; taken by whoever listens first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningPrometheus {
  url: string;
  /** An instant query's result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Active alerts (pending or firing). */
  alerts(): Promise<{ labels: Record<string, string>; state: string }[]>;
  close(): Promise<void>;
}

/**
 * Start a real Prometheus on a free loopback port with its own temporary data directory,
 * from a copy of ops/prometheus.yml and ops/alerts.yml changed by `editConfig` and
 * `editRules` (targets, intervals, `for:` durations). `close()` stops it and deletes the
 * directory.
 */
export async function startPrometheus(
  prometheusPath: string,
  edits: { editConfig(text: string): string; editRules(text: string): string },
): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'presslog-prometheus-'));
  const config = edits.editConfig(await readFile(join(REPO_ROOT, 'ops/prometheus.yml'), 'utf8'));
  await writeFile(join(dir, 'prometheus.yml'), config);
  await writeFile(
    join(dir, 'alerts.yml'),
    edits.editRules(await readFile(join(REPO_ROOT, 'ops/alerts.yml'), 'utf8')),
  );
  const port = await freePort();
  const child = spawn(
    prometheusPath,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      { timeout: 30_000, interval: 200 },
    );
  } catch (err) {
    await close();
    throw err;
  }
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    alerts: async () =>
      (await api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts')).alerts,
    close,
  };
}
