import { retrying } from '../log/async.ts';
import { createBatcher } from './batcher.ts';
import { createIngestRun, finishStats, resolveSettings } from './ingestRun.ts';
import { type InputListing, listInputFiles } from './listInputFiles.ts';
import { readDeferred, readInput } from './readInput.ts';
import { formatLocation } from './readRecords.ts';
import {
  type Ingester,
  type IngesterOptions,
  IngestFailedError,
  type IngestOptions,
  type IngestStats,
} from './types.ts';

export type {
  Ingester,
  IngesterOptions,
  IngestOptions,
  IngestProgress,
  IngestReject,
  IngestStats,
  IngestWarning,
} from './types.ts';
export { formatLocation, IngestFailedError };

/**
 * Create an ingester: reads record files (streamed, bounded memory), validates each
 * record, maps it to an event by comparing with the entity's current state in the log,
 * and appends in batches, pipelined.
 *
 * - Idempotent: an unchanged record appends nothing; a decision made twice yields the
 *   same event id (so the server's duplicate window catches concurrent re-runs too).
 * - Ordered: within a batch, bylines and images are appended before articles. An
 *   article whose byline or image is neither in the log nor seen earlier in the run is
 *   deferred (spilled to a temp file with every later record of that article) and
 *   appended after the whole input; a reference still unknown then is appended anyway
 *   with a warning, and the projectors fill it in when the entity arrives.
 * - Optimistic concurrency: each append expects the entity's last sequence the decision
 *   was based on; on a conflict the record is decided again against the new state.
 * - Rejects are data: every bad record is reported through `onReject` and the run goes on.
 * - Outages are waited out: reads of the log retry with backoff for `lookupRetryMs`,
 *   appends for four rounds; past that the run throws {@link IngestFailedError}, which
 *   carries the run's stats so far.
 *
 * The steps live beside this file, each a function over the run's context
 * (`ingestRun.ts`): reading (`readInput.ts`), batching and pipelining (`batcher.ts`),
 * preparing a batch (`prepareBatch.ts`: images via `imageHandOff.ts`, references,
 * deferral via `deferred.ts`), deciding (`decide.ts` over `lookups.ts`) and appending
 * (`commit.ts`).
 */
export function createIngester(options: IngesterOptions): Ingester {
  const settings = resolveSettings(options);

  async function ingest(
    input: readonly string[] | InputListing,
    runOptions: IngestOptions = {},
  ): Promise<IngestStats> {
    const started = performance.now();
    const listing = isListing(input) ? input : await listInputFiles(input);
    const head = await retrying(() => settings.log.head(), {
      signal: runOptions.signal,
      deadlineMs: settings.lookupRetryMs,
      initialMs: 250,
      maxMs: 5_000,
    });
    const run = createIngestRun(settings, runOptions, listing, head.lastSeq, started);
    for (const message of listing.warnings) run.warn({ message });

    const batcher = createBatcher(run);
    let failure: unknown;
    try {
      await readInput(run, batcher, listing.files);
      await readDeferred(run, batcher);
    } catch (err) {
      // Interrupted while waiting out a failure: an abort like any other (re-running is safe).
      if (!run.signal?.aborted) failure = err;
    } finally {
      await batcher.abandon();
      await run.deferred.dispose();
    }

    const stats = finishStats(run);
    if (failure !== undefined) {
      run.logger?.error({ err: failure, appended: stats.appended, read: stats.read }, 'ingest stopped');
      throw new IngestFailedError(stats, failure);
    }
    run.position.phase = 'done';
    run.progress();
    run.logger?.info(
      {
        read: stats.read,
        appended: stats.appended,
        unchanged: stats.unchanged,
        rejected: stats.rejected,
        durationMs: stats.durationMs,
      },
      stats.dryRun ? 'dry run finished' : 'ingest finished',
    );
    return stats;
  }

  return { ingest };
}

function isListing(input: readonly string[] | InputListing): input is InputListing {
  return !Array.isArray(input);
}
