import type { Command } from 'commander';
import { ConfigError } from '../../schemas/errors.ts';
import { InvalidQueryError } from '../../search/errors.ts';
import {
  type AlertMatch,
  alertSubject,
  createSavedSearches,
  type SavedParams,
} from '../../search/savedSearches.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import { asUsageError } from './search.ts';
import { withContentLog } from './withContentLog.ts';

interface AddOptions {
  byline?: string;
  section?: string;
  tag?: string;
  from?: string;
  to?: string;
}

function describeMatch(m: AlertMatch): string {
  return `${m.matchedAt}  ${m.alert}  ${m.articleId}  ${m.headline}`;
}

/** A bad name or parameter is a usage error (exit 2), named as the command line spells it. */
function usage(err: unknown): unknown {
  if (err instanceof InvalidQueryError && err.parameter === 'name') {
    return new ConfigError('<name>', err.message.slice('name: '.length), { cause: err });
  }
  return asUsageError(err);
}

/**
 * `presslog alerts add|list|remove|tail`: saved searches whose new matches the live
 * projector publishes on `<ns>.alerts.<name>` (see search/alertMatcher.ts).
 */
export function register(program: Command, ctx: CliContext): void {
  const alerts = program
    .command('alerts')
    .description('saved searches: the live projector announces every new article that matches one');

  alerts
    .command('add')
    .description('save a search; articles appended from now on that match it are announced')
    .argument('<name>', 'letters, digits, - and _')
    .argument('<query>', 'as for presslog search ("" for any article passing the filters)')
    .option('--byline <id>', 'only articles with this byline id')
    .option('--section <section>', 'only this section')
    .option('--tag <tag>', 'only articles with this tag')
    .option('--from <date>', 'published on or after')
    .option('--to <date>', 'published on or before')
    .action(async (name: string, query: string, options: AddOptions) => {
      const params: SavedParams = { q: query, ...options };
      const saved = await withContentLog(ctx, async (log, nc) => {
        const searches = createSavedSearches({
          nc,
          names: ctx.config().names,
          replicas: ctx.config().replicas,
        });
        const head = await log.head();
        return searches.add(name, params, head.lastSeq).catch((err) => {
          throw usage(err);
        });
      });
      ctx.output(
        saved,
        () => `saved ${saved.name}: new matches on ${alertSubject(ctx.config().names, saved.name)}`,
      );
    });

  alerts
    .command('list')
    .description('the saved searches')
    .action(async () => {
      const list = await withContentLog(ctx, (_log, nc) =>
        createSavedSearches({ nc, names: ctx.config().names, replicas: ctx.config().replicas }).list(),
      );
      ctx.output(list, () => {
        if (list.length === 0) return 'no saved searches';
        const rows = list.map((s) => [
          s.name,
          JSON.stringify(s.params.q),
          Object.entries(s.params)
            .filter(([k]) => k !== 'q')
            .map(([k, v]) => `${k}=${v}`)
            .join(' '),
          s.createdAt,
        ]);
        return formatTable([['NAME', 'QUERY', 'FILTERS', 'SAVED'], ...rows]);
      });
    });

  alerts
    .command('remove')
    .description('delete a saved search and its recent matches')
    .argument('<name>')
    .action(async (name: string) => {
      const removed = await withContentLog(ctx, (_log, nc) =>
        createSavedSearches({ nc, names: ctx.config().names, replicas: ctx.config().replicas }).remove(name),
      );
      ctx.output({ name, removed }, () => (removed ? `removed ${name}` : `no saved search ${name}`));
      if (!removed) process.exitCode = 1;
    });

  alerts
    .command('tail')
    .description('print the matches of a saved search as they come (Ctrl-C stops)')
    .argument('<name>')
    .option('--recent', 'print the recent matches first')
    .action(async (name: string, options: { recent?: boolean }) => {
      await withContentLog(ctx, async (_log, nc) => {
        const searches = createSavedSearches({
          nc,
          names: ctx.config().names,
          replicas: ctx.config().replicas,
        });
        if (!(await searches.get(name)))
          throw usage(new InvalidQueryError('name', `no saved search ${name}`));
        const print = (m: AlertMatch) => ctx.output(m, () => describeMatch(m));
        const sub = nc.subscribe(alertSubject(ctx.config().names, name));
        if (options.recent) for (const m of (await searches.recent(name)).reverse()) print(m);
        const stop = () => sub.unsubscribe();
        ctx.signal.addEventListener('abort', stop, { once: true });
        try {
          for await (const msg of sub) print(msg.json<AlertMatch>());
        } finally {
          ctx.signal.removeEventListener('abort', stop);
        }
      });
    });
}
