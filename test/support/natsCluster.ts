import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  type ClusterLayout,
  type ClusterNode,
  clusterUrl,
  natsClusterArgs,
} from '../../scripts/services/cluster.ts';
import { eventually } from './env.ts';
import { freePort } from './privateNats.ts';

/** A 3-node JetStream cluster of the test's own, on free loopback ports, whose nodes it kills. */
export interface NatsCluster {
  /** Every node, comma-separated: what NATS_URL is given. */
  url: string;
  layout: ClusterLayout;
  nodes: ClusterNode[];
  /** SIGKILL a node (by name, e.g. `nats-2`); resolves when it is gone. */
  kill(name: string): Promise<void>;
  /** Start a node again on its own store directory. */
  start(name: string): Promise<void>;
  /** The server name holding the leader of a stream. */
  leaderOf(stream: string): Promise<string>;
  dispose(): Promise<void>;
}

/** Start the cluster (each node its own store in a temporary directory); `dispose()` in `finally`. */
export async function natsCluster(): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'presslog-nats-cluster-'));
  // Each node's own free ports (consecutive ones are not guaranteed to be free).
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= 3; i++) {
    nodes.push({ service: 'nats', name: `nats-${i}`, port: await freePort(), peerPort: await freePort() });
  }
  const layout: ClusterLayout = { dir, host: '127.0.0.1', nodes };
  const children = new Map<string, ChildProcess>();
  const nodeOf = (name: string) => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  };
  async function start(name: string): Promise<void> {
    const node = nodeOf(name);
    const args = ['-js', '-a', layout.host, '-p', String(node.port), '-sd', join(dir, node.name)];
    const child = spawn('nats-server', [...args, ...natsClusterArgs(layout, node)], { stdio: 'ignore' });
    children.set(name, child);
  }
  async function kill(name: string): Promise<void> {
    const child = children.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  const url = clusterUrl(layout, 'nats');
  async function leaderOf(stream: string): Promise<string> {
    const nc = await connect({ servers: url.split(','), timeout: 2_000 });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(stream);
      if (!info.cluster?.leader) throw new Error(`${stream} has no leader`);
      return info.cluster.leader;
    } finally {
      await nc.close();
    }
  }
  const cluster: NatsCluster = {
    url,
    layout,
    nodes,
    kill,
    start,
    leaderOf,
    async dispose() {
      await Promise.all(nodes.map((n) => kill(n.name)));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const node of nodes) await start(node.name);
    // Ready when every node answers JetStream requests (a node that has not joined the
    // meta group yet says "JetStream not enabled").
    for (const node of nodes) {
      await eventually(
        async () => {
          const nc = await connect({
            servers: `nats://${layout.host}:${node.port}`,
            timeout: 1_000,
            reconnect: false,
          });
          try {
            await (await jetstreamManager(nc, { timeout: 1_000 })).getAccountInfo();
          } finally {
            await nc.close();
          }
        },
        { timeout: 30_000, interval: 250 },
      );
    }
    return cluster;
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
}

/** Every message of a stream: its count and how many distinct Nats-Msg-Id it carries. */
export async function messageIds(url: string, stream: string): Promise<{ messages: number; unique: number }> {
  const nc = await connect({ servers: url.split(',') });
  try {
    const js = jetstream(nc);
    const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    const ids = new Set<string>();
    let messages = 0;
    if (info.state.messages === 0) return { messages: 0, unique: 0 };
    const iter = await consumer.consume();
    for await (const m of iter) {
      messages++;
      ids.add(m.headers?.get('Nats-Msg-Id') ?? `(none ${m.seq})`);
      if (m.info.pending === 0) break;
    }
    return { messages, unique: ids.size };
  } finally {
    await nc.close();
  }
}
