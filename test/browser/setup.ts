/**
 * What the browser tests need besides the services (`presslog services up` starts
 * those): a headless Chromium. `npm test` and `npm run screenshot` run this first; it
 * returns at once when Chromium is there and otherwise installs Debian's package, or
 * exits 1 saying why it could not.
 */
import { ensureChromium } from './chromium.ts';

const quiet = process.argv.includes('--quiet');
try {
  const path = await ensureChromium((message) => process.stderr.write(`test setup: ${message}\n`));
  if (!quiet) process.stdout.write(`test setup: Chromium at ${path}\n`);
} catch (err) {
  process.stderr.write(`test setup: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
