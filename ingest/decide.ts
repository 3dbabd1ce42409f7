import { mapLimit } from '../log/async.ts';
import { type Entry, entryKey } from './entry.ts';
import { type LookupContext, loadState, mayAssumeNew, readLog, rememberAppends } from './lookups.ts';
import { isReplayOfHistory, mapRecord } from './mapRecord.ts';

/** What deciding needs of a run: its lookups plus what goes into every event's envelope. */
export interface DecideContext extends LookupContext {
  source: string;
  correlationId: string;
  /** The log's last sequence when the run started: states after it are the run's own. */
  headSeq: number;
  /** State lookups in flight at once. */
  lookupConcurrency: number;
  /** Changed article records may publish a retracted article again (`--allow-unretract`). */
  allowUnretract: boolean;
}

/**
 * Decide an entry against its state. A change is checked against the entity's
 * earlier versions too (when it has any from before this run): a record equal to one
 * replays history and appends nothing, so re-running an export that holds several
 * versions of an article is a no-op.
 */
export async function decide(ctx: DecideContext, entry: Entry, at: string): Promise<void> {
  const context = {
    source: ctx.source,
    now: at,
    correlationId: ctx.correlationId,
    original: entry.original,
    allowUnretract: ctx.allowUnretract,
  };
  const decision = mapRecord(entry.record, entry.state, context);
  entry.decision = decision;
  const state = entry.state;
  // A record that would re-publish a retracted article is still checked against history:
  // an older version in an export that also holds the retraction replays, it is no reject.
  const mayReplay = decision.action === 'append' || (decision.action === 'reject' && decision.retracted);
  if (!mayReplay || !state || entry.singleVersion || state.lastSeq > ctx.headSeq) return;
  // An explicit "unretract": true is meant, even with content the article had before.
  const unretract = entry.record.kind === 'article' && 'unretract' in entry.record && entry.record.unretract;
  if (state.entityType === 'article' && state.retracted && unretract) return;
  if (ctx.dryRun && ctx.known.overlay.has(entryKey(entry))) return;
  const { kind, id } = entry.record;
  const history =
    entry.history ??
    (await readLog(ctx, `history of ${entryKey(entry)}`, () => ctx.log.readEntity(kind, id)));
  if (isReplayOfHistory(entry.record, history, context)) entry.decision = { action: 'unchanged' };
}

/** Look the entry's state up for real (it was assumed, or another writer changed it) and decide again. */
export async function decideAgain(ctx: DecideContext, entry: Entry, at: string): Promise<void> {
  entry.assumed = false;
  await loadState(ctx, entry);
  await decide(ctx, entry, at);
}

/**
 * Look up (or, when `lookup` is false and the log was empty at the start, assume) every
 * entry's current state and decide; an entry assumed new that does not map to an
 * append is looked up for real.
 */
export async function resolveDecisions(
  ctx: DecideContext,
  entries: readonly Entry[],
  at: string,
  lookup: boolean,
): Promise<void> {
  await mapLimit(entries, ctx.lookupConcurrency, async (entry) => {
    entry.assumed = !lookup && mayAssumeNew(ctx, entry);
    if (entry.assumed) entry.state = undefined;
    else await loadState(ctx, entry);
    await decide(ctx, entry, at);
    if (entry.assumed && entry.decision?.action !== 'append') await decideAgain(ctx, entry, at);
  });
  rememberAppends(ctx.known, entries);
}
