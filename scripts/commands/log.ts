import type { Command } from 'commander';
import { MIGRATE_STEPS, type MigrateStep, migrateLog, nextStreamName } from '../../log/migrate.ts';
import { dropSnapshots } from '../../projectors/erasure/purge.ts';
import { ConfigError } from '../../schemas/errors.ts';
import { openConfiguredKeyRing } from '../keys.ts';
import { connectNatsOrExplain } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';

/** `presslog log migrate`: rewrite a plaintext content stream into a sealed one (README "Takedowns"). */
export function register(program: Command, ctx: CliContext): void {
  const log = program.command('log').description('operations on the content log itself');
  log
    .command('migrate')
    .description(
      'rewrite a content stream written before encryption into a sealed one (same order, times and envelopes; event ids keyed), verified by counts and per-entity digests before the old stream is deleted; stop every writer, projector and worker first; resumable: run it again after any interruption; then run `presslog reindex all`',
    )
    .option(
      '--until <step>',
      `stop once this step is reached (${MIGRATE_STEPS.slice(1, -1).join(', ')}); running again continues`,
    )
    .action(async (options: { until?: string }) => {
      const until = options.until as MigrateStep | undefined;
      if (until !== undefined && !MIGRATE_STEPS.includes(until))
        throw new ConfigError('--until', `must be one of ${MIGRATE_STEPS.join(', ')}`);
      const config = ctx.config();
      const nc = await connectNatsOrExplain(config, 'presslog-log-migrate');
      try {
        const keys = await openConfiguredKeyRing(config, nc, ctx.log());
        const report = await migrateLog({
          nc,
          names: config.names,
          keys,
          replicas: config.replicas,
          logger: ctx.log(),
          signal: ctx.signal,
          ...(until ? { until } : {}),
        });
        // Snapshots of projection state hold plaintext content (names, captions) read from
        // the old stream: dropped, so nothing rebuilt afterwards starts from them.
        const snapshots = report.status === 'migrated' ? await dropSnapshots(nc, config.names) : 0;
        ctx.output({ ...report, snapshotsDropped: snapshots }, () => {
          if (report.status === 'nothing-to-do')
            return `${config.names.stream}: no plaintext content in ${report.messages} messages, nothing to migrate`;
          if (report.status === 'stopped')
            return `stopped at step ${report.step} (${nextStreamName(config.names)} kept); run presslog log migrate again to continue`;
          return [
            `migrated ${config.names.stream}: ${report.messages} messages, ${report.sealed} sealed by this run${report.sealedAway > 0 ? ` (${report.sealedAway} of erased items, unreadable for good)` : ''}; resumed at ${report.resumedAt}`,
            'verified by counts and per-entity digests; now run `presslog reindex all` (the indexes still hold what they were built from)',
          ].join('\n');
        });
      } finally {
        await nc.close();
      }
    });
}
