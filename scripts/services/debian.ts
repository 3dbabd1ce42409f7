import { findExecutable, RunError, run } from './exec.ts';

/**
 * How to run apt-get with root's rights: directly as root, else through `sudo -n`
 * (never a password prompt: a test run or a CI job has nobody to answer it), else not.
 */
async function asRoot(): Promise<{ command: string; prefix: string[] } | string> {
  if (process.getuid?.() === 0) return { command: 'apt-get', prefix: [] };
  const sudo = await findExecutable('sudo');
  if (!sudo) return 'not running as root, and sudo is not installed';
  const allowed = await run(sudo, ['-n', 'true'], { timeoutMs: 10_000 }).then(
    () => true,
    () => false,
  );
  if (!allowed) return 'not running as root, and sudo asks for a password';
  return { command: sudo, prefix: ['apt-get'] };
}

/**
 * The full path of the first of `binaries` found on PATH; when none is, install the
 * Debian package `pkg` (as root or with sudo) and look again. Package lists are
 * refreshed only when the install fails without them: a fresh image has none, a warm
 * one needs no network. The error says why it could not, and what to run instead.
 */
export async function ensureBinary(
  binaries: string | readonly string[],
  pkg: string,
  progress: (message: string) => void,
  /** What else would do, for the error message: e.g. `, or start Docker`. */
  otherwise = '',
): Promise<string> {
  const names = typeof binaries === 'string' ? [binaries] : binaries;
  const find = async () => {
    for (const name of names) {
      const found = await findExecutable(name);
      if (found) return found;
    }
    return undefined;
  };
  const found = await find();
  if (found) return found;
  const what = `${names.join(' or ')} is not installed`;
  await installDebianPackage(pkg, what, progress, otherwise);
  const installed = await find();
  if (!installed) throw new Error(`installed ${pkg} but ${names.join(' or ')} is still not on PATH`);
  return installed;
}

/**
 * Install the Debian package `pkg` (as root or with sudo); `what` says why, for the error
 * (e.g. `nats-server is not installed`). Package lists are refreshed only when the install
 * fails without them.
 */
export async function installDebianPackage(
  pkg: string,
  what: string,
  progress: (message: string) => void,
  otherwise = '',
): Promise<void> {
  const manual = `install the Debian package ${pkg} (apt-get install -y ${pkg})${otherwise}`;
  if (!(await findExecutable('apt-get'))) throw new Error(`${what}, and apt-get is not available; ${manual}`);
  const root = await asRoot();
  if (typeof root === 'string') throw new Error(`${what}, and cannot install it: ${root}; ${manual}`);
  progress(`installing Debian package ${pkg}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (...args: string[]) =>
    run(root.command, [...root.prefix, ...args], { env, timeoutMs: 10 * 60_000 });
  const install = () => apt('install', '-y', '-qq', pkg);
  try {
    await install().catch(async () => {
      await apt('update', '-qq');
      await install();
    });
  } catch (err) {
    const why = err instanceof RunError ? err.message : String(err);
    throw new Error(`${what}, and installing the Debian package ${pkg} failed: ${why}`, { cause: err });
  }
}
