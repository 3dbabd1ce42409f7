import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './env.ts';

/** A nats-server of the test's own, which it may kill with SIGKILL and start again. */
export interface PrivateNats {
  url: string;
  start(): Promise<void>;
  kill(): Promise<void>;
  dispose(): Promise<void>;
}

/** A TCP port nothing listens on right now (on loopback). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * A private nats-server (JetStream, its own loopback port and store directory) that a test
 * kills and restarts, so the shared server is never touched. `dispose()` in `finally`.
 */
export async function privateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'presslog-nats-'));
  let child: ChildProcess | undefined;
  async function kill(): Promise<void> {
    const dying = child;
    // A process killed by a signal has a signalCode and a null exitCode.
    if (!dying || dying.exitCode !== null || dying.signalCode !== null) return;
    const exited = new Promise((resolve) => dying.once('exit', resolve));
    dying.kill('SIGKILL');
    await exited;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
        stdio: 'ignore',
      });
      await eventually(() => answers(port), { timeout: 10_000 });
    },
    kill,
    async dispose() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
