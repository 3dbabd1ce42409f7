import {
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ErasedItemError, PresslogError } from '../schemas/errors.ts';
import type { Names } from '../schemas/names.ts';
import { mapLimit } from './async.ts';
import { STORED_AT_HEADER } from './codec.ts';
import { isStreamNotFound } from './contentLog/natsErrors.ts';
import { createContentLog } from './contentLog.ts';
import { type DataKey, keyedEventId, newKey, sealPayload } from './crypto/sealing.ts';
import type { KeyRing } from './keyRing.ts';
import {
  compareDigests,
  isPlainContent,
  parse,
  rawView,
  readAll,
  sealedView,
  sourceView,
  storedAt,
  viewDigests,
} from './migrateViews.ts';
import { openKv } from './stores.ts';

/**
 * `presslog log migrate`: rewrite a content stream written before encryption (plaintext
 * payloads, content-derived event ids) into a sealed one, so that an erasure can reach
 * every event of it. JetStream cannot rewrite messages in place, refuses to lift
 * `deny_delete`/`deny_purge`, and cannot rename a stream, so the migration copies:
 *
 * 1. `copying`: every message of `<NS>_CONTENT` into `<NS>_CONTENT_NEXT` (subjects
 *    prefixed `_migrate.`), in order, plaintext payloads sealed under their item's data
 *    key and their ids keyed (what a sealed append of the same decision stores), sealed
 *    messages and erasure records copied byte for byte. Each copy carries its original
 *    storage time (`Presslog-Stored-At`) and source sequence. When caught up, the source
 *    stream is sealed (read-only: a writer still running fails instead of being lost),
 *    the tail copied, and both streams are compared: same count, and per entity the same
 *    digest over what a reader sees (times, envelopes with keyed ids, opened payloads).
 * 2. `verified`: the source stream is deleted and created again empty (`presslog init`'s
 *    configuration).
 * 3. `recreated`: NEXT is copied back byte for byte (same sequences, the stored time
 *    header kept), and compared again, raw bytes and times per entity.
 * 4. `copied-back`: NEXT is deleted, the state forgotten.
 *
 * The step reached is kept in the checkpoints bucket (`log-migrate`): a run stopped
 * anywhere (a crash, `until`) continues where it was when run again. An item already
 * erased, or an article's history erased, while its events were plaintext gets those
 * events sealed under a key that is never stored: they read as erased.
 */
export interface MigrateOptions {
  nc: NatsConnection;
  names: Names;
  keys: KeyRing;
  /** Replicas of the recreated and temporary streams (default 1). */
  replicas?: number;
  /** Stop once this step is reached (a rerun continues): for operators who want to look first. */
  until?: MigrateStep;
  logger?: Logger;
  signal?: AbortSignal;
}

/** The steps of a migration, in order: the state a run leaves behind when it stops. */
export const MIGRATE_STEPS = ['copying', 'verified', 'recreated', 'copied-back', 'done'] as const;
export type MigrateStep = (typeof MIGRATE_STEPS)[number];

/** What a migration did. */
export interface MigrateReport {
  status: 'migrated' | 'nothing-to-do' | 'stopped';
  /** The step the run started at (`copying` for a fresh run) and the one it ended at. */
  resumedAt: MigrateStep;
  step: MigrateStep;
  /** Messages in the migrated stream. */
  messages: number;
  /** Plaintext messages sealed by this run (copying step only). */
  sealed: number;
  /** Of those, messages of erased items (or erased history) sealed under a key that is never stored. */
  sealedAway: number;
  /** Entities (subjects) compared by digest. */
  entities: number;
}

/** The copy of the stream and the source do not match: nothing was deleted. */
export class MigrationMismatchError extends PresslogError {
  override name = 'MigrationMismatchError';
}

interface State {
  step: MigrateStep;
  messages?: number;
  startedAt: string;
}

const STATE_KEY = 'log-migrate';
const SOURCE_SEQ_HEADER = 'Presslog-Source-Seq';
const PREFIX = '_migrate.';
const BATCH = 500;

/** The temporary stream's name. */
export function nextStreamName(names: Names): string {
  return `${names.stream}_NEXT`;
}

