import { chown, copyFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client, estypes } from '@elastic/elasticsearch';
import { HUNSPELL_LOCALE } from '../../projectors/analysis.ts';
import { PACKAGE_ROOT } from '../packageRoot.ts';
import { installDebianPackage } from './debian.ts';

/** Where Debian's `hunspell-en-us` puts the dictionary. */
export const DEBIAN_HUNSPELL_DIR = '/usr/share/hunspell';
/** presslog's own stem exceptions (`word<TAB>st:stem`), loaded beside Debian's en_US. */
export const PRESSLOG_DIC = join(PACKAGE_ROOT, 'scripts', 'services', 'hunspell', 'presslog.dic');

/** A word and a stem the installed dictionary must give it: proves the node loaded ours, exceptions included. */
const PROBE = { text: 'taxation', stem: 'tax' } as const;

export interface HunspellResult {
  action: 'present' | 'installed';
  /** The directory written, when it was this machine's node. */
  dir?: string;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([readFile(a), readFile(b).catch(() => undefined)]);
  return y !== undefined && x.equals(y);
}

/** Copy `from` to `to` unless it already holds the same bytes; true when it wrote. */
async function copyIfChanged(
  from: string,
  to: string,
  owner?: { uid: number; gid: number },
): Promise<boolean> {
  if (await sameBytes(from, to)) return false;
  const scratch = `${to}.tmp-${process.pid}`;
  await copyFile(from, scratch);
  if (owner) await chown(scratch, owner.uid, owner.gid);
  await rename(scratch, to);
  return true;
}

/** The config directory of the node at the URL, when it is on this machine (a Docker node's is not). */
async function localConfigDir(es: Client): Promise<string | undefined> {
  const info = (await es.nodes.info({ node_id: '_local', metric: 'settings' })) as {
    nodes: Record<string, { settings?: { path?: { home?: string } } }>;
  };
  const home = Object.values(info.nodes)[0]?.settings?.path?.home;
  if (!home) return undefined;
  const config = join(home, 'config');
  const found = await stat(join(config, 'elasticsearch.yml')).catch(() => undefined);
  return found ? config : undefined;
}

/** True when the node's hunspell filter stems with presslog's dictionary (exceptions included). */
async function dictionaryLoaded(es: Client): Promise<boolean | string> {
  try {
    const answer = await es.indices.analyze({
      tokenizer: 'standard',
      // The client's type asks for `lang` and `language` as well: aliases of `locale`, one is enough.
      filter: [
        'lowercase',
        { type: 'hunspell', locale: HUNSPELL_LOCALE, dedup: true } as unknown as estypes.AnalysisTokenFilter,
      ],
      text: PROBE.text,
    });
    return (answer.tokens ?? []).some((t) => t.token === PROBE.stem);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Debian's en_US dictionary on this machine (for a local node, or for docker-compose.yml to mount). */
export async function ensureDebianDictionary(progress: (message: string) => void): Promise<void> {
  const aff = join(DEBIAN_HUNSPELL_DIR, 'en_US.aff');
  const dic = join(DEBIAN_HUNSPELL_DIR, 'en_US.dic');
  if (!(await stat(aff).catch(() => undefined)) || !(await stat(dic).catch(() => undefined))) {
    await installDebianPackage('hunspell-en-us', `the English dictionary ${aff} is not installed`, progress);
  }
}

/**
 * Make the Elasticsearch node stem English: when the node runs on this machine, install
 * Debian's `hunspell-en-us` if missing and copy it and presslog's stem exceptions into
 * `<node config>/hunspell/presslog_en_US/` (docker-compose.yml mounts the same files into
 * its container); then, for any node, ask it to stem a probe word. No restart: Elasticsearch loads a
 * hunspell locale on first use, so a running node picks up a new directory. It caches it
 * then, so a dictionary changed after first use needs a restart: the error says so.
 */
export async function ensureHunspell(
  es: Client,
  progress: (message: string) => void,
): Promise<HunspellResult> {
  const aff = join(DEBIAN_HUNSPELL_DIR, 'en_US.aff');
  const dic = join(DEBIAN_HUNSPELL_DIR, 'en_US.dic');
  let result: HunspellResult = { action: 'present' };
  // Only a node on this machine gets the files from here; another's config is not ours to write.
  const config = await localConfigDir(es);
  if (config) {
    if (!(await stat(aff).catch(() => undefined)) || !(await stat(dic).catch(() => undefined))) {
      await installDebianPackage(
        'hunspell-en-us',
        `the English dictionary ${aff} is not installed`,
        progress,
      );
    }
    const dir = join(config, 'hunspell', HUNSPELL_LOCALE);
    await mkdir(dir, { recursive: true });
    // Elasticsearch refuses to run as root: the files belong to whoever owns its config.
    const owner = process.getuid?.() === 0 ? await stat(config) : undefined;
    if (owner) await chown(dir, owner.uid, owner.gid);
    const wrote = await Promise.all([
      copyIfChanged(aff, join(dir, 'en_US.aff'), owner),
      copyIfChanged(dic, join(dir, 'en_US.dic'), owner),
      copyIfChanged(PRESSLOG_DIC, join(dir, 'presslog.dic'), owner),
    ]);
    if (wrote.some(Boolean)) {
      progress(`installed the hunspell dictionary ${HUNSPELL_LOCALE} into ${dir}`);
      result = { action: 'installed', dir };
    } else result = { action: 'present', dir };
  }
  const loaded = await dictionaryLoaded(es);
  if (loaded === true) return result;
  const why = typeof loaded === 'string' ? loaded : `it does not stem "${PROBE.text}" to "${PROBE.stem}"`;
  throw new Error(
    `Elasticsearch cannot use the hunspell dictionary ${HUNSPELL_LOCALE} (${why}). ` +
      (config
        ? 'It loaded an older copy before this one was installed: restart it (presslog services down, then up).'
        : `Put ${aff}, ${dic} and ${PRESSLOG_DIC} into the node's config/hunspell/${HUNSPELL_LOCALE}/ and restart it.`),
  );
}
