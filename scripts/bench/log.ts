import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { decodeMessage, encodeEvent } from '../../log/codec.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { newKey } from '../../log/crypto/sealing.ts';
import { openKeyRing } from '../../log/keyRing.ts';
import { sampleArticle, sampleEvent } from '../../log/sampleEvents.ts';
import type { ContentLog } from '../../log/types.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { createNames, type Names } from '../../schemas/names.ts';
import { benchDigest, benchRenditions } from './benchRenditions.ts';
import { type Measurement, measurement, secondsSince } from './measurement.ts';
import { rawPublish, type WireMessage } from './rawPublish.ts';
import { SERVER_WINDOW, type ServerPublishResult, serverPublish } from './serverCeiling.ts';

export interface LogBenchOptions {
  nc: NatsConnection;
  events: number;
  /** Events per `append` call (default 5,000). */
  batch?: number;
  /** Publishes in flight, for ours and the raw ceiling alike (default 512). */
  window?: number;
  /** Acks outstanding for the server ceiling (core publishes, default 1,000). */
  serverWindow?: number;
  /** Raw and ours alternate in this many rounds, so background load hits both alike (default 8). */
  rounds?: number;
  log?: Logger;
  signal?: AbortSignal;
}

/** ~1.5 KB articles, with every tenth event an ImageProcessed of similar size: what a busy archive appends. */
function benchEvents(count: number): ContentEvent[] {
  const events: ContentEvent[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 10 === 9) {
      events.push(
        sampleEvent('ImageProcessed', `img-${i}`, {
          original: benchDigest(i),
          width: 4000,
          height: 3000,
          format: 'jpeg',
          orientation: 1,
          space: 'srgb',
          hasAlpha: false,
          dominantColor: '#336699',
          placeholder: `data:image/webp;base64,${'A'.repeat(520)}`,
          renditions: benchRenditions(i * 4 + 1),
        }),
      );
    } else {
      events.push(sampleArticle(`a-${i}`, { seed: i + 1 }));
    }
  }
  return events;
}

/** The ceiling of reading: an ordered consumer and JSON.parse, nothing else. */
async function rawRead(
  js: JetStreamClient,
  stream: string,
  expected: number,
  batch: number,
): Promise<number> {
  const consumer = await js.consumers.get(stream, { filter_subjects: '>' });
  const messages = await consumer.consume({ max_messages: batch });
  let count = 0;
  try {
    for await (const m of messages) {
      const value = JSON.parse(m.string()) as { id?: string };
      // Touch the result so the parse cannot be optimised away.
      if (!value.id) throw new Error(`message ${m.seq} has no id`);
      if (++count >= expected) break;
    }
  } finally {
    await messages.close();
    await consumer.delete().catch(() => {});
  }
  return count;
}

async function ourReplay(log: ContentLog, signal?: AbortSignal): Promise<number> {
  let count = 0;
  for await (const item of log.replay({ signal })) {
    if (item.kind === 'event') count++;
  }
  return count;
}

/** One run of the log benchmark: its settings, clients, scratch logs and the events both sides write. */
interface LogBenchRun {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  tag: string;
  total: number;
  batch: number;
  window: number;
  rounds: number;
  ours: ContentLog;
  oursNames: Names;
  events: ContentEvent[];
  wire: WireMessage[];
  /** The same bytes and ids for the server ceiling, on a third, fresh stream's subjects. */
  serverWire: WireMessage[];
  serverWindow: number;
  log?: Logger;
  signal?: AbortSignal;
}

/** Warm both paths up (JIT, connection buffers) on a few events outside the timed ranges. */
async function warmUp(run: LogBenchRun): Promise<void> {
  const { nc, js, jsm, tag, total, window, signal } = run;
  const warm = createContentLog({ nc, names: createNames(`bench-${tag}-warm`) });
  try {
    await warm.init();
    const sample = benchEvents(Math.min(2_000, total));
    await warm.append(sample.map((event) => ({ event })));
    await rawPublish(
      js,
      sample.map((e) => ({
        subject: `bench-${tag}-warm.content.${e.entityType}.w${e.entityId}`,
        bytes: encodeEvent(e),
        id: `w${e.id}`,
      })),
      window,
    );
    await serverPublish(
      nc,
      sample.map((e) => ({
        subject: `bench-${tag}-warm.content.${e.entityType}.s${e.entityId}`,
        bytes: encodeEvent(e),
        id: `s${e.id}`,
      })),
      run.serverWindow,
    );
    await ourReplay(warm, signal);
  } finally {
    await warm.close();
    await jsm.streams.delete(createNames(`bench-${tag}-warm`).stream).catch(() => {});
  }
}