/** Migrate the namespace's content stream to sealed payloads (see {@link MigrateOptions}). */
export async function migrateLog(options: MigrateOptions): Promise<MigrateReport> {
  const { nc, names, keys, logger: log, signal } = options;
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const kv = await openKv(nc, names, 'checkpoints', options.replicas ?? 1);
  const source = names.stream;
  const next = nextStreamName(names);
  const stored = await kv.get(STATE_KEY);
  let state: State | undefined = stored?.operation === 'PUT' ? stored.json<State>() : undefined;
  const report: MigrateReport = {
    status: 'migrated',
    resumedAt: state?.step ?? 'copying',
    step: state?.step ?? 'copying',
    messages: state?.messages ?? 0,
    sealed: 0,
    sealedAway: 0,
    entities: 0,
  };
  const save = async (step: MigrateStep, extra: Partial<State> = {}) => {
    state = { ...(state ?? { startedAt: new Date().toISOString() }), ...extra, step };
    await kv.put(STATE_KEY, JSON.stringify(state));
    report.step = step;
    log?.info({ step, messages: state.messages }, `log migrate: ${step}`);
  };
  const stopHere = (step: MigrateStep) => {
    if (options.until !== step) return false;
    report.status = 'stopped';
    return true;
  };

  if (!state) {
    const scan = await prescan(js, jsm, source, names, signal);
    if (scan.plaintext === 0) {
      report.status = 'nothing-to-do';
      report.step = 'done';
      report.messages = scan.messages;
      return report;
    }
    await save('copying');
  }
  await keys.preload();

  if (state!.step === 'copying') {
    const { historyErased } = await prescan(js, jsm, source, names, signal);
    await ensureNextStream(jsm, names, options.replicas ?? 1);
    const copyOnce = async () => {
      const from = await resumeSeq(jsm, next, source);
      const counts = await copyToNext(js, jsm, { source, keys, names, historyErased, from, signal });
      report.sealed += counts.sealed;
      report.sealedAway += counts.sealedAway;
    };
    await copyOnce();
    const info = await jsm.streams.info(source);
    // Sealed: read-only from now on (the stream is deleted after the copy is verified).
    if (!info.config.sealed)
      await jsm.streams.update(source, { ...info.config, sealed: true } as Parameters<
        JetStreamManager['streams']['update']
      >[1]);
    // Whatever a writer appended before the seal took effect.
    await copyOnce();
    const mine = await viewDigests(js, source, '', (m) => sourceView(m, keys, names, historyErased), signal);
    const theirs = await viewDigests(js, next, PREFIX, (m) => sealedView(m, keys), signal);
    const problems = compareDigests(mine, theirs);
    if (problems.length > 0) {
      // Start the copy again on the next run: the source is intact (only sealed).
      await jsm.streams.delete(next).catch(() => {});
      throw new MigrationMismatchError(
        `the sealed copy differs from ${source} (${problems.slice(0, 5).join('; ')}); nothing was deleted, run again to copy afresh`,
      );
    }
    report.entities = mine.subjects.size;
    report.messages = mine.count;
    await save('verified', { messages: mine.count });
    if (stopHere('verified')) return report;
  }

  if (state!.step === 'verified') {
    await jsm.streams.delete(source).catch((err: unknown) => {
      if (!isStreamNotFound(err)) throw err;
    });
    const fresh = createContentLog({ nc, names, replicas: options.replicas });
    await fresh.init();
    await fresh.close();
    await save('recreated');
    if (stopHere('recreated')) return report;
  }

  if (state!.step === 'recreated') {
    await copyBack(js, jsm, { source, next, signal });
    const copied = await viewDigests(js, next, PREFIX, rawView, signal);
    const back = await viewDigests(js, source, '', rawView, signal);
    const problems = compareDigests(copied, back);
    if (copied.count !== state!.messages)
      problems.push(`${copied.count} messages in ${next}, ${state!.messages} migrated`);
    if (problems.length > 0) {
      throw new MigrationMismatchError(
        `${source} differs from ${next} after copying back (${problems.slice(0, 5).join('; ')}); ${next} is kept: delete ${source} and run again`,
      );
    }
    report.entities = back.subjects.size;
    report.messages = back.count;
    await save('copied-back');
    if (stopHere('copied-back')) return report;
  }

  await jsm.streams.delete(next).catch((err: unknown) => {
    if (!isStreamNotFound(err)) throw err;
  });
  await kv.delete(STATE_KEY);
  report.step = 'done';
  return report;
}

/** Messages, plaintext content messages, and the subjects whose history was erased. */
async function prescan(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  names: Names,
  signal: AbortSignal | undefined,
): Promise<{ messages: number; plaintext: number; historyErased: Set<string> }> {
  let info: Awaited<ReturnType<JetStreamManager['streams']['info']>>;
  try {
    info = await jsm.streams.info(stream);
  } catch (err) {
    if (isStreamNotFound(err)) throw new PresslogError(`no content stream ${stream}: run presslog init`);
    throw err;
  }
  const result = { messages: 0, plaintext: 0, historyErased: new Set<string>() };
  if (info.state.messages === 0) return result;
  for await (const m of readAll(js, stream, 1, signal)) {
    result.messages++;
    const value = parse(m.data);
    if (!value) continue;
    if (value.type === 'ArticleHistoryErased') result.historyErased.add(m.subject);
    if (isPlainContent(value, names, m.subject)) result.plaintext++;
  }
  return result;
}

