import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from '../../schemas/config.ts';
import { PresslogError } from '../../schemas/errors.ts';
import { createEsClient, maskCredentials } from '../runtime.ts';
import { composeStop, composeUp, dockerAvailable } from './docker.ts';
import { ensureDebianDictionary, ensureHunspell } from './hunspell.ts';
import { startLocal } from './local.ts';
import { type Probe, probe } from './probes.ts';
import {
  acquireLock,
  isRecordedProcess,
  isRunning,
  lockHeld,
  processStartTime,
  readState,
  SERVICE_NAMES,
  type ServiceName,
  type ServiceRecord,
  type ServicesState,
  writeState,
} from './state.ts';

export { ES_VERSION } from './local.ts';
export { SERVICE_NAMES, type ServiceName } from './state.ts';

/** Who runs a service: `up` (pid file), `up` through Docker, or someone else. */
export type StartedBy = 'presslog' | 'docker' | 'external';

export interface ServiceStatus {
  name: ServiceName;
  /** As configured, password masked. */
  url: string;
  answering: boolean;
  version?: string;
  /** Elasticsearch cluster health. */
  health?: string;
  startedBy?: StartedBy;
  pid?: number;
  log?: string;
  /** Why it does not answer. */
  error?: string;
}

export interface ServiceUpResult extends ServiceStatus {
  action: 'reused' | 'started';
  ms: number;
}

export interface ServiceDownResult {
  name: ServiceName;
  /** `left alone`: `up` did not start it, so `down` does not stop it. */
  action: 'stopped' | 'already gone' | 'left alone';
  by?: 'presslog' | 'docker';
  pid?: number;
}

/** A service cannot be reached or started; the message says which and where to look. */
export class ServiceError extends PresslogError {
  override name = 'ServiceError';
}

export interface EnsureServicesOptions {
  log: Logger;
  /** Log progress (downloading, starting) at debug instead of info. */
  quiet?: boolean;
  /** Default: all of them. */
  services?: readonly ServiceName[];
  /** Stops waiting (for the lock, for a server to get ready) when aborted. */
  signal?: AbortSignal;
}

export interface StopServicesOptions {
  log: Logger;
}

const READY_TIMEOUT_MS: Record<ServiceName, number> = { nats: 20_000, redis: 20_000, elasticsearch: 180_000 };
/** The protocol our local servers speak, and the port a client uses when the URL names none. */
const LOCAL: Record<ServiceName, { protocol: string; port: number }> = {
  nats: { protocol: 'nats:', port: 4222 },
  redis: { protocol: 'redis:', port: 6379 },
  elasticsearch: { protocol: 'http:', port: 80 },
};

function rawUrl(config: Config, name: ServiceName): string {
  if (name === 'nats') return config.nats.url;
  if (name === 'redis') return config.redis.url;
  return config.elasticsearch.url;
}

/** Where to start a local server for the configured URL, or why we will not. */
function localAddress(config: Config, name: ServiceName): { host: string; port: number } | string {
  const raw = rawUrl(config, name);
  if (raw.includes(',')) return 'the URL lists several servers';
  const url = new URL(raw);
  const { protocol, port } = LOCAL[name];
  if (url.protocol !== protocol) return `local servers speak ${protocol}//, not ${url.protocol}//`;
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1') return `${host} is not a loopback address`;
  return { host, port: Number(url.port) || port };
}

/** The record of the server `up` started, if it is still that server. */
async function ownRecord(record: ServiceRecord | undefined, url: string): Promise<ServiceRecord | undefined> {
  if (record?.url !== url) return undefined;
  if (record.by === 'docker' || (await isRecordedProcess(record))) return record;
  return undefined;
}

async function describe(
  name: ServiceName,
  config: Config,
  result: Probe,
  record: ServiceRecord | undefined,
): Promise<ServiceStatus> {
  const url = maskCredentials(rawUrl(config, name));
  const own = await ownRecord(record, url);
  const status: ServiceStatus = { name, url, answering: result.answering };
  if (result.answering) {
    status.version = result.version;
    if (result.health) status.health = result.health;
  } else {
    status.error = result.error;
  }
  if (own) {
    status.startedBy = own.by;
    if (own.pid !== undefined) status.pid = own.pid;
    if (own.log) status.log = own.log;
  } else if (result.answering) {
    status.startedBy = 'external';
  }
  return status;
}

