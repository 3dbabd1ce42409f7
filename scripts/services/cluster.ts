import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { type LocalProcess, startLocal } from './local.ts';
import { ServiceError } from './services.ts';
import {
  acquireLock,
  isRecordedProcess,
  isRunning,
  processStartTime,
  readState,
  type ServiceRecord,
  writeState,
} from './state.ts';

/** The two clustered services (Redis stays one server: BullMQ needs one primary). */
export type ClusterService = 'nats' | 'elasticsearch';
export const CLUSTER_SERVICES: readonly ClusterService[] = ['nats', 'elasticsearch'];

/** One node of a local cluster: its client port and the port its peers talk to. */
export interface ClusterNode {
  service: ClusterService;
  /** `nats-1`, `es-2`, …: the server name, and its directory below the cluster's. */
  name: string;
  port: number;
  peerPort: number;
}

/** Where a local cluster's nodes listen and keep their data. */
export interface ClusterLayout {
  /** The nodes' data, logs and pid files live below it. */
  dir: string;
  host: string;
  nodes: ClusterNode[];
}

/** Base ports of `services up --cluster`: clear of the single-node services (4222, 9200, 9300…). */
export const CLUSTER_PORTS = { nats: 4231, natsRoutes: 6231, elasticsearch: 9231, esTransport: 9331 };

/** Three NATS and three Elasticsearch nodes on consecutive ports from `ports`. */
export function clusterLayout(dir: string, ports = CLUSTER_PORTS, size = 3): ClusterLayout {
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < size; i++) {
    nodes.push({
      service: 'nats',
      name: `nats-${i + 1}`,
      port: ports.nats + i,
      peerPort: ports.natsRoutes + i,
    });
  }
  for (let i = 0; i < size; i++) {
    nodes.push({
      service: 'elasticsearch',
      name: `es-${i + 1}`,
      port: ports.elasticsearch + i,
      peerPort: ports.esTransport + i,
    });
  }
  return { dir, host: '127.0.0.1', nodes };
}

const nodesOf = (layout: ClusterLayout, service: ClusterService) =>
  layout.nodes.filter((n) => n.service === service);

/** The URL list a client is given: every node of the service. */
export function clusterUrl(layout: ClusterLayout, service: ClusterService): string {
  const scheme = service === 'nats' ? 'nats' : 'http';
  return nodesOf(layout, service)
    .map((n) => `${scheme}://${layout.host}:${n.port}`)
    .join(',');
}

/** nats-server's flags for a clustered JetStream node: a server name, the cluster name and every route. */
export function natsClusterArgs(layout: ClusterLayout, node: ClusterNode): string[] {
  const routes = nodesOf(layout, 'nats').map((n) => `nats://${layout.host}:${n.peerPort}`);
  return [
    ...['--name', node.name, '--cluster_name', 'presslog'],
    ...['--cluster', `nats://${layout.host}:${node.peerPort}`, '--routes', routes.join(',')],
  ];
}

/**
 * Elasticsearch settings of a cluster node. All three are master-eligible: with two, the
 * voting configuration keeps one node, and losing it blocks every write until it returns.
 */
export function esClusterSettings(layout: ClusterLayout, node: ClusterNode): Record<string, string | number> {
  const peers = nodesOf(layout, 'elasticsearch');
  return {
    'cluster.name': 'presslog',
    'node.name': node.name,
    'transport.port': node.peerPort,
    'discovery.seed_hosts': peers.map((n) => `${layout.host}:${n.peerPort}`).join(','),
    'cluster.initial_master_nodes': peers.map((n) => n.name).join(','),
  };
}

/** Start one node detached (it outlives this command); the caller waits for the cluster. */
export function startClusterNode(
  layout: ClusterLayout,
  node: ClusterNode,
  progress: (message: string) => void,
  installDir?: string,
): Promise<LocalProcess> {
  const common = {
    dir: layout.dir,
    host: layout.host,
    port: node.port,
    home: node.name,
    progress,
    installDir,
  };
  if (node.service === 'nats') return startLocal.nats({ ...common, args: natsClusterArgs(layout, node) });
  return startLocal.elasticsearch({ ...common, settings: esClusterSettings(layout, node) });
}

/** Whether the JetStream cluster has a meta leader (it answers account info) through `url`. */
async function natsClusterReady(url: string): Promise<string | undefined> {
  const nc = await connect({ servers: url.split(','), timeout: 2_000, reconnect: false }).catch(
    (err: Error) => err,
  );
  if (nc instanceof Error) return nc.message;
  try {
    await (await jetstreamManager(nc, { timeout: 2_000 })).getAccountInfo();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await nc.close();
  }
}

