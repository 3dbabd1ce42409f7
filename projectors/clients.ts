import type { Client } from '@elastic/elasticsearch';
import type { KV } from '@nats-io/kv';
import type { CheckpointStore } from '../log/checkpoints.ts';
import type { ContentLog } from '../log/types.ts';
import type { Names } from '../schemas/names.ts';
import type { DeadLetterStore } from './write/deadLetters.ts';

/**
 * The services a projection runs against, opened by the caller (the CLI's composition
 * root, or a test) and only borrowed here: the live projector, the reindex, status and
 * rollback all take this one bundle, and none of them closes it.
 */
export interface ProjectionClients {
  log: ContentLog;
  client: Client;
  checkpoints: CheckpointStore;
  leaseBucket: KV;
  deadLetters: DeadLetterStore;
  names: Names;
}
