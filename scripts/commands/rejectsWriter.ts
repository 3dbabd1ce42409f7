import type { WriteStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';
import type { IngestReject } from '../../ingest/ingest.ts';
import type { InputListing } from '../../ingest/listInputFiles.ts';
import { ConfigError } from '../../schemas/errors.ts';

/** The `ingest --rejects` files: the rejected records as they were, and why each was rejected. */
export interface RejectsWriter {
  readonly files: { records: string; reasons: string };
  /** Append one reject to both files (waiting for the disk when a stream is full). */
  add(reject: IngestReject): Promise<void>;
  /** End both files. */
  close(): Promise<void>;
}

/** The real path `path` has or would have once created (its directory must exist). */
async function realTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    try {
      return resolve(await realpath(dirname(resolve(path))), basename(path));
    } catch {
      throw new ConfigError('--rejects', `${path}: no such directory ${dirname(path)}`);
    }
  }
}

/**
 * Refuse a --rejects file that is one of the run's inputs (opening it for writing would
 * truncate the input) or inside an input directory (the run would read its own rejects
 * back as input), comparing real paths so a symlink or `./` does not slip past.
 */
async function refuseInputTargets(targets: readonly string[], paths: readonly string[], input: InputListing) {
  const inputs = new Map<string, string>();
  for (const file of input.files) inputs.set(await realpath(file.path), file.path);
  const dirs: Array<[string, string]> = [];
  for (const path of paths) if ((await stat(path)).isDirectory()) dirs.push([await realpath(path), path]);
  for (const target of targets) {
    const real = await realTarget(target);
    const file = inputs.get(real);
    if (file !== undefined) {
      throw new ConfigError(
        '--rejects',
        `${target} is an input of this run (${file}): writing rejects there would destroy it; choose another file`,
      );
    }
    const dir = dirs.find(([d]) => real.startsWith(d.endsWith(sep) ? d : `${d}${sep}`));
    if (dir) {
      throw new ConfigError(
        '--rejects',
        `${target} is inside the input directory ${dir[1]}: the run would read its own rejects as input; write them outside it`,
      );
    }
  }
}

/** Open a rejects file: never over an existing one unless `force` ('wx' fails atomically if it exists). */
async function openRejectsFile(path: string, force: boolean): Promise<WriteStream> {
  try {
    return (await open(path, force ? 'w' : 'wx')).createWriteStream();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConfigError('--rejects', `${path} exists; pass --force to overwrite it`);
    throw new ConfigError('--rejects', `cannot write ${path} (${code ?? (err as Error).message})`);
  }
}

/** Writes the --rejects files: the records as they were (re-ingestable), and why, line by line. */
export async function createRejectsWriter(
  file: string,
  paths: readonly string[],
  input: InputListing,
  force: boolean,
): Promise<RejectsWriter> {
  const reasonsFile = `${file}.reasons.ndjson`;
  await refuseInputTargets([file, reasonsFile], paths, input);
  const records = await openRejectsFile(file, force);
  let reasons: WriteStream;
  try {
    reasons = await openRejectsFile(reasonsFile, force);
  } catch (err) {
    records.destroy();
    throw err;
  }
  let recordLines = 0;
  const write = (out: WriteStream, data: string | Buffer) =>
    out.write(data) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve()));
  const end = (out: WriteStream) =>
    new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return {
    files: { records: file, reasons: reasonsFile },
    async add(r: IngestReject) {
      // An oversized line has no record to give back; its reason line says so (rejectsLine null).
      let rejectsLine: number | null = null;
      if (r.raw !== undefined) {
        await write(records, r.raw);
        await write(records, '\n');
        rejectsLine = ++recordLines;
      }
      const reason = { ...r.location, field: r.field ?? null, reason: r.reason, rejectsLine };
      await write(reasons, `${JSON.stringify(reason)}\n`);
    },
    close: () => Promise.all([end(records), end(reasons)]).then(() => {}),
  };
}
