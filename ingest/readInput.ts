import { closeSync, openSync, readSync } from 'node:fs';
import { setImmediate } from 'node:timers/promises';
import type { Batcher } from './batcher.ts';
import type { IngestRun } from './ingestRun.ts';
import type { InputFile } from './listInputFiles.ts';
import { withMappedIds } from './opaqueIds.ts';
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
  // `raw` read only when needed (a reject, a spill): the format readers write it lazily.
  const { mapId } = run.settings;
  const entry = {
    record: mapId ? withMappedIds(parsed.record, mapId) : parsed.record,
    location: item.location,
    file,
    get raw() {
      return item.raw;
    },
  };
  await batcher.add(entry, final);
}

/** Files up to this size are read whole, in one read, when their turn comes. */
const READ_WHOLE_MAX_BYTES = 1 << 20;

/**
 * The content of a small file, read whole with one synchronous read of the size the
 * listing found (one byte more, to notice a file that grew since): open, read, close
 * and nothing else. Reading ahead through the thread pool (`fs.readFile`: open, fstat,
 * read and close, each a callback) cost the main thread ~0.7 s over 5,000 NITF files in
 * `--cpu-prof` profiles; these reads of page-cached files cost a tenth of that.
 * Undefined for a large file, a file whose size changed, or a read that failed: its
 * reader then opens the file itself (streaming it, or reporting the error by name).
 * Presslog NDJSON is not read here: its reader streams the file without a look at it.
 */
function readSmallFile(file: InputFile): Buffer | undefined {
  if (file.bytes > READ_WHOLE_MAX_BYTES) return undefined;
  if (file.format === 'ndjson' && (file.sourceFormat ?? 'presslog') === 'presslog') return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(file.path, 'r');
    const buffer = Buffer.allocUnsafe(file.bytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return length === file.bytes ? buffer.subarray(0, length) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
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
    // A turn of the event loop per file: the reads below are synchronous, and without
    // one the batch committing meanwhile (publishes, acks) would wait for the next
    // batch to be read and prepared, which undoes the pipelining.
    await setImmediate();
    const content = readSmallFile(file);
    position.bytesCurrent = 0;
    // Records and format-reader warnings: a file whose items were all left out with a warning is not "empty".
    let items = 0;
    const records = readRecords(file, {
      maxRecordBytes: run.settings.maxRecordBytes,
      signal,
      content,
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
