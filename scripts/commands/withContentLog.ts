import type { NatsConnection } from '@nats-io/transport-node';
import { createContentLog } from '../../log/contentLog.ts';
import type { ContentLog } from '../../log/types.ts';
import { ConfigError, TransientError } from '../../schemas/errors.ts';
import { ENTITY_TYPES, type EntityType, isEntityType, isValidId } from '../../schemas/names.ts';
import { connectNats, maskCredentials } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';

/** Connect to NATS (failing within seconds when it is unreachable), run `fn` with the content log, close both. */
export async function withContentLog<T>(
  ctx: CliContext,
  fn: (log: ContentLog, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const config = ctx.config();
  let nc: NatsConnection;
  try {
    nc = await connectNats(config, { name: 'presslog-cli', timeout: 5_000 });
  } catch (err) {
    throw new TransientError(
      `cannot connect to NATS at ${maskCredentials(config.nats.url)}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const log = createContentLog({ nc, names: config.names, logger: ctx.log() });
  try {
    return await fn(log, nc);
  } finally {
    await log.close();
    await nc.close();
  }
}

/** Command-line entity arguments, checked before any connection: a bad one is a usage error (exit 2). */
export function entityArgs(type: string, id: string): { type: EntityType; id: string } {
  if (!isEntityType(type)) throw new ConfigError('<type>', `must be one of ${ENTITY_TYPES.join(', ')}`);
  if (!isValidId(id))
    throw new ConfigError('<id>', `${JSON.stringify(id)} is not an id (1-128 of A-Z a-z 0-9 _ -)`);
  return { type, id };
}