/** Append events [start, end) through `append` in batches; throws unless every one is appended. */
async function appendOurs(run: LogBenchRun, start: number, end: number): Promise<void> {
  const { ours, events, batch, signal } = run;
  for (let b = start; b < end; b += batch) {
    const stats = await ours.append(
      events.slice(b, Math.min(end, b + batch)).map((event) => ({ event })),
      { signal },
    );
    if (stats.appended !== Math.min(end, b + batch) - b) {
      const bad = stats.outcomes.find((o) => o.status !== 'appended');
      throw new Error(`bench append: ${stats.appended} appended; first problem: ${JSON.stringify(bad)}`);
    }
  }
}

/** Seconds each side took to append all events, and what the server acknowledged of its ceiling. */
export interface AppendTimes {
  ours: number;
  raw: number;
  server: number;
  serverAcks: ServerPublishResult;
}

/** All events appended by all three sides in `rounds` slices; seconds each side took in all. */
async function timeAppends(run: LogBenchRun): Promise<AppendTimes> {
  const { js, wire, window, total, signal } = run;
  const time: AppendTimes = { ours: 0, raw: 0, server: 0, serverAcks: { acked: 0, failed: 0 } };
  const perRound = Math.ceil(total / run.rounds);
  const appendRaw = async (start: number, end: number) => {
    const t = performance.now();
    await rawPublish(js, wire.slice(start, end), window);
    time.raw += secondsSince(t);
  };
  const appendOursTimed = async (start: number, end: number) => {
    const t = performance.now();
    await appendOurs(run, start, end);
    time.ours += secondsSince(t);
  };
  const appendServer = async (start: number, end: number) => {
    const t = performance.now();
    const acks = await serverPublish(run.nc, run.serverWire.slice(start, end), run.serverWindow);
    time.server += secondsSince(t);
    time.serverAcks.acked += acks.acked;
    time.serverAcks.failed += acks.failed;
    time.serverAcks.firstError ??= acks.firstError;
  };
  const sides = [appendRaw, appendOursTimed, appendServer];
  for (let start = 0, round = 0; start < total; start += perRound, round++) {
    signal?.throwIfAborted();
    const end = Math.min(total, start + perRound);
    // Who goes first rotates: the server may still be flushing the previous run's writes.
    for (let k = 0; k < sides.length; k++) await sides[(round + k) % sides.length]!(start, end);
    run.log?.info({ appended: end }, 'appending');
  }
  if (time.serverAcks.failed > 0) {
    run.log?.warn({ ...time.serverAcks }, 'server ceiling: some publishes were not acknowledged');
  }
  return time;
}

/** Two passes of reading the whole stream (ours) each way, alternating who goes first. */
async function timeReads(run: LogBenchRun): Promise<{ ours: number; raw: number }> {
  const { js, ours, oursNames, total, signal } = run;
  const time = { ours: 0, raw: 0 };
  for (let r = 0; r < 2; r++) {
    signal?.throwIfAborted();
    let rawCount = 0;
    let oursCount = 0;
    const readRaw = async () => {
      const t = performance.now();
      rawCount = await rawRead(js, oursNames.stream, total, 512);
      time.raw += secondsSince(t);
    };
    const readOurs = async () => {
      const t = performance.now();
      oursCount = await ourReplay(ours, signal);
      time.ours += secondsSince(t);
    };
    if (r % 2 === 0) {
      await readRaw();
      await readOurs();
    } else {
      await readOurs();
      await readRaw();
    }
    if (rawCount !== total || oursCount !== total) {
      throw new Error(`bench replay: read ${oursCount} (raw ${rawCount}) of ${total} events`);
    }
    run.log?.info({ round: r + 1 }, 'replaying');
  }
  return time;
}

/**
 * Sealing's cost: the run's events appended to a plaintext log and to a sealed one (a
 * fresh namespace each, a random master key) in `rounds` slices, who goes first
 * alternating, then each replayed twice by a fresh reader (a fresh key ring for the sealed
 * one, as another process would: its preload is part of its replay), alternating again.
 * Both sides see the same background load, which on a shared machine moves single
 * figures by 2-3x between runs.
 */
