#!/usr/bin/env node
// `npm run build`: compile the CLI to dist/ with tsc (tsconfig.build.json, incremental),
// copy the web page's static files beside the compiled server, then stamp the build with
// the time it started, so a source changed while it ran leaves it stale. `--if-stale`
// (npm start, npm test) returns at once when the build is current.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { compiledIsCurrent, distPaths, ROOT } from './compiled.js';

if (process.argv.includes('--if-stale') && compiledIsCurrent()) process.exit(0);

const { dist, stamp } = distPaths();
const startedAt = Date.now();
rmSync(stamp, { force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (run.status !== 0) {
  console.error('presslog build: tsc failed; dist/ is not used until a build succeeds');
  process.exit(run.status ?? 1);
}
mkdirSync(join(dist, 'search'), { recursive: true });
cpSync(join(ROOT, 'search', 'web'), join(dist, 'search', 'web'), { recursive: true });
writeFileSync(stamp, String(startedAt));