/** Poll until the service answers (Elasticsearch: health at least yellow), or explain why not. */
async function waitReady(
  name: ServiceName,
  config: Config,
  record: ServiceRecord,
  signal?: AbortSignal,
): Promise<Probe> {
  const deadline = Date.now() + READY_TIMEOUT_MS[name];
  const see = record.log ? `; see ${record.log}` : '';
  for (;;) {
    // Interrupted: stop waiting. The server stays recorded, so `down` can stop it.
    signal?.throwIfAborted();
    const result = await probe(name, config, 2000);
    if (result.answering && result.health !== 'red') return result;
    if (record.pid !== undefined && !(await isRunning(record.pid))) {
      throw new ServiceError(`${name} exited while starting${see}`);
    }
    if (Date.now() > deadline) {
      const why = result.answering ? `cluster health ${result.health}` : result.error;
      throw new ServiceError(
        `${name} did not get ready within ${READY_TIMEOUT_MS[name] / 1000} s (${why})${see}`,
      );
    }
    await sleep(250, undefined, { signal });
  }
}

interface EnsureContext {
  config: Config;
  state: ServicesState;
  docker: () => Promise<boolean>;
  progress: (name: ServiceName, message: string) => void;
  signal?: AbortSignal;
}

async function ensureOne(name: ServiceName, earlier: Probe, ctx: EnsureContext): Promise<ServiceUpResult> {
  const { config, state } = ctx;
  const begin = Date.now();
  const url = maskCredentials(rawUrl(config, name));
  // Probe again: another `up` may have started it while we waited for the lock.
  const now = earlier.answering ? earlier : await probe(name, config);
  if (now.answering) {
    return {
      ...(await describe(name, config, now, state.services[name])),
      action: 'reused',
      ms: Date.now() - begin,
    };
  }
  if (now.unusable) throw new ServiceError(`${name} at ${url}: ${now.error}`);
  let record = await ownRecord(state.services[name], url);
  let action: ServiceUpResult['action'] = 'reused';
  if (record) {
    // Ours and alive, but silent: an interrupted `up` left it starting. Wait rather than start a second one.
    ctx.progress(name, `waiting for the server started earlier (pid ${record.pid ?? 'docker'})`);
  } else {
    const other = state.services[name];
    if (other && (await ownRecord(other, other.url))) {
      // One data directory per service and servicesDir: a second server would fight over it.
      throw new ServiceError(
        `${name} at ${url} does not answer, and ${config.servicesDir} already runs ${name} for ${other.url}; ` +
          'run "presslog services down" first or set another PRESSLOG_SERVICES_DIR',
      );
    }
    const address = localAddress(config, name);
    if (typeof address === 'string') {
      throw new ServiceError(
        `${name} at ${url} does not answer (${now.error}); not starting one here: ${address}`,
      );
    }
    const startedAt = new Date().toISOString();
    if (await ctx.docker()) {
      ctx.progress(name, 'starting with docker compose');
      // docker-compose.yml mounts the host's Debian dictionary into the node's config.
      if (name === 'elasticsearch') await ensureDebianDictionary((message) => ctx.progress(name, message));
      await composeUp(name, address.port);
      record = { by: 'docker', url, startedAt };
    } else {
      const progress = (message: string) => ctx.progress(name, message);
      const proc = await startLocal[name]({
        dir: config.servicesDir,
        ...address,
        progress,
        signal: ctx.signal,
      });
      const startTime = await processStartTime(proc.pid);
      record = {
        by: 'presslog',
        url,
        startedAt,
        pid: proc.pid,
        startTime,
        command: proc.command,
        log: proc.log,
      };
    }
    // Record it before waiting, so `down` can stop it even if it never gets ready.
    state.services[name] = record;
    action = 'started';
  }
  const ready = await waitReady(name, config, record, ctx.signal);
  return { ...(await describe(name, config, ready, record)), action, ms: Date.now() - begin };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}

/**
 * {@link ensureServers}, then the node's English dictionary (see `ensureHunspell`): every
 * presslog index stems with it, on a node this `up` started or one it reused.
 */
export async function ensureServices(
  config: Config,
  options: EnsureServicesOptions,
): Promise<ServiceUpResult[]> {
  const results = await ensureServers(config, options);
  if (!(options.services ?? SERVICE_NAMES).includes('elasticsearch')) return results;
  const es = createEsClient(config);
  try {
    const { log, quiet = false } = options;
    await ensureHunspell(es, (message) =>
      log[quiet ? 'debug' : 'info']({ service: 'elasticsearch' }, message),
    );
  } catch (err) {
    throw new ServiceError(`elasticsearch: ${(err as Error).message}`, { cause: err });
  } finally {
    await es.close();
  }
  return results;
}