/** Whether the Elasticsearch cluster has every node and is at least yellow, asked of each node in turn. */
async function esClusterReady(url: string, size: number): Promise<string | undefined> {
  let why = 'no node answered';
  for (const node of url.split(',')) {
    try {
      const res = await fetch(`${node}/_cluster/health?wait_for_nodes=${size}&timeout=2s`, {
        signal: AbortSignal.timeout(5_000),
      });
      const health = (await res.json()) as { status?: string; number_of_nodes?: number };
      if (health.number_of_nodes === size && health.status !== 'red') return undefined;
      return `${health.number_of_nodes ?? 0} of ${size} nodes, status ${health.status}`;
    } catch (err) {
      why = `${node}: ${(err as Error).message}`;
    }
  }
  return why;
}

/** Poll until the clustered service answers with every node, or explain why not. */
export async function waitClusterReady(
  layout: ClusterLayout,
  service: ClusterService,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const url = clusterUrl(layout, service);
  const size = nodesOf(layout, service).length;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const why = service === 'nats' ? await natsClusterReady(url) : await esClusterReady(url, size);
    if (why === undefined) return;
    if (Date.now() > deadline) {
      throw new ServiceError(
        `the ${service} cluster at ${url} is not ready after ${timeoutMs / 1000} s: ${why}`,
      );
    }
    await sleep(500, undefined, { signal });
  }
}

/** One node as `up` left it. */
export interface ClusterNodeResult {
  node: string;
  url: string;
  action: 'reused' | 'started';
  pid?: number;
  log?: string;
}

/** Options of {@link clusterUp}. */
export interface ClusterUpOptions {
  /** `<servicesDir>`: the cluster lives in its `cluster/` directory. */
  servicesDir: string;
  log: Logger;
  quiet?: boolean;
  services?: readonly ClusterService[];
  signal?: AbortSignal;
}

const READY_MS: Record<ClusterService, number> = { nats: 30_000, elasticsearch: 240_000 };

/**
 * `services up --cluster`: start the local 3-node NATS and Elasticsearch clusters (each
 * node detached, recorded in `<servicesDir>/cluster/state.json`), reusing nodes that run,
 * and wait until each cluster has all its nodes. Idempotent.
 */
export async function clusterUp(options: ClusterUpOptions): Promise<ClusterNodeResult[]> {
  const { log, quiet = false, services = CLUSTER_SERVICES, signal } = options;
  const layout = clusterLayout(join(options.servicesDir, 'cluster'));
  await mkdir(layout.dir, { recursive: true });
  const release = await acquireLock(layout.dir, log, signal);
  try {
    const state = await readState<string>(layout.dir);
    const results: ClusterNodeResult[] = [];
    for (const node of layout.nodes.filter((n) => services.includes(n.service))) {
      const url = `${node.service === 'nats' ? 'nats' : 'http'}://${layout.host}:${node.port}`;
      const record = state.services[node.name];
      if (record && (await isRecordedProcess(record))) {
        results.push({ node: node.name, url, action: 'reused', pid: record.pid, log: record.log });
        continue;
      }
      const progress = (message: string) => log[quiet ? 'debug' : 'info']({ node: node.name }, message);
      const proc = await startClusterNode(layout, node, progress, options.servicesDir);
      const own: ServiceRecord = {
        by: 'presslog',
        url,
        startedAt: new Date().toISOString(),
        pid: proc.pid,
        startTime: await processStartTime(proc.pid),
        command: proc.command,
        log: proc.log,
      };
      state.services[node.name] = own;
      await writeState(layout.dir, state);
      results.push({ node: node.name, url, action: 'started', pid: proc.pid, log: proc.log });
    }
    for (const service of services) await waitClusterReady(layout, service, READY_MS[service], signal);
    return results;
  } finally {
    await release();
  }
}

/** `services down --cluster`: stop the nodes `up --cluster` started (SIGTERM, then SIGKILL after 60 s). */
export async function clusterDown(options: {
  servicesDir: string;
  log: Logger;
}): Promise<{ node: string; pid: number }[]> {
  const layout = clusterLayout(join(options.servicesDir, 'cluster'));
  await mkdir(layout.dir, { recursive: true });
  const release = await acquireLock(layout.dir, options.log);
  try {
    const state = await readState<string>(layout.dir);
    const stopping = Object.entries(state.services).map(async ([name, record]) => {
      if (!record?.pid || !(await isRecordedProcess(record))) return undefined;
      process.kill(record.pid, 'SIGTERM');
      const deadline = Date.now() + 60_000;
      while (await isRunning(record.pid)) {
        if (Date.now() > deadline) process.kill(record.pid, 'SIGKILL');
        await sleep(100);
      }
      return { node: name, pid: record.pid };
    });
    const stopped = (await Promise.all(stopping)).filter((r) => r !== undefined);
    state.services = {};
    await writeState(layout.dir, state);
    return stopped;
  } finally {
    await release();
  }
}
