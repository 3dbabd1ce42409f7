import type { Client } from '@elastic/elasticsearch';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Names } from '../../schemas/names.ts';
import { createAlertMatcher } from '../../search/alertMatcher.ts';
import { createSavedSearches } from '../../search/savedSearches.ts';

/**
 * The live projector's saved-search alerts: pass `onArticlesVisible` to `createProjector`,
 * `close()` after the run (waits for matching in progress).
 */
export function createAlertHook(options: {
  es: Client;
  nc: NatsConnection;
  names: Names;
  /** Replicas of the saved searches' KV bucket when it is created (PRESSLOG_REPLICAS). */
  replicas?: number;
  logger?: Logger;
}): {
  onArticlesVisible: (ids: string[]) => Promise<unknown>;
  close: () => Promise<void>;
} {
  const matcher = createAlertMatcher({ ...options, searches: createSavedSearches(options) });
  return { onArticlesVisible: (ids) => matcher.match(ids), close: () => matcher.close() };
}