async function timeSealed(
  run: LogBenchRun,
): Promise<{ append: number; replay: number; plainAppend: number; plainReplay: number }> {
  const plainNames = createNames(`bench-${run.tag}-plain`);
  const names = createNames(`bench-${run.tag}-sealed`);
  const masterKey = newKey();
  const keys = await openKeyRing({ nc: run.nc, names, masterKey });
  const sealed = createContentLog({ nc: run.nc, names, publishWindow: run.window, keys });
  const plain = createContentLog({ nc: run.nc, names: plainNames, publishWindow: run.window });
  const time = { append: 0, replay: 0, plainAppend: 0, plainReplay: 0 };
  try {
    await sealed.init();
    await plain.init();
    run.log?.info({ events: run.total }, 'appending sealed and plaintext, alternating');
    const appendTo = async (log: ContentLog, start: number, end: number) => {
      const t = performance.now();
      for (let i = start; i < end; i += run.batch) {
        const slice = run.events.slice(i, Math.min(end, i + run.batch));
        // As ingest appends a new item's first event: expecting no earlier one (a sealed log
        // then writes the new items' keys in packs, one write per batch).
        const stats = await log.append(slice.map((event) => ({ event, expectedLastSeq: 0 })));
        if (stats.appended !== slice.length) throw new Error('bench log: sealing comparison: append failed');
      }
      return secondsSince(t);
    };
    const perRound = Math.ceil(run.total / run.rounds);
    for (let start = 0, round = 0; start < run.total; start += perRound, round++) {
      run.signal?.throwIfAborted();
      const end = Math.min(run.total, start + perRound);
      const sides = [
        async () => {
          time.append += await appendTo(sealed, start, end);
        },
        async () => {
          time.plainAppend += await appendTo(plain, start, end);
        },
      ];
      for (let k = 0; k < 2; k++) await sides[(round + k) % 2]!();
    }
    const replayFresh = async (which: 'sealed' | 'plain') => {
      const readerKeys = which === 'sealed' ? await openKeyRing({ nc: run.nc, names, masterKey }) : undefined;
      const reader = createContentLog({
        nc: run.nc,
        names: which === 'sealed' ? names : plainNames,
        ...(readerKeys ? { keys: readerKeys } : {}),
      });
      try {
        const t = performance.now();
        const count = await ourReplay(reader, run.signal);
        if (count !== run.total) throw new Error(`bench log: ${which} replay read ${count} of ${run.total}`);
        return secondsSince(t);
      } finally {
        await reader.close();
        readerKeys?.close();
      }
    };
    for (let r = 0; r < 2; r++) {
      const order = r % 2 === 0 ? (['sealed', 'plain'] as const) : (['plain', 'sealed'] as const);
      for (const which of order) {
        const seconds = await replayFresh(which);
        if (which === 'sealed') time.replay += seconds;
        else time.plainReplay += seconds;
      }
    }
    return time;
  } finally {
    await sealed.close();
    await plain.close();
    keys.close();
    for (const stream of [names.stream, plainNames.stream, `KV_${names.bucket('keys')}`])
      await run.jsm.streams.delete(stream).catch(() => {});
  }
}

/** In-process decode cost: JSON.parse alone vs. parse + schema check + upcast + subject check. */
function timeDecode(run: LogBenchRun): { sampleSize: number; parse: number; decode: number } {
  const { events, wire, oursNames } = run;
  const sampleSize = Math.min(run.total, 20_000);
  const meta = { seq: 1, time: new Date(), subject: '' };
  let t = performance.now();
  for (let i = 0; i < sampleSize; i++) JSON.parse(new TextDecoder().decode(wire[i]!.bytes));
  const parse = secondsSince(t);
  t = performance.now();
  for (let i = 0; i < sampleSize; i++) {
    const e = events[i]!;
    meta.subject = oursNames.subject(e.entityType, e.entityId);
    decodeMessage(oursNames, wire[i]!.bytes, meta);
  }
  return { sampleSize, parse, decode: secondsSince(t) };
}

