import type { Command } from 'commander';
import { auditErasure, auditText } from '../erasureAudit.ts';
import { storedId } from '../keys.ts';
import { createEsClient, createRedis, openBlobStore } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';
import { entityArgs, withContentLog } from './withContentLog.ts';

/** `presslog audit erasure <type> <id>`: prove an erasure reached every store (exit 1 if not). */
export function register(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('checks over what presslog stores');
  audit
    .command('erasure')
    .description(
      'check every store for an erased item (keys, stream messages, every <ns>-* index, dead letters, snapshots, Redis) and print what was checked; exit 1 when anything is found',
    )
    .argument('<type>', 'article, image or byline')
    .argument('<id>', 'the item id')
    .action(async (rawType: string, rawId: string) => {
      const { type, id } = entityArgs(rawType, rawId);
      const config = ctx.config();
      const es = createEsClient(config);
      const redis = createRedis(config);
      redis.on('error', () => {});
      try {
        const result = await withContentLog(ctx, (log, nc, keys) =>
          auditErasure(
            { log, nc, es, redis, blobs: openBlobStore(config, nc), names: config.names },
            type,
            storedId(config, keys, type, id),
          ),
        );
        ctx.output(result, () => auditText(result));
        if (!result.clean) process.exitCode = 1;
      } finally {
        await Promise.allSettled([es.close(), redis.quit()]);
      }
    });
}
