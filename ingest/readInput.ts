import { readFile } from 'node:fs';
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

/** Files up to this size are read whole, ahead of their turn. */
const READ_AHEAD_MAX_BYTES = 1 << 20;
/** How many files are read ahead: a directory of small files (one NITF document each) waits on no single read. */
const READ_AHEAD_FILES = 8;

/**
 * The content of each small file, read a few files ahead and handed out in order (a
 * read that fails gives undefined: the reader then opens the file itself and reports
 * the error with its name). Large files are streamed by their reader, never read here.
 */
function readAhead(files: readonly InputFile[]): (index: number) => Promise<Buffer | undefined> {
  const pending = new Map<number, Promise<Buffer | undefined>>();
  let next = 0;
  const fill = (upTo: number) => {
    for (; next < files.length && next <= upTo; next++) {
      const file = files[next]!;
      if (file.bytes > READ_AHEAD_MAX_BYTES) continue;
      // fs.readFile with a callback, not fs/promises': no FileHandle per file, whose
      // open/stat/close showed in --cpu-prof profiles of a directory of NITF files.
      pending.set(
        next,
        new Promise((resolve) => readFile(file.path, (err, data) => resolve(err ? undefined : data))),
      );
    }
  };
  return async (index) => {
    fill(index + READ_AHEAD_FILES);
    const content = pending.get(index);
    pending.delete(index);
    return content;
  };
}

/** Read the listed files' records into the batcher, in order; a file without records is a warning. */
export async function readInput(
  run: IngestRun,
  batcher: Batcher,
  files: readonly InputFile[],
): Promise<void> {
  const { signal, position } = run;
  const contentOf = readAhead(files);
  for (const [index, file] of files.entries()) {
    if (signal?.aborted) break;
    const content = await contentOf(index);
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
