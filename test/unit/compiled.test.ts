import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compiledIsCurrent, distPaths, SOURCE_DIRS } from '../../bin/compiled.js';
import { PACKAGE_ROOT } from '../../scripts/packageRoot.ts';

const root = mkdtempSync(join(tmpdir(), 'presslog-compiled-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Every file and directory of the fake package at `seconds` (epoch). */
function ageAll(paths: string[], seconds: number): void {
  for (const path of paths) utimesSync(path, seconds, seconds);
}

test('the compiled CLI runs only when built after the last change to any source', () => {
  const { entry, stamp } = distPaths(root);
  const nested = join(root, 'projectors', 'articles');
  mkdirSync(nested, { recursive: true });
  for (const dir of SOURCE_DIRS) mkdirSync(join(root, dir), { recursive: true });
  const source = join(nested, 'projectArticle.ts');
  const doomed = join(root, 'log', 'codec.ts');
  writeFileSync(source, '');
  writeFileSync(doomed, '');
  const tree = [...SOURCE_DIRS.map((d) => join(root, d)), nested, source, doomed];
  ageAll(tree, 1_000);

  assert.equal(compiledIsCurrent(root), false, 'never built');
  mkdirSync(join(root, 'dist', 'scripts'), { recursive: true });
  writeFileSync(entry, '');
  writeFileSync(stamp, String(2_000_000));
  assert.equal(compiledIsCurrent(root), true, 'built after every source');

  utimesSync(source, 3_000, 3_000);
  assert.equal(compiledIsCurrent(root), false, 'a nested source changed after the build');
  writeFileSync(stamp, String(3_000_000));
  assert.equal(compiledIsCurrent(root), true);

  unlinkSync(doomed);
  assert.equal(compiledIsCurrent(root), false, 'a source removed after the build');
  ageAll([join(root, 'log')], 1_000);
  assert.equal(compiledIsCurrent(root), true);

  unlinkSync(entry);
  assert.equal(compiledIsCurrent(root), false, 'the compiled entry point is missing');
  writeFileSync(entry, '');
  writeFileSync(stamp, 'garbage');
  assert.equal(compiledIsCurrent(root), false, 'an unreadable stamp');
});

test('the package root is found from the sources (and, the same way, from dist/)', () => {
  assert.equal(
    join(PACKAGE_ROOT, 'scripts', 'packageRoot.ts'),
    new URL('../../scripts/packageRoot.ts', import.meta.url).pathname,
  );
});
