import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PresslogError } from '../schemas/errors.ts';
import type { Entry } from './entry.ts';
import type { InputFile } from './listInputFiles.ts';
import { type RecordLocation, readRecords, type SourceItem } from './readRecords.ts';

/**
 * Articles held back until the end of the input because a byline or image they use was
 * not known yet, spilled to a temp file (the input may be far larger than memory) and
 * read back, in input order, after the whole input.
 */
export interface DeferredSpill {
  /** Whether this article was deferred: every later record of it must be deferred too. */
  holds(articleId: string): boolean;
  /** Spill an entry; the temp file is created on the first. */
  add(entry: Entry): Promise<void>;
  /** Whether anything was spilled (and so there is something to read back). */
  readonly used: boolean;
  /** End the spill file and read the deferred records back, in the order they were spilled. */
  readBack(): AsyncGenerator<SourceItem & { ok: true }>;
  /** Remove the temp file; safe to call whether or not anything was spilled. */
  dispose(): Promise<void>;
}

/** A spill under `tempDir` (default the OS temp dir), created lazily. */
export function createDeferredSpill(tempDir?: string): DeferredSpill {
  let spill: { dir: string; path: string; out: WriteStream } | undefined;
  const ids = new Set<string>();

  async function add(entry: Entry): Promise<void> {
    if (!spill) {
      const dir = await mkdtemp(join(tempDir ?? tmpdir(), 'presslog-ingest-'));
      const path = join(dir, 'deferred.ndjson');
      spill = { dir, path, out: createWriteStream(path) };
    }
    const out = spill.out;
    const line = `${JSON.stringify({ location: entry.location, raw: entry.raw })}\n`;
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    ids.add(entry.record.id);
  }

  async function* readBack(): AsyncGenerator<SourceItem & { ok: true }> {
    if (!spill) return;
    const { dir, path, out } = spill;
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    const file: InputFile = { path, root: dir, format: 'ndjson', bytes: 0 };
    for await (const item of readRecords(file, { maxRecordBytes: Number.MAX_SAFE_INTEGER })) {
      if (!item.ok) throw new PresslogError(`deferred records file ${path} is corrupt: ${item.reason}`);
      const { location, raw } = item.value as { location: RecordLocation; raw: string };
      yield { ok: true, location, raw, value: JSON.parse(raw) };
    }
  }

  async function dispose(): Promise<void> {
    if (!spill) return;
    spill.out.destroy();
    await rm(spill.dir, { recursive: true, force: true });
  }

  return {
    get used() {
      return spill !== undefined;
    },
    holds: (articleId) => ids.has(articleId),
    add,
    readBack,
    dispose,
  };
}
