import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ClusterLayout,
  type ClusterNode,
  clusterUrl,
  startClusterNode,
  waitClusterReady,
} from '../../scripts/services/cluster.ts';
import { isRunning } from '../../scripts/services/state.ts';
import { freePort } from './privateNats.ts';

/** A 3-node Elasticsearch cluster of the test's own (the zip `services up` unpacked), whose nodes it kills. */
export interface EsCluster {
  /** Every node, comma-separated: what ELASTICSEARCH_URL is given. */
  url: string;
  nodes: ClusterNode[];
  /** SIGKILL a node; resolves when the process is gone. */
  kill(name: string): Promise<void>;
  start(name: string): Promise<void>;
  /** The elected master's node name. */
  master(): Promise<string>;
  /** Wait until all three nodes are in the cluster again. */
  ready(): Promise<void>;
  dispose(): Promise<void>;
}

/** Start the cluster (nodes in parallel; ~1-2 minutes on 2 cores); `dispose()` in `finally`. */
export async function esCluster(servicesDir: string): Promise<EsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'presslog-es-cluster-'));
  // Elasticsearch runs as its own user when we are root: it must reach its node directories.
  await chmod(dir, 0o755);
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= 3; i++) {
    nodes.push({
      service: 'elasticsearch',
      name: `es-${i}`,
      port: await freePort(),
      peerPort: await freePort(),
    });
  }
  const layout: ClusterLayout = { dir, host: '127.0.0.1', nodes };
  const url = clusterUrl(layout, 'elasticsearch');
  const pids = new Map<string, number>();
  const nodeOf = (name: string) => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  };
  async function start(name: string): Promise<void> {
    const proc = await startClusterNode(layout, nodeOf(name), () => {}, servicesDir);
    pids.set(name, proc.pid);
  }
  async function kill(name: string): Promise<void> {
    const pid =
      pids.get(name) ?? Number((await readFile(join(dir, name, 'elasticsearch.pid'), 'utf8')).trim());
    if (!(await isRunning(pid))) return;
    process.kill(pid, 'SIGKILL');
    while (await isRunning(pid)) await sleep(50);
  }
  const cluster: EsCluster = {
    url,
    nodes,
    kill,
    start,
    async master() {
      const res = await fetch(`${url.split(',')[0]}/_cat/master?format=json`).catch(() => undefined);
      if (res?.ok) return ((await res.json()) as { node: string }[])[0]!.node;
      for (const node of nodes) {
        const other = await fetch(`http://127.0.0.1:${node.port}/_cat/master?format=json`).catch(
          () => undefined,
        );
        if (other?.ok) return ((await other.json()) as { node: string }[])[0]!.node;
      }
      throw new Error('no node names a master');
    },
    ready: () => waitClusterReady(layout, 'elasticsearch', 240_000),
    async dispose() {
      await Promise.all(nodes.map((n) => kill(n.name).catch(() => {})));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => start(n.name)));
    await cluster.ready();
    return cluster;
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
}
