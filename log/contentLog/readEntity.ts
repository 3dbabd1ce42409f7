import { TimeoutError } from '@nats-io/transport-node';
import { InvalidEventError, InvalidRecordError } from '../../schemas/errors.ts';
import { type EntityType, isEntityType, isValidId, type Names } from '../../schemas/names.ts';
import { type EntityState, foldEntity } from '../../schemas/state.ts';
import { storedTime } from '../codec.ts';
import type { AsOfBasis, ReadEntityOptions, ReplayItem, StoredEvent, UnreadableEvent } from '../types.ts';
import { clients } from './connection.ts';
import type { LogContext } from './context.ts';
import { decodeStored } from './decode.ts';
import { head } from './head.ts';
import { isNoResponders } from './natsErrors.ts';
import { scan } from './readOrdered.ts';
import { request } from './request.ts';

/** Throws an InvalidRecordError unless `entityType` is one of ours. */
export function assertEntityType(entityType: EntityType): void {
  if (!isEntityType(entityType)) {
    throw new InvalidRecordError(`unknown entity type ${JSON.stringify(entityType)}`, {
      field: 'entityType',
    });
  }
}

function entitySubject(names: Names, entityType: EntityType, id: string): string {
  assertEntityType(entityType);
  if (!isValidId(id)) {
    throw new InvalidRecordError(
      `invalid ${entityType} id ${JSON.stringify(id)}: use 1-128 of [A-Za-z0-9_-]`,
      {
        field: 'id',
      },
    );
  }
  return names.subject(entityType, id);
}

function unreadableError(unreadable: UnreadableEvent): InvalidEventError {
  return new InvalidEventError('stored', [
    { path: '/', message: `seq ${unreadable.seq} on ${unreadable.subject}: ${unreadable.reason}` },
    ...unreadable.problems,
  ]);
}

/**
 * One stored message by query, or null when there is none. A direct get (any replica
 * answers, no consumer) when the stream allows it, else the stream API. `head()` learns
 * which, and throws "run presslog init" when there is no stream.
 */
async function getMessage(
  ctx: LogContext,
  query: { last_by_subj: string } | { seq: number; next_by_subj: string },
): Promise<{ data: Uint8Array; seq: number; time: Date; subject: string } | null> {
  const { stream } = ctx;
  const { jsm, direct, nc } = await clients(ctx);
  if (ctx.directGet === undefined) await head(ctx);
  const message = await request(ctx, nc, `get ${JSON.stringify(query)} from ${stream}`, async () => {
    if (ctx.directGet) {
      try {
        return await direct.direct.getMessage(stream, query);
      } catch (err) {
        if (isNoResponders(err)) {
          await head(ctx);
          if (ctx.directGet) throw err;
        } else if (!(err instanceof TimeoutError)) {
          throw err;
        }
        // Unanswered: any replica may be asked, also one cut off by a network partition
        // that its peers have not noticed yet (a route's pings are minutes apart, and
        // until then the request is routed there). The stream's leader answers the same.
      }
    }
    return await jsm.streams.getMessage(stream, query);
  });
  if (!message) return null;
  const { data, seq, subject } = message;
  return { data, seq, subject, time: storedTime(message.header, message.time) };
}

/**
 * Most entities have a handful of events: reading them by direct gets (one request each)
 * is several times faster than creating a consumer. Past this many, one ordered
 * consumer reads the rest.
 */
const DIRECT_READS = 8;

/** The entity's events in order: its audit history. */
export async function readEntity(
  ctx: LogContext,
  entityType: EntityType,
  id: string,
  readOptions: ReadEntityOptions = {},
): Promise<StoredEvent[]> {
  const { names } = ctx;
  const subject = entitySubject(names, entityType, id);
  const events: StoredEvent[] = [];
  const take = (item: ReplayItem) => {
    if (item.kind === 'event') events.push(item.stored);
    else if (item.kind === 'erased') readOptions.onErased?.(item.erased);
    else if (readOptions.onUnreadable) readOptions.onUnreadable(item.unreadable);
    else throw unreadableError(item.unreadable);
  };
  let next = 1;
  for (let reads = 0; reads < DIRECT_READS; reads++) {
    const message = await getMessage(ctx, { seq: next, next_by_subj: subject });
    if (!message) return events;
    take(
      await decodeStored(ctx, message.data, {
        seq: message.seq,
        time: message.time,
        subject: message.subject,
      }),
    );
    next = message.seq + 1;
  }
  for await (const item of scan(ctx, {
    filter: subject,
    fromSeq: next,
    untilSeq: Number.MAX_SAFE_INTEGER,
    batch: 256,
  })) {
    take(item);
  }
  return events;
}

/** The entity's last event (one get, no consumer), or undefined when it has none. */
export async function lastEvent(
  ctx: LogContext,
  entityType: EntityType,
  id: string,
): Promise<StoredEvent | undefined> {
  const subject = entitySubject(ctx.names, entityType, id);
  const message = await getMessage(ctx, { last_by_subj: subject });
  if (!message) return undefined;
  const item = await decodeStored(ctx, message.data, {
    seq: message.seq,
    time: message.time,
    subject: message.subject,
  });
  if (item.kind === 'unreadable') throw unreadableError(item.unreadable);
  // The last event of an erased item is its erasure record, which stays readable; an
  // erased last event means the erasure was cut short before it was recorded.
  if (item.kind === 'erased') return undefined;
  return item.stored;
}

/** The entity's state folded from its events up to `time`, by stored or occurred time. */
export async function stateAsOf(
  ctx: LogContext,
  entityType: EntityType,
  id: string,
  time?: Date,
  asOfOptions: { basis?: AsOfBasis } = {},
): Promise<EntityState | undefined> {
  const events = await readEntity(ctx, entityType, id);
  const basis = asOfOptions.basis ?? 'stored';
  const until = time?.getTime();
  // Stored time: what the archive knew then (monotonic along the subject).
  // Occurred time: what the source said was true then, applied in log order.
  const included =
    until === undefined
      ? events
      : basis === 'stored'
        ? events.filter((e) => e.time.getTime() <= until)
        : events.filter((e) => Date.parse(e.event.occurredAt) <= until);
  return foldEntity(included.map((e) => ({ event: e.event, seq: e.seq })));
}
