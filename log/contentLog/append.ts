import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { validateEvent } from '../../schemas/catalog.ts';
import {
  ConcurrencyError,
  ConfigError,
  InvalidEventError,
  PresslogError,
  TransientError,
} from '../../schemas/errors.ts';
import { isEntityType, isValidId } from '../../schemas/names.ts';
import { encodeEvent, HEADER_RESERVE_BYTES, oversizeError } from '../codec.ts';
import type { AppendItem, AppendOutcome, AppendStats } from '../types.ts';
import { createBatchSealer } from './batchSealer.ts';
import { clients, publisher } from './connection.ts';
import type { LogContext } from './context.ts';
import {
  abortError,
  isNoResponders,
  isStreamNotFound,
  isTransportError,
  MoreJetStreamApiCodes,
  streamMissing,
} from './natsErrors.ts';
import type { PublishAck } from './publisher.ts';

/** A settled append: the outcome plus whether later items of the batch should not be sent at all. */
interface Settled {
  outcome: AppendOutcome;
  stop?: Error;
}

function settleError(
  stream: string,
  err: unknown,
  eventId: string,
  subject: string,
  expected: number | undefined,
): Settled {
  if (err instanceof JetStreamApiError) {
    if (
      err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
    ) {
      return {
        outcome: {
          status: 'conflict',
          eventId,
          error: new ConcurrencyError(subject, expected ?? -1, { cause: err }),
        },
      };
    }
    if (err.code === MoreJetStreamApiCodes.MessageTooLarge) {
      return {
        outcome: {
          status: 'invalid',
          eventId,
          error: new InvalidEventError('event', [{ path: '/', message: err.message }], {
            eventId,
            cause: err,
          }),
        },
      };
    }
    const error = isStreamNotFound(err)
      ? streamMissing(stream, err)
      : new PresslogError(`JetStream refused ${eventId} on ${subject}: ${err.message}`, { cause: err });
    return { outcome: { status: 'failed', eventId, error } };
  }
  if (isNoResponders(err)) {
    // No responders on a publish: no stream listens on the subject.
    const error = new ConfigError(stream, `no stream stores ${subject}: run \`presslog init\` first`, {
      cause: err,
    });
    return { outcome: { status: 'failed', eventId, error }, stop: error };
  }
  const error = isTransportError(err)
    ? new TransientError(`append ${eventId} on ${subject}: ${(err as Error).message}`, { cause: err })
    : new PresslogError(`append ${eventId} on ${subject}: ${(err as Error).message}`, { cause: err });
  return { outcome: { status: 'failed', eventId, error }, stop: error };
}

/** A retryable failure to prepare an item (its key not fetched or created), as a TransientError. */
function asTransient(eventId: string, err: unknown): TransientError {
  if (err instanceof TransientError) return err;
  return new TransientError(`the data key of ${eventId}: ${(err as Error).message}`, { cause: err });
}

/** An item not sent because the batch stopped (a transport failure, an abort) before it. */
function notSent(eventId: string, stop: Error): AppendOutcome {
  return {
    status: 'failed',
    eventId,
    error: new TransientError(`not sent: ${stop.message}`, { cause: stop }),
  };
}

/** An item not sent because its entity's earlier item in the batch was not appended (the prefix rule). */
function blockedByPrior(
  prior: Extract<AppendOutcome, { status: 'conflict' | 'invalid' | 'failed' }>,
  eventId: string,
  entitySubject: string,
  expected: number | undefined,
): AppendOutcome {
  const error =
    prior.status === 'failed'
      ? new TransientError(`not sent: the entity's earlier event ${prior.eventId} in this batch failed`)
      : new ConcurrencyError(entitySubject, expected ?? -1, {
          cause: new PresslogError(
            `not sent: the entity's earlier event ${prior.eventId} in this batch was ${prior.status === 'conflict' ? 'a conflict' : prior.status}`,
          ),
        });
  return {
    status: prior.status === 'failed' ? 'failed' : 'conflict',
    eventId,
    error,
  };
}

function tally(outcomes: AppendOutcome[]): AppendStats {
  const stats: AppendStats = {
    outcomes,
    appended: 0,
    duplicates: 0,
    conflicts: 0,
    invalid: 0,
    failed: 0,
    lastSeq: 0,
  };
  for (const outcome of outcomes) {
    switch (outcome.status) {
      case 'appended':
        stats.appended++;
        stats.lastSeq = Math.max(stats.lastSeq, outcome.seq);
        break;
      case 'duplicate':
        stats.duplicates++;
        break;
      case 'conflict':
        stats.conflicts++;
        break;
      case 'invalid':
        stats.invalid++;
        break;
      case 'failed':
        stats.failed++;
        break;
    }
  }
  return stats;
}

/**
 * Append a batch, one outcome per item (a failed item is data, not an exception).
 *
 * - Events are validated (current schema version only) and size-checked before any
 *   byte is sent; an invalid or oversized event is reported `invalid`, never published.
 * - A batch is published pipelined in batch order (up to `publishWindow` awaiting acks)
 *   by the log's publisher (publisher.ts: core NATS publishes, one reply inbox), so the
 *   stream stores the appended events of one batch in that order, except an event sent
 *   again after its ack did not come in time or a reconnect (same `Nats-Msg-Id`: stored
 *   once, reported `duplicate` when the first send was stored after all).
 * - Per entity, a batch is appended as a prefix: an item whose entity already had an
 *   item earlier in the batch is sent only after that one was acknowledged, and is not
 *   sent if that one was not appended (reported `conflict`, or `failed` if the earlier
 *   one failed). Its `expectedLastSeq`, when set, is replaced by the earlier item's
 *   acknowledged sequence: "right after my previous event", which the caller cannot
 *   know in advance.
 * - After a transport failure (no ack after the publisher's attempts, connection closed)
 *   or an abort no further item is sent; those are reported `failed` as not sent. An item
 *   that failed may still have been stored: retrying it is safe within the duplicate window.
 *
 * Longer than most functions here on purpose: the loop's state (the outcomes, the
 * publishes in flight, each entity's previous item, `stop`) is one pipeline whose
 * ordering rules read best in one place.
 */
