import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { DriftItem, InitOptions, InitReport } from '../types.ts';
import { clients } from './connection.ts';
import type { LogContext } from './context.ts';
import {
  isJetStreamApiError,
  isStreamNotFound,
  MoreJetStreamApiCodes,
  wrapRequestError,
} from './natsErrors.ts';
import { request } from './request.ts';

/** The stream presslog creates: no limits, file storage, history the server refuses to rewrite. */
export function desiredConfig(ctx: LogContext): Partial<StreamConfig> & { name: string } {
  return {
    name: ctx.stream,
    subjects: [ctx.names.allSubjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_msgs_per_subject: -1,
    max_msg_size: -1,
    max_consumers: -1,
    discard: DiscardPolicy.Old,
    num_replicas: ctx.options.replicas ?? 1,
    duplicate_window: nanos(ctx.duplicateWindowMs),
    allow_direct: true,
    deny_delete: true,
    deny_purge: true,
    allow_rollup_hdrs: false,
    sealed: false,
  };
}

/** The settings presslog depends on, compared field by field; anything else is the operator's business. */
export function driftOf(ctx: LogContext, actual: StreamConfig): DriftItem[] {
  const want = desiredConfig(ctx);
  const drift: DriftItem[] = [];
  const check = (field: string, expected: unknown, value: unknown) => {
    if (JSON.stringify(expected) !== JSON.stringify(value)) drift.push({ field, expected, actual: value });
  };
  check('subjects', want.subjects, actual.subjects);
  check('retention', want.retention, actual.retention);
  check('storage', want.storage, actual.storage);
  for (const field of ['max_msgs', 'max_bytes', 'max_msgs_per_subject', 'max_msg_size'] as const) {
    // Absent or 0 would also mean "unlimited" on some fields, but the server always reports -1.
    check(field, -1, actual[field] ?? -1);
  }
  check('max_age', 0, actual.max_age ?? 0);
  check('duplicate_window', want.duplicate_window, actual.duplicate_window);
  check('deny_delete', true, actual.deny_delete ?? false);
  check('deny_purge', true, actual.deny_purge ?? false);
  check('allow_rollup_hdrs', false, actual.allow_rollup_hdrs ?? false);
  check('allow_direct', true, actual.allow_direct ?? false);
  check('sealed', false, actual.sealed ?? false);
  // Per-message TTLs (server 2.11+) would let events expire: history must not.
  const ttl = (actual as { allow_msg_ttl?: boolean }).allow_msg_ttl;
  if (ttl) check('allow_msg_ttl', false, ttl);
  if (actual.mirror) check('mirror', undefined, actual.mirror);
  const { replicas } = ctx.options;
  if (replicas !== undefined) check('num_replicas', replicas, actual.num_replicas);
  return drift;
}

/**
 * Create the stream, or verify an existing one and report drift. Nothing is changed but,
 * with `applyReplicas`, the replica count: scaling a stream is what JetStream supports in
 * place, while every other setting presslog checks protects the history.
 */
export async function init(ctx: LogContext, options: InitOptions = {}): Promise<InitReport> {
  const { stream, log } = ctx;
  const { jsm, nc } = await clients(ctx);
  // A missing stream is an answer (undefined), not a failure to retry.
  let info: StreamInfo | undefined = await request(ctx, nc, `stream info ${stream}`, () =>
    jsm.streams.info(stream).catch((err: unknown) => {
      if (isStreamNotFound(err)) return undefined;
      throw err;
    }),
  );
  if (!info) {
    try {
      await jsm.streams.add(desiredConfig(ctx));
      log?.debug({ subjects: ctx.names.allSubjects }, 'created content stream');
      return { stream, created: true, drift: [] };
    } catch (err) {
      // Another process created it between our info and add: verify theirs instead.
      if (!isJetStreamApiError(err, MoreJetStreamApiCodes.StreamNameInUse)) {
        throw wrapRequestError(stream, `create stream ${stream}`, err);
      }
      info = await request(ctx, nc, `stream info ${stream}`, () => jsm.streams.info(stream));
    }
  }
  let drift = driftOf(ctx, info.config);
  const replicas = drift.find((d) => d.field === 'num_replicas');
  if (replicas && options.applyReplicas) {
    await jsm.streams.update(stream, { num_replicas: replicas.expected as number });
    log?.info({ from: replicas.actual, to: replicas.expected }, 'scaled the content stream');
    drift = drift.filter((d) => d !== replicas);
    if (drift.length > 0) log?.warn({ drift }, 'content stream configuration drifted; not changing it');
    return { stream, created: false, drift, changed: [replicas] };
  }
  if (drift.length > 0) log?.warn({ drift }, 'content stream configuration drifted; not changing it');
  return { stream, created: false, drift };
}
