import type { Batcher } from './batcher.ts';
import type { IngestRun } from './ingestRun.ts';
import type { InputFile } from './listInputFiles.ts';
import { readRecords, type SourceItem } from './readRecords.ts';
import { parseRecord } from './records.ts';

/** Validate one source item into the batch, or reject it with its first problem (the id's first). */
async function admit(
  run: IngestRun,
  batcher: Batcher,
  item: SourceItem,
  file: InputFile | undefined,
  final: boolean,
): Promise<void> {
  if (!item.ok) {
    await run.reject({ location: item.location, field: item.field, reason: item.reason, raw: item.raw });
    return;
  }
  const parsed = parseRecord(item.value);
  if (!parsed.ok) {
    // The id first: with a bad id, nothing else about the record can be trusted.
    const problems = [...parsed.problems].sort((a, b) => Number(b.field === 'id') - Number(a.field === 'id'));
    const [first, ...rest] = problems;
    const more =
      rest.length > 0 ? `; also ${rest.map((p) => `${p.field || 'record'}: ${p.message}`).join('; ')}` : '';
    await run.reject({
      location: item.location,
      field: first?.field || undefined,
      reason: `${first?.message}${more}`,
      raw: item.raw,
    });
    return;
  }
  await batcher.add({ record: parsed.record, location: item.location, raw: item.raw, file }, final);
}

/** Read the listed files' records into the batcher, in order; a file without records is a warning. */
export async function readInput(
  run: IngestRun,
  batcher: Batcher,
  files: readonly InputFile[],
): Promise<void> {
  const { signal, position } = run;
  for (const file of files) {
    if (signal?.aborted) break;
    position.bytesCurrent = 0;
    // Records and format-reader warnings: a file whose items were all left out with a warning is not "empty".
    let items = 0;
    const records = readRecords(file, {
      maxRecordBytes: run.settings.maxRecordBytes,
      signal,
      onBytes: (n) => {
        position.bytesCurrent = n;
      },
      onWarning: (warning) => {
        items++;
        run.warn(warning);
      },
    });
    for await (const item of records) {
      items++;
      run.stats.read++;
      await admit(run, batcher, item, file, false);
      if (signal?.aborted) break;
    }
    if (items === 0 && !signal?.aborted)
      // The location names the file; the message must not repeat it (it is printed after it).
      run.warn({ location: { file: file.path }, message: 'empty file, no records' });
    position.filesDone++;
    position.bytesDone += file.bytes;
    position.bytesCurrent = 0;
  }
  await batcher.flush(false);
  await batcher.settle();
}

/** The deferred articles, in input order, now that every byline and image of the run is known. */
export async function readDeferred(run: IngestRun, batcher: Batcher): Promise<void> {
  if (!run.deferred.used || run.signal?.aborted) return;
  run.position.phase = 'deferred';
  for await (const item of run.deferred.readBack()) {
    await admit(run, batcher, item, undefined, true);
    if (run.signal?.aborted) break;
  }
  await batcher.flush(true);
  await batcher.settle();
}
