import { join } from 'node:path';
import { PACKAGE_ROOT } from '../packageRoot.ts';
import { findExecutable, run } from './exec.ts';
import type { ServiceName } from './state.ts';

const COMPOSE_FILE = join(PACKAGE_ROOT, 'docker-compose.yml');

/** The variable docker-compose.yml reads each service's host port from. */
const PORT_VARIABLES: Record<ServiceName, string> = {
  nats: 'PRESSLOG_NATS_PORT',
  redis: 'PRESSLOG_REDIS_PORT',
  elasticsearch: 'PRESSLOG_ES_PORT',
};

/** True when a Docker engine answers; a docker CLI without an engine does not count. */
export async function dockerAvailable(): Promise<boolean> {
  if (!(await findExecutable('docker'))) return false;
  return run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 }).then(
    () => true,
    () => false,
  );
}

/** `docker compose up -d --wait <service>`, publishing it on the port the URL names. */
export async function composeUp(service: ServiceName, port: number): Promise<void> {
  const env = { ...process.env, [PORT_VARIABLES[service]]: String(port) };
  await run('docker', ['compose', '-f', COMPOSE_FILE, 'up', '-d', '--wait', service], {
    env,
    timeoutMs: 10 * 60_000,
  });
}

/** Stop (not remove) the container, so its volume and data stay for the next `up`. */
export async function composeStop(service: ServiceName): Promise<void> {
  await run('docker', ['compose', '-f', COMPOSE_FILE, 'stop', service], { timeoutMs: 120_000 });
}
