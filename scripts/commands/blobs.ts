import type { Command } from 'commander';
import { copyBlobs, createBlobStore, createNatsBlobStore } from '../../log/blobStore.ts';
import { ConfigError } from '../../schemas/errors.ts';
import { connectNatsOrExplain } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';

/**
 * `presslog blobs copy --to nats|dir`: move an archive's image originals and renditions
 * between the directory store (PRESSLOG_BLOB_DIR) and the NATS object store, verifying
 * every digest; run it again to resume. Then set PRESSLOG_BLOB_STORE to the target.
 */
export function register(program: Command, ctx: CliContext): void {
  const blobs = program
    .command('blobs')
    .description('the image blob store: copy between the directory and the NATS object store');
  blobs
    .command('copy')
    .description('copy every blob the target lacks (digests verified; resumable: run it again)')
    .requiredOption('--to <store>', 'nats (from PRESSLOG_BLOB_DIR into the object store) or dir (back)')
    .action(async (options: { to: string }) => {
      if (options.to !== 'nats' && options.to !== 'dir') throw new ConfigError('--to', 'must be nats or dir');
      const config = ctx.config();
      const nc = await connectNatsOrExplain(config, 'presslog-blobs');
      try {
        const dir = createBlobStore(config.blobDir);
        const nats = createNatsBlobStore({ nc, names: config.names, replicas: config.replicas });
        const [from, to] = options.to === 'nats' ? [dir, nats] : [nats, dir];
        let last = 0;
        const stats = await copyBlobs(from, to, {
          signal: ctx.signal,
          onProgress: (s) => {
            if (Date.now() - last < 2_000) return;
            last = Date.now();
            ctx.log().info({ copied: s.copied, skipped: s.skipped, bytes: s.bytes }, 'copying blobs');
          },
        });
        ctx.output({ from: from.root, to: to.root, ...stats }, () =>
          formatTable([
            ['from', from.root],
            ['to', to.root],
            ['copied', `${stats.copied} (${(stats.bytes / 1024 / 1024).toFixed(1)} MiB)`],
            ['already there', String(stats.skipped)],
            ['corrupt (not copied)', stats.corrupt.length === 0 ? '0' : stats.corrupt.join(', ')],
          ]),
        );
        if (stats.corrupt.length > 0) process.exitCode = 1;
      } finally {
        await nc.close();
      }
    });
}
