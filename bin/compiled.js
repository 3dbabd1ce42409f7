// The compiled CLI in dist/ (written by bin/build.js) and whether it is current: built
// after the last change to any source file or directory. A stale or missing build is
// never run; bin/presslog.js then runs the sources through tsx instead.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What the build compiles or copies; a change anywhere in these makes it stale. */
export const SOURCE_DIRS = ['schemas', 'log', 'ingest', 'projectors', 'search', 'scripts'];

export const distPaths = (root = ROOT) => ({
  dist: join(root, 'dist'),
  /** Written last by a successful build: the time the build started, in ms. */
  stamp: join(root, 'dist', '.built'),
  /** The compiled composition root. */
  entry: join(root, 'dist', 'scripts', 'presslog.js'),
});

function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs; // a file added, removed or renamed
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function newestSourceMtime(root = ROOT) {
  return Math.max(...SOURCE_DIRS.map((dir) => newestMtime(join(root, dir))));
}

export function compiledIsCurrent(root = ROOT) {
  const { stamp, entry } = distPaths(root);
  let builtAt;
  try {
    builtAt = Number(readFileSync(stamp, 'utf8'));
  } catch {
    return false;
  }
  return builtAt >= newestSourceMtime(root) && existsSync(entry);
}