async function ensureNextStream(jsm: JetStreamManager, names: Names, replicas: number): Promise<void> {
  const name = nextStreamName(names);
  try {
    await jsm.streams.info(name);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    await jsm.streams.add({
      name,
      subjects: [`${PREFIX}${names.allSubjects}`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      max_msgs: -1,
      max_bytes: -1,
      max_age: 0,
    });
  }
}

/** The source sequence to copy next: after the one NEXT's last message came from. */
async function resumeSeq(jsm: JetStreamManager, next: string, source: string): Promise<number> {
  const info = await jsm.streams.info(next);
  if (info.state.messages === 0) return (await jsm.streams.info(source)).state.first_seq;
  const last = await jsm.streams.getMessage(next, { seq: info.state.last_seq });
  const from = Number(last?.header?.get(SOURCE_SEQ_HEADER));
  if (!Number.isInteger(from))
    throw new PresslogError(`${next}: its last message has no ${SOURCE_SEQ_HEADER}`);
  return from + 1;
}

async function copyToNext(
  js: JetStreamClient,
  jsm: JetStreamManager,
  params: {
    source: string;
    keys: KeyRing;
    names: Names;
    historyErased: Set<string>;
    from: number;
    signal: AbortSignal | undefined;
  },
): Promise<{ sealed: number; sealedAway: number }> {
  const { source, keys, names, historyErased, from, signal } = params;
  const counts = { sealed: 0, sealedAway: 0 };
  if (from > (await jsm.streams.info(source)).state.last_seq) return counts;
  let batch: JsMsg[] = [];
  const flush = async () => {
    const parsed = batch.map((m) => ({ m, value: parse(m.data) }));
    // The data keys of the batch's items, fetched (or created) in parallel first.
    const items = new Map<string, { entityType: 'article' | 'image' | 'byline'; entityId: string }>();
    for (const { m, value } of parsed) {
      if (value && isPlainContent(value, names, m.subject) && !historyErased.has(m.subject))
        items.set(m.subject, {
          entityType: value.entityType as 'article',
          entityId: value.entityId as string,
        });
    }
    const found = new Map<string, DataKey | 'erased'>();
    await mapLimit([...items], 256, async ([subject, { entityType, entityId }]) => {
      try {
        found.set(subject, await keys.forAppend(entityType, entityId));
      } catch (err) {
        if (!(err instanceof ErasedItemError)) throw err;
        found.set(subject, 'erased');
      }
    });
    const acks = parsed.map(({ m, value }) => {
      let bytes: Uint8Array = m.data;
      if (value && isPlainContent(value, names, m.subject)) {
        let key = historyErased.has(m.subject)
          ? ({ gen: 0, key: newKey() } as DataKey)
          : found.get(m.subject)!;
        if (key === 'erased') key = { gen: 1, key: newKey() };
        // A key that is never stored: the event reads as erased, as it would had it been sealed.
        if (historyErased.has(m.subject) || found.get(m.subject) === 'erased') counts.sealedAway++;
        const binding = {
          type: value.type as string,
          entityType: value.entityType as string,
          entityId: value.entityId as string,
        };
        bytes = Buffer.from(
          JSON.stringify({
            ...value,
            id: keyedEventId(keys.idKey, value.id as string),
            payload: sealPayload(binding, value.payload, key),
          }),
        );
        counts.sealed++;
      }
      const h = natsHeaders();
      h.set(STORED_AT_HEADER, storedAt(m));
      h.set(SOURCE_SEQ_HEADER, String(m.seq));
      return js.publish(`${PREFIX}${m.subject}`, bytes, { headers: h, msgID: `migrate-${m.seq}` });
    });
    await Promise.all(acks);
    batch = [];
  };
  for await (const m of readAll(js, source, from, signal)) {
    batch.push(m);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  return counts;
}

async function copyBack(
  js: JetStreamClient,
  jsm: JetStreamManager,
  params: { source: string; next: string; signal: AbortSignal | undefined },
): Promise<void> {
  const { source, next, signal } = params;
  const copied = (await jsm.streams.info(source)).state;
  const from = copied.messages === 0 ? 1 : copied.last_seq + 1;
  let pending: Promise<unknown>[] = [];
  for await (const m of readAll(js, next, from, signal)) {
    const h = natsHeaders();
    h.set(STORED_AT_HEADER, m.headers?.get(STORED_AT_HEADER) || storedAt(m));
    pending.push(
      js.publish(m.subject.slice(PREFIX.length), m.data, { headers: h, msgID: `migrate-${m.seq}` }),
    );
    if (pending.length >= BATCH) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
}
