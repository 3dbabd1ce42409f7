import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { jsonSchemaFiles } from '../../schemas/jsonSchemaFiles.ts';
import type { CliContext } from './cliContext.ts';

/** Where the committed JSON Schema files live. */
export const SCHEMA_DIR = 'schemas/json';

/** Write the JSON Schema files to `dir`, removing stale `.json` files left by renamed types. */
export async function exportSchemas(
  dir: string,
): Promise<{ written: string[]; unchanged: string[]; removed: string[] }> {
  await mkdir(dir, { recursive: true });
  const files = jsonSchemaFiles();
  const result = { written: [] as string[], unchanged: [] as string[], removed: [] as string[] };
  for (const [name, content] of files) {
    const path = join(dir, name);
    const existing = await readFile(path, 'utf8').catch(() => undefined);
    if (existing === content) {
      result.unchanged.push(name);
      continue;
    }
    await writeFile(path, content);
    result.written.push(name);
  }
  for (const name of await readdir(dir)) {
    if (name.endsWith('.json') && !files.has(name)) {
      await unlink(join(dir, name));
      result.removed.push(name);
    }
  }
  return result;
}

/** `presslog schemas export [dir]`: the event catalogue as JSON Schema files, for non-TypeScript consumers. */
export function register(program: Command, ctx: CliContext): void {
  const schemas = program.command('schemas').description('the event schemas as JSON Schema');
  schemas
    .command('export')
    .description(
      `write <Type>.v<N>.json for every event type and version, and catalog.json (default ${SCHEMA_DIR})`,
    )
    .argument('[dir]', 'target directory', SCHEMA_DIR)
    .action(async (dir: string) => {
      const result = await exportSchemas(dir);
      ctx.output({ dir, ...result }, () =>
        [
          `${dir}: ${result.written.length} written, ${result.unchanged.length} unchanged, ${result.removed.length} removed`,
          ...result.written.map((f) => `  wrote ${f}`),
          ...result.removed.map((f) => `  removed ${f}`),
        ].join('\n'),
      );
    });
}
