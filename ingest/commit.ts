import { mapLimit, retrying } from '../log/async.ts';
import type { AppendItem } from '../log/types.ts';
import type { EventType } from '../schemas/catalog.ts';
import { TransientError } from '../schemas/errors.ts';
import { applyEvent } from '../schemas/state.ts';
import { decideAgain } from './decide.ts';
import { type AppendDecision, type Entry, entryKey } from './entry.ts';
import type { IngestRun } from './ingestRun.ts';

const DRY_RUN_OVERLAY_LIMIT = 200_000;
/** Rounds of a batch that may fail (a refused or unsent append) before the run gives up. */
const APPEND_ATTEMPTS = 4;
/** First wait after a failed round; doubles each round (jittered, see `backoffMs`). */
const APPEND_BACKOFF_MS = 1000;

/** A round of appends in which some failed: the failed ones are sent again after a wait. */
class AppendRoundFailed extends TransientError {
  constructor(attempts: number, failed: Error) {
    super(`append failed after ${attempts} attempts: ${failed.message}`, { cause: failed });
  }
}

function countAppended(run: IngestRun, type: EventType, seq: number): void {
  const { stats } = run;
  stats.appended++;
  stats.byType[type] = (stats.byType[type] ?? 0) + 1;
  stats.lastSeq = Math.max(stats.lastSeq, seq);
}

/** Count the unchanged entries, reject the rejected ones (in order); returns the entries to append. */
async function tally(run: IngestRun, entries: readonly Entry[]): Promise<Entry[]> {
  const appends: Entry[] = [];
  for (const entry of entries) {
    const decision = entry.decision;
    if (decision?.action === 'unchanged') run.stats.unchanged++;
    else if (decision?.action === 'reject') {
      await run.reject({
        location: entry.location,
        field: decision.field || undefined,
        reason: decision.message,
        raw: entry.raw,
      });
    } else if (decision?.action === 'append') appends.push(entry);
  }
  return appends;
}

/** A dry run counts what it would append and remembers the state it would produce. */
function commitDryRun(run: IngestRun, appends: readonly Entry[]): void {
  const { known } = run;
  for (const entry of appends) {
    const decision = entry.decision as AppendDecision;
    known.fakeSeq++;
    countAppended(run, decision.event.type, known.fakeSeq);
    const key = entryKey(entry);
    if (known.overlay.size < DRY_RUN_OVERLAY_LIMIT || known.overlay.has(key)) {
      known.overlay.set(key, applyEvent(entry.state, decision.event, known.fakeSeq));
    }
  }
}

/**
 * Append `pending` once. Returns what must be sent again: the failed entries and the
 * conflicting ones decided again against their new state (those still appending), and
 * the first failure. `conflicts` counts each entry's conflicts across rounds.
 */
async function appendRound(
  run: IngestRun,
  pending: readonly Entry[],
  at: string,
  conflicts: Map<Entry, number>,
): Promise<{ again: Entry[]; failed?: Error }> {
  const items: AppendItem[] = pending.map((entry) => {
    const decision = entry.decision as AppendDecision;
    return { event: decision.event, expectedLastSeq: decision.expectedLastSeq };
  });
  const result = await run.log.append(items, { signal: run.signal });
  const again: Entry[] = [];
  const redecide: Entry[] = [];
  let failed: Error | undefined;
  const { maxConflictRetries } = run.settings;
  for (let i = 0; i < pending.length; i++) {
    const entry = pending[i]!;
    const outcome = result.outcomes[i]!;
    switch (outcome.status) {
      case 'appended':
        countAppended(run, (entry.decision as AppendDecision).event.type, outcome.seq);
        break;
      case 'duplicate':
        run.stats.duplicates++;
        run.stats.lastSeq = Math.max(run.stats.lastSeq, outcome.seq);
        break;
      case 'conflict': {
        // On an assumed-new entity a conflict is the expected way of learning it exists.
        if (!entry.assumed) run.stats.conflicts++;
        const attempts = (conflicts.get(entry) ?? 0) + 1;
        conflicts.set(entry, attempts);
        if (attempts > maxConflictRetries) {
          await run.reject({
            location: entry.location,
            reason: `gave up after ${maxConflictRetries} concurrency conflicts: another writer keeps changing ${entry.record.kind} ${entry.record.id}`,
            raw: entry.raw,
          });
        } else redecide.push(entry);
        break;
      }
      case 'invalid':
        await run.reject({
          location: entry.location,
          reason: `the event this record maps to is invalid: ${outcome.error.message}`,
          raw: entry.raw,
        });
        break;
      case 'failed':
        failed ??= outcome.error;
        again.push(entry);
        break;
    }
  }
  if (redecide.length > 0) {
    await mapLimit(redecide, run.lookupConcurrency, (entry) => decideAgain(run, entry, at));
    again.push(...(await tally(run, redecide)));
  }
  return { again, failed };
}

/**
 * Append a batch's decided entries (in order): conflicts are decided again with fresh
 * state and sent in the same round loop; a round with failures is sent again with
 * backoff, at most {@link APPEND_ATTEMPTS} failing rounds. When the run's signal aborts,
 * what was not sent stays unsent and the batch ends quietly (re-running the ingest is
 * safe); the wait between rounds ends with it.
 */
export async function commitBatch(run: IngestRun, entries: readonly Entry[], at: string): Promise<void> {
  let pending = await tally(run, entries);
  if (run.dryRun) {
    commitDryRun(run, pending);
    return;
  }
  const order = new Map(entries.map((e, i) => [e, i]));
  const conflicts = new Map<Entry, number>();
  let failures = 0;
  const sendPending = async () => {
    while (pending.length > 0) {
      const { again, failed } = await appendRound(run, pending, at, conflicts);
      // Keep input order: bylines and images stay ahead of the articles that use them.
      pending = again.sort((a, b) => order.get(a)! - order.get(b)!);
      if (failed) throw new AppendRoundFailed(++failures, failed);
    }
  };
  try {
    await retrying(sendPending, {
      signal: run.signal,
      attempts: APPEND_ATTEMPTS,
      initialMs: APPEND_BACKOFF_MS,
      retryable: (err) => err instanceof AppendRoundFailed,
      onRetry: (err, attempt) =>
        run.logger?.warn({ err: (err as Error).cause, attempt }, 'append failed; retrying'),
    });
  } catch (err) {
    // Interrupted: what was not sent stays unsent (re-running the ingest is safe).
    if (run.signal?.aborted) return;
    throw err;
  }
}
