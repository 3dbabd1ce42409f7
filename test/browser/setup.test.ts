import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SETUP = fileURLToPath(new URL('setup.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the set-up step `npm test` runs, with PATH set to `bin` alone (node is linked there). */
function runSetup(bin: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', SETUP],
      { env: { HOME: process.env.HOME, PATH: bin, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A directory for PATH holding node and, if given, an `apt-get` script that logs its calls. */
async function withBin(aptGet: string | undefined, fn: (bin: string) => Promise<void>): Promise<void> {
  const bin = await mkdtemp(join(tmpdir(), 'presslog-setup-'));
  try {
    await symlink(process.execPath, join(bin, 'node'));
    if (aptGet !== undefined) {
      await writeFile(join(bin, 'apt-get'), `#!/bin/sh\necho "$*" >> ${bin}/calls\n${aptGet}\n`);
      await chmod(join(bin, 'apt-get'), 0o755);
    }
    await fn(bin);
  } finally {
    await rm(bin, { recursive: true, force: true });
  }
}

const calls = async (bin: string) => (await readFile(join(bin, 'calls'), 'utf8')).trim().split('\n');

test('a CHROMIUM_PATH that names no executable fails clearly and installs nothing', async () => {
  await withBin('exit 1', async (bin) => {
    const run = await runSetup(bin, { CHROMIUM_PATH: join(bin, 'no-such-chromium') });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /CHROMIUM_PATH=.*no-such-chromium is not an executable file; unset it/);
    await assert.rejects(calls(bin), { code: 'ENOENT' }, 'apt-get was not run');
  });
});

test('no Chromium and no apt-get: the message says what to install', async () => {
  await withBin(undefined, async (bin) => {
    const run = await runSetup(bin);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /chromium or chromium-browser is not installed, and apt-get is not available/);
    assert.match(run.stderr, /apt-get install -y chromium/);
  });
});

// As root apt-get is run directly, so these use the script on PATH; through sudo it could
// be the real one.
test('no Chromium: apt-get install, apt-get update only when the install fails without it', {
  skip: !isRoot && 'needs root (sudo would run the real apt-get)',
}, async () => {
  await withBin(
    [
      `case "$1" in update) /usr/bin/touch "$(/usr/bin/dirname "$0")/updated";;`,
      `install) [ -f "$(/usr/bin/dirname "$0")/updated" ] || exit 100`,
      `  /bin/ln -s /bin/true "$(/usr/bin/dirname "$0")/chromium-browser";; esac`,
    ].join('\n'),
    async (bin) => {
      const run = await runSetup(bin);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `test setup: Chromium at ${join(bin, 'chromium-browser')}\n`);
      assert.deepEqual(await calls(bin), [
        'install -y -qq chromium',
        'update -qq',
        'install -y -qq chromium',
      ]);
      // Found now: nothing is installed again.
      assert.equal((await runSetup(bin)).code, 0);
      assert.equal((await calls(bin)).length, 3);
    },
  );
});

test("no Chromium and apt-get fails: exit 1 with apt-get's own words", {
  skip: !isRoot && 'needs root (sudo would run the real apt-get)',
}, async () => {
  await withBin('echo "E: Unable to locate package chromium" >&2; exit 100', async (bin) => {
    const run = await runSetup(bin);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /installing the Debian package chromium failed: .*\n.*Unable to locate package/);
    assert.deepEqual(await calls(bin), ['install -y -qq chromium', 'update -qq']);
  });
});
