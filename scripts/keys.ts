import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { type IdMapper, opaqueIdMapper } from '../ingest/opaqueIds.ts';
import { type KeyRing, openKeyRing } from '../log/keyRing.ts';
import { loadMasterKey } from '../log/masterKey.ts';
import type { Config } from '../schemas/config.ts';
import type { EntityType } from '../schemas/names.ts';

/**
 * The key ring of the configured namespace: the master key from `PRESSLOG_MASTER_KEY_FILE`
 * (the default path is generated on first use), checked
 * against the keys bucket. Every entry point that opens the content log passes it on.
 */
export async function openConfiguredKeyRing(
  config: Config,
  nc: NatsConnection,
  logger?: Logger,
): Promise<KeyRing> {
  const master = await loadMasterKey(config.masterKey.file, { create: config.masterKey.generateIfMissing });
  // Info, not warn: any command may be the first to run; `presslog init` always names
  // the key file and says to back it up.
  if (master.created) {
    logger?.info(
      { path: master.path },
      'generated the master key: BACK IT UP now (without it no content can be read); see README "Takedowns"',
    );
  }
  return openKeyRing({ nc, names: config.names, masterKey: master.key, replicas: config.replicas });
}

/** The deployment's id mapping for ingest: opaque ids with `PRESSLOG_OPAQUE_IDS`, else none. */
export function configuredIdMapper(config: Config, keys: KeyRing): IdMapper | undefined {
  return config.opaqueIds ? opaqueIdMapper(keys.idKey) : undefined;
}

/** The id an item given on the command line is stored under (its opaque id, when the deployment uses them). */
export function storedId(config: Config, keys: KeyRing, entityType: EntityType, id: string): string {
  return configuredIdMapper(config, keys)?.(entityType, id) ?? id;
}
