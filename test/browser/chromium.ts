import { type Browser, chromium } from 'playwright-core';
import { ensureBinary } from '../../scripts/services/debian.ts';
import { findExecutable, isExecutable } from '../../scripts/services/exec.ts';

/** Names the browser to use instead of looking for Debian's chromium on PATH. */
export const CHROMIUM_ENV = 'CHROMIUM_PATH';
/** Debian's `chromium` package; Ubuntu's older name first, as on PATH. */
const BINARIES = ['chromium', 'chromium-browser'] as const;
const PACKAGE = 'chromium';

/** `$CHROMIUM_PATH` when set (even if missing), else the first Chromium on PATH. */
async function lookUp(env: NodeJS.ProcessEnv): Promise<{ path?: string; override?: string }> {
  const override = env[CHROMIUM_ENV];
  if (override) return (await isExecutable(override)) ? { path: override, override } : { override };
  for (const name of BINARIES) {
    const path = await findExecutable(name);
    if (path) return { path };
  }
  return {};
}

/** The Chromium the browser tests drive, or why there is none and how to get one. */
export async function findChromium(env = process.env): Promise<string> {
  const { path, override } = await lookUp(env);
  if (path) return path;
  if (override) throw new Error(`${CHROMIUM_ENV}=${override} is not an executable file`);
  throw new Error(
    `Chromium is not installed (no ${BINARIES.join(' or ')} on PATH); ` +
      `"node --import tsx test/browser/setup.ts" installs Debian's ${PACKAGE}, as npm test does`,
  );
}

/**
 * Find Chromium, installing Debian's package when none is found (as root or with sudo).
 * A `$CHROMIUM_PATH` that names no executable is an error, not a reason to install a
 * browser elsewhere: the caller asked for that one.
 */
export async function ensureChromium(
  progress: (message: string) => void,
  env = process.env,
): Promise<string> {
  const { path, override } = await lookUp(env);
  if (path) return path;
  if (override) {
    throw new Error(
      `${CHROMIUM_ENV}=${override} is not an executable file; ` +
        `unset it to use Debian's ${PACKAGE} (installed when missing)`,
    );
  }
  return ensureBinary(BINARIES, PACKAGE, progress, `, or set ${CHROMIUM_ENV} to a Chromium or Chrome`);
}

/** Headless Chromium as the tests and `npm run screenshot` drive it. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: await findChromium(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
