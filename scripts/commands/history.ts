import type { Command } from 'commander';
import { historyEntries, summarizeChanges } from '../../log/history.ts';
import { storedId } from '../keys.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import { entityArgs, withContentLog } from './withContentLog.ts';

/** `presslog history <type> <id>`: every event of one entity, oldest first, with what it changed. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('history')
    .description('the audit history of one entity: seq, time, type, version and what each event changed')
    .argument('<type>', 'article, image or byline')
    .argument('<id>', 'the entity id')
    .action(async (rawType: string, rawId: string) => {
      const { type, id } = entityArgs(rawType, rawId);
      const unreadable: { seq: number; reason: string }[] = [];
      // Events whose content was erased: only their envelope is left to show.
      const erased: { seq: number; time: string; type: string }[] = [];
      const events = await withContentLog(ctx, (log, _nc, keys) =>
        log.readEntity(type, storedId(ctx.config(), keys, type, id), {
          onUnreadable: (u) => unreadable.push({ seq: u.seq, reason: u.reason }),
          onErased: (e) => erased.push({ seq: e.seq, time: e.time.toISOString(), type: e.type }),
        }),
      );
      const entries = historyEntries(events);
      ctx.output({ entityType: type, id, events: entries, erased, unreadable }, () => {
        if (entries.length === 0 && unreadable.length === 0 && erased.length === 0)
          return `no events for ${type} ${id}`;
        const rows = [
          ...entries.map((e) => [
            String(e.seq),
            e.time,
            e.type,
            e.storedVersion === e.version ? `v${e.version}` : `v${e.storedVersion}→v${e.version}`,
            summarizeChanges(e.changes),
          ]),
          ...erased.map((e) => [String(e.seq), e.time, e.type, '-', 'erased (content removed for good)']),
        ].sort((a, b) => Number(a[0]) - Number(b[0]));
        const lines = [formatTable([['SEQ', 'STORED', 'TYPE', 'VER', 'CHANGES'], ...rows])];
        for (const u of unreadable) lines.push(`seq ${u.seq}: UNREADABLE: ${u.reason}`);
        return lines.join('\n');
      });
      if (entries.length === 0 && unreadable.length === 0 && erased.length === 0) process.exitCode = 1;
    });
}
