import type { Command } from 'commander';
import { stateView } from '../../log/history.ts';
import type { AsOfBasis } from '../../log/types.ts';
import { ConfigError } from '../../schemas/errors.ts';
import type { EntityState } from '../../schemas/state.ts';
import { storedId } from '../keys.ts';
import type { CliContext } from './cliContext.ts';
import { entityArgs, withContentLog } from './withContentLog.ts';

interface Options {
  asOf?: string;
  by?: string;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** Parse `--as-of`: an ISO 8601 date or date-time; anything else is a usage error (exit 2). */
export function parseAsOf(value: string): Date {
  const time = new Date(value);
  if (!ISO_TIME.test(value) || Number.isNaN(time.getTime())) {
    throw new ConfigError(
      '--as-of',
      `${JSON.stringify(value)} is not an ISO 8601 time (e.g. 2024-05-01T12:00:00Z)`,
    );
  }
  return time;
}

function text(state: EntityState, asOf: Date | undefined, basis: AsOfBasis): string {
  const view = stateView(state) ?? {};
  const lines = [
    `${state.entityType} ${state.id}${asOf ? ` as of ${asOf.toISOString()} (${basis} time)` : ''}`,
    `  events ${state.events}, seq ${state.firstSeq}..${state.lastSeq}, updated ${state.updatedAt}`,
  ];
  for (const [key, value] of Object.entries(view)) {
    if (value === undefined) continue;
    const shown =
      typeof value === 'string' && value.length > 200
        ? `${value.slice(0, 200)}… (${value.length} chars)`
        : value;
    lines.push(`  ${key}: ${typeof shown === 'string' ? shown : JSON.stringify(shown)}`);
  }
  return lines.join('\n');
}

/** `presslog show <type> <id> [--as-of <ISO>]`: an entity's state folded from its events. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('show')
    .description("an entity's current state, or its state as of a time, folded from the log")
    .argument('<type>', 'article, image or byline')
    .argument('<id>', 'the entity id')
    .option('--as-of <time>', 'ISO 8601 time: fold only the events up to then')
    .option(
      '--by <clock>',
      'with --as-of: "stored" (when the log stored the event) or "occurred" (the source time)',
      'stored',
    )
    .action(async (rawType: string, rawId: string, options: Options) => {
      const { type, id } = entityArgs(rawType, rawId);
      const asOf = options.asOf === undefined ? undefined : parseAsOf(options.asOf);
      if (options.by !== 'stored' && options.by !== 'occurred') {
        throw new ConfigError('--by', 'must be "stored" or "occurred"');
      }
      const basis: AsOfBasis = options.by;
      const { state, erased } = await withContentLog(ctx, async (log, _nc, keys) => {
        const stored = storedId(ctx.config(), keys, type, id);
        const state = await log.stateAsOf(type, stored, asOf, { basis });
        if (state) return { state, erased: 0 };
        // Nothing readable: say whether that is because the versions of then were erased.
        let erased = 0;
        await log.readEntity(type, stored, {
          onErased: (e) => {
            if (!asOf || (basis === 'stored' ? e.time : new Date(e.occurredAt)) <= asOf) erased++;
          },
        });
        return { state: undefined, erased };
      });
      if (!state && erased > 0) {
        ctx.output(
          { entityType: type, id, asOf: asOf?.toISOString(), state: null, erased },
          () =>
            `${type} ${id}${asOf ? ` as of ${asOf.toISOString()}` : ''}: erased (${erased} version(s) whose content was removed for good)`,
        );
        return;
      }
      if (!state) {
        ctx.output({ entityType: type, id, asOf: asOf?.toISOString(), state: null }, () =>
          asOf ? `no events for ${type} ${id} up to ${asOf.toISOString()}` : `no events for ${type} ${id}`,
        );
        process.exitCode = 1;
        return;
      }
      ctx.output({ entityType: type, id, asOf: asOf?.toISOString(), basis, state }, () =>
        text(state, asOf, basis),
      );
    });
}