/**
 * Make NATS (with JetStream), Redis and Elasticsearch answer at the configured URLs.
 * Idempotent: a service that answers is reused, whoever runs it. Otherwise, for a
 * loopback URL, it is started with `docker compose` when a Docker engine answers, else
 * from local binaries (installed from Debian packages or Maven Central when missing).
 * A remote URL that does not answer is an error. What we start is recorded in
 * `<servicesDir>/state.json`; a lock keeps concurrent runs from starting anything twice.
 */
async function ensureServers(config: Config, options: EnsureServicesOptions): Promise<ServiceUpResult[]> {
  const { log, quiet = false, services = SERVICE_NAMES, signal } = options;
  const begin = Date.now();
  const first = await Promise.all(services.map((name) => probe(name, config)));
  // While another `up` holds the lock, what answers may be what it is starting, not yet
  // in the state it writes: wait for it rather than report those as external.
  if (first.every((p) => p.answering) && !(await lockHeld(config.servicesDir))) {
    // The common case (tests, a second `up`) takes no lock and writes nothing.
    const state = await readState(config.servicesDir);
    return Promise.all(
      services.map(async (name, i) => ({
        ...(await describe(name, config, first[i]!, state.services[name])),
        action: 'reused' as const,
        ms: Date.now() - begin,
      })),
    );
  }
  await mkdir(config.servicesDir, { recursive: true });
  const release = await acquireLock(config.servicesDir, log, signal);
  try {
    const state = await readState(config.servicesDir);
    const ctx: EnsureContext = {
      config,
      state,
      docker: once(dockerAvailable),
      progress: (name, message) => log[quiet ? 'debug' : 'info']({ service: name }, message),
      signal,
    };
    const settled = await Promise.allSettled(services.map((name, i) => ensureOne(name, first[i]!, ctx)));
    await writeState(config.servicesDir, state);
    const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
    if (failed.length > 0) {
      throw new ServiceError(failed.map((err) => err.message).join('\n'), { cause: failed[0] });
    }
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  } finally {
    await release();
  }
}

/** Ask each service whether it answers, which version it runs and who started it. */
export async function servicesStatus(config: Config): Promise<ServiceStatus[]> {
  const state = await readState(config.servicesDir);
  return Promise.all(
    SERVICE_NAMES.map(async (name) =>
      describe(name, config, await probe(name, config), state.services[name]),
    ),
  );
}

async function terminate(pid: number, log: Logger, name: ServiceName): Promise<void> {
  process.kill(pid, 'SIGTERM');
  // Elasticsearch flushes its shards on SIGTERM; give it time before insisting.
  const deadline = Date.now() + 60_000;
  while (await isRunning(pid)) {
    if (Date.now() > deadline) {
      log.warn({ service: name, pid }, 'did not stop within 60 s; sending SIGKILL');
      process.kill(pid, 'SIGKILL');
    }
    await sleep(100);
  }
}

async function stopOne(name: ServiceName, state: ServicesState, log: Logger): Promise<ServiceDownResult> {
  const record = state.services[name];
  if (!record) return { name, action: 'left alone' };
  let action: ServiceDownResult['action'] = 'already gone';
  if (record.by === 'docker') {
    await composeStop(name);
    action = 'stopped';
  } else if (await isRecordedProcess(record)) {
    // The check above makes sure the pid is still the process we started, not a reused pid.
    await terminate(record.pid!, log, name);
    action = 'stopped';
  }
  delete state.services[name];
  return { name, action, by: record.by, ...(record.pid === undefined ? {} : { pid: record.pid }) };
}

/**
 * Stop exactly the services `ensureServices` started (as recorded in state.json) and
 * nothing else: external servers are left alone, and a recorded pid is signalled only
 * while it still is the process we started.
 */
export async function stopServices(
  config: Config,
  options: StopServicesOptions,
): Promise<ServiceDownResult[]> {
  const release = await acquireLock(config.servicesDir, options.log);
  try {
    const state = await readState(config.servicesDir);
    const settled = await Promise.allSettled(SERVICE_NAMES.map((name) => stopOne(name, state, options.log)));
    await writeState(config.servicesDir, state);
    const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
    if (failed.length > 0)
      throw new ServiceError(failed.map((err) => err.message).join('\n'), { cause: failed[0] });
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  } finally {
    await release();
  }
}
