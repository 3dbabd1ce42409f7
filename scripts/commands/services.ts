import { join } from 'node:path';
import type { Command } from 'commander';
import { clusterDown, clusterLayout, clusterUp, clusterUrl } from '../services/cluster.ts';
import {
  ensureServices,
  type ServiceStatus,
  type ServiceUpResult,
  servicesStatus,
  stopServices,
} from '../services/services.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';

interface Options {
  quiet?: boolean;
  cluster?: boolean;
}

/** `up --cluster`: the 3-node NATS and Elasticsearch clusters (and the one Redis), then the settings to use. */
async function upCluster(ctx: CliContext, quiet?: boolean): Promise<void> {
  const config = ctx.config();
  const redis = await ensureServices(config, {
    log: ctx.log(),
    quiet,
    services: ['redis'],
    signal: ctx.signal,
  });
  const nodes = await clusterUp({
    servicesDir: config.servicesDir,
    log: ctx.log(),
    quiet,
    signal: ctx.signal,
  });
  const layout = clusterLayout(join(config.servicesDir, 'cluster'));
  const env = {
    NATS_URL: clusterUrl(layout, 'nats'),
    ELASTICSEARCH_URL: clusterUrl(layout, 'elasticsearch'),
    REDIS_URL: redis[0]!.url,
    PRESSLOG_REPLICAS: '3',
  };
  if (quiet) return;
  ctx.output({ nodes, env }, () =>
    [
      formatTable(nodes.map((n) => [n.node, n.url, n.action, n.pid === undefined ? '' : `pid ${n.pid}`])),
      '',
      'use the clusters with:',
      ...Object.entries(env).map(([name, value]) => `export ${name}=${value}`),
    ].join('\n'),
  );
}

function owner(s: ServiceStatus): string {
  if (s.startedBy === 'presslog') return `started by presslog (pid ${s.pid})`;
  if (s.startedBy === 'docker') return 'started by presslog with docker compose';
  if (s.startedBy === 'external') return 'already running (external)';
  return '';
}

function statusText(s: ServiceStatus): string {
  if (!s.answering) return [`not answering: ${s.error}`, owner(s)].filter(Boolean).join('; ');
  return `answering${s.health ? ` (health ${s.health})` : ''}, ${owner(s)}`;
}

function upText(s: ServiceUpResult): string {
  if (s.action === 'reused') return `reused: ${owner(s)}`;
  return `${owner(s)} in ${(s.ms / 1000).toFixed(1)} s${s.log ? `, log ${s.log}` : ''}`;
}

const row = (s: ServiceStatus, text: string) => [s.name, s.url, s.version ?? '-', text];

export function register(program: Command, ctx: CliContext): void {
  const services = program
    .command('services')
    .description('run the NATS, Redis and Elasticsearch servers presslog needs (Docker or local binaries)');

  services
    .command('up')
    .description('reuse each service that answers; start the others (loopback URLs only)')
    .option('-q, --quiet', 'print nothing unless something fails')
    .option(
      '--cluster',
      'start a 3-node NATS JetStream and a 3-node Elasticsearch cluster instead (local binaries)',
    )
    .action(async ({ quiet, cluster }: Options) => {
      if (cluster) return upCluster(ctx, quiet);
      const results = await ensureServices(ctx.config(), { log: ctx.log(), quiet, signal: ctx.signal });
      if (!quiet) ctx.output({ services: results }, () => formatTable(results.map((s) => row(s, upText(s)))));
    });

  services
    .command('down')
    .description('stop the services "up" started, and nothing else')
    .option('-q, --quiet', 'print nothing unless something fails')
    .option('--cluster', 'stop the clusters "up --cluster" started')
    .action(async ({ quiet, cluster }: Options) => {
      if (cluster) {
        const stopped = await clusterDown({ servicesDir: ctx.config().servicesDir, log: ctx.log() });
        if (!quiet)
          ctx.output({ stopped }, () => formatTable(stopped.map((s) => [s.node, `stopped pid ${s.pid}`])));
        return;
      }
      const results = await stopServices(ctx.config(), { log: ctx.log() });
      if (quiet) return;
      ctx.output({ services: results }, () =>
        formatTable(
          results.map((s) => [
            s.name,
            s.action === 'left alone' ? 'left alone (not started by presslog)' : s.action,
            s.pid === undefined ? (s.by ?? '') : `pid ${s.pid}`,
          ]),
        ),
      );
    });

  services
    .command('status')
    .description('show each service: URL, version, who started it; exit 1 when one does not answer')
    .option('-q, --quiet', 'print nothing; the exit code tells')
    .action(async ({ quiet }: Options) => {
      const results = await servicesStatus(ctx.config());
      if (!quiet)
        ctx.output({ services: results }, () => formatTable(results.map((s) => row(s, statusText(s)))));
      if (results.some((s) => !s.answering)) process.exitCode = 1;
    });
}
