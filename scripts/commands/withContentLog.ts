import type { NatsConnection } from '@nats-io/transport-node';
import { createContentLog } from '../../log/contentLog.ts';
import type { KeyRing } from '../../log/keyRing.ts';
import type { ContentLog } from '../../log/types.ts';
import { ConfigError } from '../../schemas/errors.ts';
import { ENTITY_TYPES, type EntityType, isEntityType, isValidId } from '../../schemas/names.ts';
import { openConfiguredKeyRing } from '../keys.ts';
import { connectNatsOrExplain } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';

/** Connect to NATS (failing within seconds when it is unreachable), run `fn` with the content log, close both. */
export function withContentLog<T>(
  ctx: CliContext,
  fn: (log: ContentLog, nc: NatsConnection, keys: KeyRing) => Promise<T>,
): Promise<T> {
  return run(ctx, fn, false);
}

/**
 * {@link withContentLog}, the log on a connection of its own: `nc`, for leases,
 * checkpoints and snapshots, then never waits behind the log's reads. nats-server handles
 * a connection's requests one at a time, and creating a last-per-subject consumer on a
 * large stream held one connection for 2-21 s in measurements, long enough for a lease
 * renewal queued behind it to miss its time-to-live.
 */
export function withContentLogApart<T>(
  ctx: CliContext,
  fn: (log: ContentLog, nc: NatsConnection, keys: KeyRing) => Promise<T>,
): Promise<T> {
  return run(ctx, fn, true);
}

async function run<T>(
  ctx: CliContext,
  fn: (log: ContentLog, nc: NatsConnection, keys: KeyRing) => Promise<T>,
  apart: boolean,
): Promise<T> {
  const config = ctx.config();
  const open = (name: string) => connectNatsOrExplain(config, name);
  const logNc = await open(apart ? 'presslog-cli-log' : 'presslog-cli');
  let nc = logNc;
  if (apart) {
    try {
      nc = await open('presslog-cli');
    } catch (err) {
      await logNc.close();
      throw err;
    }
  }
  let log: ContentLog;
  let keys: KeyRing;
  try {
    keys = await openConfiguredKeyRing(config, nc, ctx.log());
    log = createContentLog({
      nc: logNc,
      names: config.names,
      replicas: config.replicas,
      logger: ctx.log(),
      keys,
    });
  } catch (err) {
    await Promise.all([...new Set([logNc, nc])].map((c) => c.close()));
    throw err;
  }
  try {
    return await fn(log, nc, keys);
  } finally {
    await log.close();
    await Promise.all([...new Set([logNc, nc])].map((c) => c.close()));
  }
}

/** Command-line entity arguments, checked before any connection: a bad one is a usage error (exit 2). */
export function entityArgs(type: string, id: string): { type: EntityType; id: string } {
  if (!isEntityType(type)) throw new ConfigError('<type>', `must be one of ${ENTITY_TYPES.join(', ')}`);
  if (!isValidId(id))
    throw new ConfigError('<id>', `${JSON.stringify(id)} is not an id (1-128 of A-Z a-z 0-9 _ -)`);
  return { type, id };
}
