import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../schemas/errors.ts';
import { KEY_BYTES, newKey } from './crypto/sealing.ts';

/** How {@link loadMasterKey} found the key. */
export interface MasterKey {
  key: Uint8Array;
  path: string;
  /** True when this call generated the file (it must now be backed up). */
  created: boolean;
}

/**
 * The master key that wraps every data key: 64 hex characters in a file readable by its
 * owner only. Without `create`, a missing file is a configuration error; with it (the
 * one-machine default path), the first process generates it with `wx`, so two processes
 * starting together end up with the same key, and the caller warns that it must be
 * backed up: losing it loses every sealed payload.
 */
export async function loadMasterKey(path: string, options: { create?: boolean } = {}): Promise<MasterKey> {
  const parse = (text: string): Uint8Array => {
    const hex = text.trim();
    if (!/^[0-9a-f]+$/i.test(hex) || hex.length !== KEY_BYTES * 2)
      throw new ConfigError(
        'PRESSLOG_MASTER_KEY_FILE',
        `${path} must hold ${KEY_BYTES * 2} hex characters (e.g. \`openssl rand -hex 32\`)`,
      );
    return Buffer.from(hex, 'hex');
  };
  try {
    return { key: parse(await readFile(path, 'utf8')), path, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!options.create)
      throw new ConfigError(
        'PRESSLOG_MASTER_KEY_FILE',
        `${path} does not exist (restore it from its backup)`,
        {
          cause: err,
        },
      );
  }
  await mkdir(dirname(path), { recursive: true });
  // Written whole under a temporary name, then linked into place: link fails if the file
  // exists, so a process starting at the same moment never reads a half-written key.
  // Unique per call: two generations racing in one process (same pid, same millisecond) must not share it.
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${newKey().toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
  try {
    await chmod(temporary, 0o600);
    await link(temporary, path);
    return { key: parse(await readFile(path, 'utf8')), path, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { key: parse(await readFile(path, 'utf8')), path, created: false };
  } finally {
    await unlink(temporary).catch(() => {});
  }
}
