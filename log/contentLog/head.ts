import type { StreamInfo } from '@nats-io/jetstream';
import type { LogHead } from '../types.ts';
import { clients } from './connection.ts';
import type { LogContext } from './context.ts';
import { request } from './request.ts';

function parseServerTime(value: string | undefined): Date | undefined {
  if (!value || value.startsWith('0001-')) return undefined;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** Where the log stands, from the stream info; also learns whether direct gets work (`ctx.directGet`). */
export async function head(ctx: LogContext): Promise<LogHead> {
  const { stream } = ctx;
  const { jsm, nc } = await clients(ctx);
  const info: StreamInfo = await request(ctx, nc, `stream info ${stream}`, () => jsm.streams.info(stream));
  const { state } = info;
  ctx.directGet = info.config.allow_direct === true;
  return {
    lastSeq: state.last_seq,
    lastTime: state.messages > 0 ? parseServerTime(state.last_ts) : undefined,
    firstSeq: state.first_seq,
    firstTime: state.messages > 0 ? parseServerTime(state.first_ts) : undefined,
    messages: state.messages,
    bytes: state.bytes,
    ...(state.num_subjects !== undefined ? { subjects: state.num_subjects } : {}),
    ...(info.created ? { created: new Date(info.created) } : {}),
  };
}
