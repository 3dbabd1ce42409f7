import { mapLimit } from '../log/async.ts';
import { resolveDecisions } from './decide.ts';
import { type Entry, entryKey } from './entry.ts';
import { storeImages } from './imageHandOff.ts';
import type { IngestRun } from './ingestRun.ts';
import { refExists } from './lookups.ts';
import { referencesOf } from './mapRecord.ts';

/** Hold an article back until the end of the input (with every later record of it). */
export async function deferArticle(run: IngestRun, entry: Entry): Promise<void> {
  await run.deferred.add(entry);
  run.stats.deferred++;
}

/**
 * Note each article's references that are neither in the log nor seen in this run, and
 * defer the articles that have any, unless `final` (the deferred pass itself). Returns
 * the articles ready to decide, in order.
 */
async function checkReferences(run: IngestRun, articles: readonly Entry[], final: boolean): Promise<Entry[]> {
  // While assuming new, the log holds only what this run wrote: nothing to look up, until the end.
  const lookup = !run.known.assumeNew || final;
  await mapLimit(articles, run.lookupConcurrency, async (entry) => {
    const { bylines, images } = referencesOf(entry.record);
    const missing: string[] = [];
    for (const id of bylines) if (!(await refExists(run, 'byline', id, lookup))) missing.push(`byline ${id}`);
    for (const id of images) if (!(await refExists(run, 'image', id, lookup))) missing.push(`image ${id}`);
    entry.missingRefs = missing;
  });
  const ready: Entry[] = [];
  for (const entry of articles) {
    if (!final && entry.missingRefs!.length > 0) await deferArticle(run, entry);
    else ready.push(entry);
  }
  return ready;
}

/**
 * Prepare one batch: hand its images to the blob store, check the articles' references
 * (deferring those with unknown ones unless `final`), look up states and decide.
 * Returns the entries to commit: bylines and images first, then articles.
 */
export async function prepareBatch(
  run: IngestRun,
  batch: readonly Entry[],
  final: boolean,
): Promise<Entry[]> {
  const at = run.settings.now().toISOString();
  const refsFirst: Entry[] = [];
  const articles: Entry[] = [];
  for (const entry of batch) (entry.record.kind === 'article' ? articles : refsFirst).push(entry);

  const refused = await storeImages(
    run,
    refsFirst.filter((e) => e.record.kind === 'image'),
  );
  const refs = refsFirst.filter((e) => !refused.has(e));
  for (const entry of refs) run.known.seenInRun.add(entryKey(entry));

  const ready = await checkReferences(run, articles, final);
  const decided = [...refs, ...ready];
  await resolveDecisions(run, decided, at, !run.known.assumeNew);
  for (const entry of ready) {
    if (entry.missingRefs!.length > 0 && entry.decision?.action === 'append') {
      run.warn({
        location: entry.location,
        message: `article ${entry.record.id} refers to ${entry.missingRefs!.join(', ')}, in neither the log nor this run; appended anyway (projectors fill it in when it arrives)`,
      });
    }
  }
  return decided;
}
