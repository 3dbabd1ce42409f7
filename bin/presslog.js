#!/usr/bin/env node
// The `presslog` command (npx presslog, npm run presslog, npm link): the compiled CLI in
// dist/ when `npm run build` made it after the last source change, otherwise the
// TypeScript sources through tsx's loader (slower to start and ~45 MiB larger).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledIsCurrent, distPaths, ROOT } from './compiled.js';

if (compiledIsCurrent()) {
  await import(pathToFileURL(distPaths().entry).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(ROOT, 'scripts', 'presslog.ts')).href);
}