/** The table's rows: append, replay (two passes each) and in-process decode, each next to its ceiling. */
function logMeasurements(
  run: LogBenchRun,
  averageBytes: number,
  append: AppendTimes,
  read: { ours: number; raw: number },
  decode: { sampleSize: number; parse: number; decode: number },
): Measurement[] {
  const { total, batch, window } = run;
  const setup = `${total.toLocaleString('en-US')} events of ${Math.round(averageBytes)} B avg`;
  const { acked, failed, firstError } = append.serverAcks;
  return [
    measurement(
      'append',
      'events/s',
      total / append.ours,
      total / append.raw,
      `${setup}; batches of ${batch}, ${window} in flight; ceiling: raw js.publish with Nats-Msg-Id, same window`,
    ),
    measurement(
      'append.server',
      'events/s',
      total / append.ours,
      acked / append.server,
      `${setup}; ceiling (server): core publish of the same bytes with Nats-Msg-Id, ${run.serverWindow.toLocaleString('en-US')} acks in flight on one wildcard inbox, counting PubAcks only: ${acked.toLocaleString('en-US')} acked, ${failed} FAILED${firstError ? ` (first: ${firstError})` : ''}`,
    ),
    measurement(
      'replay',
      'events/s',
      (2 * total) / read.ours,
      (2 * total) / read.raw,
      'validated + upcast ReplayItems; ceiling: raw ordered consumer + JSON.parse (2 passes each)',
    ),
    measurement(
      'decode',
      'events/s',
      decode.sampleSize / decode.decode,
      decode.sampleSize / decode.parse,
      'in-process, no I/O: parse + TypeBox check + upcast vs. JSON.parse alone',
    ),
  ];
}

/**
 * `presslog bench log`: append N events through `append` and replay them through
 * `replay`, each next to its ceiling measured in the same run with the same client and
 * the same bytes: raw pipelined `js.publish` (with the same `Nats-Msg-Id`) to a second
 * scratch stream, and a raw ordered-consumer read with JSON.parse. Both streams live in
 * scratch namespaces and are deleted at the end (`deny_delete` forbids deleting
 * messages, not the stream).
 */
export async function runLogBench(options: LogBenchOptions): Promise<Measurement[]> {
  const { nc, events: total, signal } = options;
  const batch = options.batch ?? 5_000;
  const window = options.window ?? 512;
  const serverWindow = options.serverWindow ?? SERVER_WINDOW;
  const rounds = Math.max(1, Math.min(options.rounds ?? 8, total));
  const tag = randomBytes(4).toString('hex');
  const oursNames: Names = createNames(`bench-${tag}`);
  const rawNames: Names = createNames(`bench-${tag}-raw`);
  const serverNames: Names = createNames(`bench-${tag}-srv`);
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const js = jetstream(nc);
  const ours = createContentLog({ nc, names: oursNames, publishWindow: window });
  const raw = createContentLog({ nc, names: rawNames });
  const server = createContentLog({ nc, names: serverNames });
  try {
    await ours.init();
    await raw.init();
    await server.init();

    options.log?.info({ events: total }, 'generating events');
    const events = benchEvents(total);
    const wire = events.map((event) => ({
      subject: rawNames.subject(event.entityType, event.entityId),
      bytes: encodeEvent(event),
      id: event.id,
    }));
    // A fresh stream (and so a fresh dedup window) for the server ceiling: same bytes and ids.
    const serverWire = events.map((event, i) => ({
      ...wire[i]!,
      subject: serverNames.subject(event.entityType, event.entityId),
    }));
    const averageBytes = wire.reduce((sum, m) => sum + m.bytes.byteLength, 0) / total;
    const run: LogBenchRun = {
      nc,
      js,
      jsm,
      tag,
      total,
      batch,
      window,
      rounds,
      ours,
      oursNames,
      events,
      wire,
      serverWire,
      serverWindow,
      log: options.log,
      signal,
    };
    await warmUp(run);
    const append = await timeAppends(run);
    // Reads alternate too; both read the same stream (ours).
    const read = await timeReads(run);
    const decode = timeDecode(run);
    const sealed = await timeSealed(run);

    return [
      ...logMeasurements(run, averageBytes, append, read, decode),
      measurement(
        'append.sealed',
        'events/s',
        total / sealed.append,
        total / sealed.plainAppend,
        `the same events through a sealed log (AES-256-GCM per item; every event is a new item, appended as ingest appends one, expecting no earlier event: its key goes into its batch's key pack in <NS>_KEYS) vs. a plaintext log, ${run.rounds} alternating rounds`,
      ),
      measurement(
        'replay.sealed',
        'events/s',
        (2 * total) / sealed.replay,
        (2 * total) / sealed.plainReplay,
        'the sealed stream replayed by a fresh reader (the key packs preloaded from KV alongside, unwrapped, payloads opened) vs. the plaintext one by a fresh reader, 2 passes each, alternating',
      ),
    ];
  } finally {
    await ours.close();
    await raw.close();
    await server.close();
    for (const stream of [oursNames.stream, rawNames.stream, serverNames.stream]) {
      const deleted = await jsm.streams.delete(stream).catch((err: Error) => err);
      if (deleted !== true) options.log?.warn({ stream, err: deleted }, 'could not delete scratch stream');
    }
  }
}
