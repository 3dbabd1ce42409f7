import type { Command } from 'commander';
import { loadMasterKey } from '../../log/masterKey.ts';
import { openConfiguredKeyRing } from '../keys.ts';
import { connectNatsOrExplain } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';

/** `presslog keys rotate <new-key-file>`: re-wrap every data key under a new master key. */
export function register(program: Command, ctx: CliContext): void {
  const keys = program
    .command('keys')
    .description('the master key that wraps every data key (crypto-shredding)');
  keys
    .command('rotate')
    .description(
      're-wrap every data key (and the event-id key) under the master key in <new-key-file> (64 hex characters, e.g. `openssl rand -hex 32`); then point PRESSLOG_MASTER_KEY_FILE at it everywhere and destroy the old key',
    )
    .argument('<new-key-file>', 'the new master key file (must exist)')
    .action(async (file: string) => {
      const config = ctx.config();
      const next = await loadMasterKey(file);
      const nc = await connectNatsOrExplain(config, 'presslog-keys');
      try {
        const ring = await openConfiguredKeyRing(config, nc, ctx.log());
        const rewrapped = await ring.rewrap(next.key);
        ctx.output({ rewrapped, newKeyFile: file }, () =>
          [
            `re-wrapped ${rewrapped} key entr${rewrapped === 1 ? 'y' : 'ies'} under ${file}`,
            'now set PRESSLOG_MASTER_KEY_FILE to it for every process, restart them, back it up, and destroy the old key',
          ].join('\n'),
        );
      } finally {
        await nc.close();
      }
    });
}
