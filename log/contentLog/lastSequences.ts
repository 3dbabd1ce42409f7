import { DeliverPolicy } from '@nats-io/jetstream';
import { TransientError } from '../../schemas/errors.ts';
import { type EntityType, parseSubject } from '../../schemas/names.ts';
import type { EntityLastSeq } from '../types.ts';
import type { LogContext } from './context.ts';
import { assertEntityType } from './readEntity.ts';
import { readOrdered } from './readOrdered.ts';

/**
 * The last message of every subject of an entity type, headers only (added for the
 * projectors' rebuild), in stream order. An ordered consumer that recovers from a gap
 * goes on from a start sequence, which would deliver more than the last message of a
 * subject: such a read stops with a TransientError instead, so every item it yielded is
 * a subject's last message and a caller that retries starts over.
 */
export async function* lastSequences(
  ctx: LogContext,
  entityType: EntityType,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<EntityLastSeq> {
  const { names } = ctx;
  const { signal } = options;
  signal?.throwIfAborted();
  assertEntityType(entityType);
  let consumer: string | undefined;
  yield* readOrdered(ctx, {
    filter: names.entitySubjects(entityType),
    consumer: { deliver_policy: DeliverPolicy.LastPerSubject, headers_only: true },
    batch: 4096,
    signal,
    visit(m) {
      consumer ??= m.info.consumer;
      if (m.info.consumer !== consumer) {
        throw new TransientError('the consumer was recreated, no longer last-per-subject');
      }
      const parsed = parseSubject(names, m.subject);
      return { item: parsed ? { id: parsed.id, seq: m.info.streamSequence } : undefined, last: false };
    },
  });
}