export async function append(
  ctx: LogContext,
  items: readonly AppendItem[],
  appendOptions: { signal?: AbortSignal } = {},
): Promise<AppendStats> {
  const { names, publishWindow, stream } = ctx;
  const { signal } = appendOptions;
  const { nc } = await clients(ctx);
  const publishing = await publisher(ctx);
  const limit = (nc.info?.max_payload ?? 1024 * 1024) - HEADER_RESERVE_BYTES;
  const sealer = ctx.keys ? await createBatchSealer(ctx.keys, items) : undefined;
  const outcomes = new Array<AppendOutcome>(items.length);
  const inflight: Promise<void>[] = [];
  let inflightHead = 0;
  /** The last item of each entity in this batch, for the per-entity prefix rule. */
  const previous = new Map<string, { index: number; done: Promise<void> }>();
  let stop: Error | undefined;

  for (let index = 0; index < items.length; index++) {
    const item = items[index]!;
    const raw = item.event as { id?: unknown; entityType?: unknown; entityId?: unknown };
    const eventId = typeof raw?.id === 'string' ? raw.id : `#${index}`;
    const subject =
      typeof raw?.entityType === 'string' &&
      isEntityType(raw.entityType) &&
      typeof raw.entityId === 'string' &&
      isValidId(raw.entityId)
        ? names.subject(raw.entityType, raw.entityId)
        : undefined;

    if (!stop && signal?.aborted) stop = abortError(signal);
    if (stop) {
      outcomes[index] = notSent(eventId, stop);
      continue;
    }

    let validated: ReturnType<typeof validateEvent>;
    let bytes: Uint8Array;
    try {
      validated = validateEvent(item.event, { currentOnly: true });
      // Sealed: the payload encrypted under the item's key and the id keyed (crypto-shredding).
      const sealed = sealer?.seal(validated);
      if (sealed) validated = { ...validated, id: sealed.id };
      bytes = sealed ? sealed.bytes : encodeEvent(validated);
      if (bytes.byteLength > limit) throw oversizeError(validated, bytes.byteLength, limit);
    } catch (err) {
      // Its key could not be fetched or created (a server not answering, a fail-over):
      // worth a retry, unlike an event that is itself invalid.
      outcomes[index] =
        err instanceof TransientError || isTransportError(err)
          ? { status: 'failed', eventId, error: asTransient(eventId, err) }
          : { status: 'invalid', eventId, error: err as Error };
      if (subject) previous.set(subject, { index, done: Promise.resolve() });
      continue;
    }
    const event = validated;
    const entitySubject = names.subject(event.entityType, event.entityId);

    let expected = item.expectedLastSeq;
    const before = previous.get(entitySubject);
    if (before) {
      await before.done;
      const prior = outcomes[before.index]!;
      if (prior.status !== 'appended' && prior.status !== 'duplicate') {
        outcomes[index] = blockedByPrior(prior, event.id, entitySubject, expected);
        previous.set(entitySubject, { index, done: Promise.resolve() });
        continue;
      }
      if (expected !== undefined) expected = prior.seq;
      // The wait may have let a failure or an abort happen; re-check before sending.
      if (!stop && signal?.aborted) stop = abortError(signal);
      if (stop) {
        outcomes[index] = notSent(event.id, stop);
        previous.set(entitySubject, { index, done: Promise.resolve() });
        continue;
      }
    }

    // Bounded pipelining: when the window is full, wait for its oldest eighth, so the next
    // eighth is published in one go (nats.js writes to the socket once per microtask
    // turn that published: one ack, one publish, one write was a syscall per event).
    if (inflight.length - inflightHead >= publishWindow) {
      const until = inflightHead + Math.max(1, publishWindow >> 3);
      while (inflightHead < until) await inflight[inflightHead++];
    }

    const at = index;
    const request = { subject: entitySubject, bytes, msgId: event.id, expectedLastSubjectSequence: expected };
    const done = publishing.publish(request).then(
      (ack: PublishAck) => {
        outcomes[at] = ack.duplicate
          ? { status: 'duplicate', eventId: event.id, seq: ack.seq }
          : { status: 'appended', eventId: event.id, seq: ack.seq };
      },
      (err: unknown) => {
        const settled = settleError(stream, err, event.id, entitySubject, expected);
        outcomes[at] = settled.outcome;
        if (settled.stop && !stop) stop = settled.stop;
      },
    );
    inflight.push(done);
    previous.set(entitySubject, { index, done });
  }
  for (let i = inflightHead; i < inflight.length; i++) await inflight[i];
  sealer?.settle(outcomes);

  const stats = tally(outcomes);
  if (stats.failed > 0)
    ctx.log?.warn({ failed: stats.failed, appended: stats.appended }, 'append batch had failures');
  return stats;
}
