import { jetstreamManager } from '@nats-io/jetstream';
import type { Command } from 'commander';
import { ensureStores, type StoreReport } from '../../log/stores.ts';
import type { InitReport } from '../../log/types.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import { withContentLog } from './withContentLog.ts';

interface InitResult extends InitReport {
  replicas: number;
  stores: StoreReport[];
}

function storeLine(s: StoreReport, replicas: number): string {
  if (s.created) return `created ${s.stream} (replicas ${s.replicas})`;
  if (s.changed) return `scaled ${s.stream}: replicas ${s.driftedFrom} → ${s.replicas}`;
  if (s.driftedFrom !== undefined) return `${s.stream}: replicas ${s.driftedFrom}, configured ${replicas}`;
  return `verified ${s.stream} (replicas ${s.replicas})`;
}

function text(result: InitResult): string {
  const verb = result.created ? 'created' : 'verified';
  const lines: string[] = [];
  for (const c of result.changed ?? []) {
    lines.push(
      `scaled stream ${result.stream}: ${c.field} ${JSON.stringify(c.actual)} → ${JSON.stringify(c.expected)}`,
    );
  }
  if (result.drift.length === 0) {
    lines.push(`${verb} stream ${result.stream}: settings as expected`);
  } else {
    const rows = result.drift.map((d) => [d.field, JSON.stringify(d.expected), JSON.stringify(d.actual)]);
    lines.push(
      `stream ${result.stream} exists but ${result.drift.length} setting(s) drifted (not changed; fix them deliberately):`,
      formatTable([['FIELD', 'EXPECTED', 'ACTUAL'], ...rows]),
    );
  }
  lines.push(...result.stores.map((s) => storeLine(s, result.replicas)));
  if (hasDrift(result)) {
    lines.push(`run \`presslog init --apply\` to scale to PRESSLOG_REPLICAS=${result.replicas}`);
  }
  return lines.join('\n');
}

function hasDrift(result: InitResult): boolean {
  return (
    result.drift.some((d) => d.field === 'num_replicas') ||
    result.stores.some((s) => s.driftedFrom !== undefined && !s.changed)
  );
}

/**
 * `presslog init`: create the content stream and every bucket with `PRESSLOG_REPLICAS`, or
 * verify them and report drift (exit 1); `--apply` scales replicas in place.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description(
      'create the content log stream and its KV/object store buckets, or verify existing ones (exit 1 when settings drifted)',
    )
    .option(
      '--apply',
      'scale the stream and buckets to PRESSLOG_REPLICAS in place (other drift is only reported)',
    )
    .action(async (options: { apply?: boolean }) => {
      const config = ctx.config();
      const result = await withContentLog(ctx, async (log, nc) => {
        const report = await log.init({ applyReplicas: options.apply });
        const jsm = await jetstreamManager(nc);
        const stores = await ensureStores({
          nc,
          jsm,
          names: config.names,
          replicas: config.replicas,
          apply: options.apply,
        });
        return { ...report, replicas: config.replicas, stores };
      });
      ctx.output(result, () => text(result));
      if (result.drift.length > 0 || hasDrift(result)) process.exitCode = 1;
    });
}
