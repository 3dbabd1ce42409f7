import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { decodeMessage, encodeEvent } from '../../log/codec.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { sampleArticle, sampleEvent } from '../../log/sampleEvents.ts';
import type { ContentLog } from '../../log/types.ts';
import type { ContentEvent } from '../../schemas/catalog.ts';
import { createNames, type Names } from '../../schemas/names.ts';
import { type Measurement, measurement } from './measurement.ts';

export interface LogBenchOptions {
  nc: NatsConnection;
  events: number;
  /** Events per `append` call (default 5,000). */
  batch?: number;
  /** Publishes in flight, for ours and the raw ceiling alike (default 512). */
  window?: number;
  /** Raw and ours alternate in this many rounds, so background load hits both alike (default 8). */
  rounds?: number;
  log?: Logger;
  signal?: AbortSignal;
}

/** ~1.5 KB articles, with every tenth event an ImageProcessed of similar size: what a busy archive appends. */
function benchEvents(count: number): ContentEvent[] {
  const events: ContentEvent[] = [];
  const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
  for (let i = 0; i < count; i++) {
    if (i % 10 === 9) {
      events.push(
        sampleEvent('ImageProcessed', `img-${i}`, {
          original: digest(i),
          width: 4000,
          height: 3000,
          format: 'jpeg',
          orientation: 1,
          space: 'srgb',
          hasAlpha: false,
          dominantColor: '#336699',
          placeholder: `data:image/webp;base64,${'A'.repeat(520)}`,
          renditions: ['thumbnail', 'medium', 'webp'].map((name, k) => ({
            name,
            digest: digest(i * 4 + k + 1),
            bytes: 10_000 * (k + 1),
            mediaType: name === 'webp' ? 'image/webp' : 'image/jpeg',
            width: 320 * (k + 1),
            height: 240 * (k + 1),
          })),
        }),
      );
    } else {
      events.push(sampleArticle(`a-${i}`, { seed: i + 1 }));
    }
  }
  return events;
}

async function rawPublish(
  js: JetStreamClient,
  messages: readonly { subject: string; bytes: Uint8Array; id: string }[],
  window: number,
): Promise<void> {
  const inflight: Promise<unknown>[] = [];
  let head = 0;
  for (const m of messages) {
    if (inflight.length - head >= window) await inflight[head++];
    inflight.push(js.publish(m.subject, m.bytes, { msgID: m.id }));
  }
  for (let i = head; i < inflight.length; i++) await inflight[i];
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

function seconds(start: number): number {
  return (performance.now() - start) / 1000;
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
  const rounds = Math.max(1, Math.min(options.rounds ?? 8, total));
  const tag = randomBytes(4).toString('hex');
  const oursNames: Names = createNames(`bench-${tag}`);
  const rawNames: Names = createNames(`bench-${tag}-raw`);
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const js = jetstream(nc);
  const ours = createContentLog({ nc, names: oursNames, publishWindow: window });
  const raw = createContentLog({ nc, names: rawNames });
  try {
    await ours.init();
    await raw.init();

    options.log?.info({ events: total }, 'generating events');
    const events = benchEvents(total);
    const wire = events.map((event) => ({
      subject: rawNames.subject(event.entityType, event.entityId),
      bytes: encodeEvent(event),
      id: event.id,
    }));
    const averageBytes = wire.reduce((sum, m) => sum + m.bytes.byteLength, 0) / total;

    // Warm both paths up (JIT, connection buffers) on a few events outside the timed ranges.
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
      await ourReplay(warm, signal);
    } finally {
      await warm.close();
      await jsm.streams.delete(createNames(`bench-${tag}-warm`).stream).catch(() => {});
    }

    let rawAppendSeconds = 0;
    let oursAppendSeconds = 0;
    const perRound = Math.ceil(total / rounds);
    const appendRaw = async (start: number, end: number) => {
      const t = performance.now();
      await rawPublish(js, wire.slice(start, end), window);
      rawAppendSeconds += seconds(t);
    };
    const appendOurs = async (start: number, end: number) => {
      const t = performance.now();
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
      oursAppendSeconds += seconds(t);
    };
    for (let start = 0, round = 0; start < total; start += perRound, round++) {
      signal?.throwIfAborted();
      const end = Math.min(total, start + perRound);
      // Who goes first alternates: the server may still be flushing the previous run's writes.
      if (round % 2 === 0) {
        await appendRaw(start, end);
        await appendOurs(start, end);
      } else {
        await appendOurs(start, end);
        await appendRaw(start, end);
      }
      options.log?.info({ appended: end }, 'appending');
    }

    // Reads alternate too; both read the same stream (ours).
    let rawReadSeconds = 0;
    let oursReadSeconds = 0;
    for (let r = 0; r < 2; r++) {
      signal?.throwIfAborted();
      let rawCount = 0;
      let oursCount = 0;
      const readRaw = async () => {
        const t = performance.now();
        rawCount = await rawRead(js, oursNames.stream, total, 512);
        rawReadSeconds += seconds(t);
      };
      const readOurs = async () => {
        const t = performance.now();
        oursCount = await ourReplay(ours, signal);
        oursReadSeconds += seconds(t);
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
      options.log?.info({ round: r + 1 }, 'replaying');
    }

    // In-process decode cost: JSON.parse alone vs. parse + schema check + upcast + subject check.
    const sampleSize = Math.min(total, 20_000);
    const meta = { seq: 1, time: new Date(), subject: '' };
    let t = performance.now();
    for (let i = 0; i < sampleSize; i++) JSON.parse(new TextDecoder().decode(wire[i]!.bytes));
    const parseSeconds = seconds(t);
    t = performance.now();
    for (let i = 0; i < sampleSize; i++) {
      const e = events[i]!;
      meta.subject = oursNames.subject(e.entityType, e.entityId);
      decodeMessage(oursNames, wire[i]!.bytes, meta);
    }
    const decodeSeconds = seconds(t);

    const setup = `${total.toLocaleString('en-US')} events of ${Math.round(averageBytes)} B avg`;
    return [
      measurement(
        'append',
        'events/s',
        total / oursAppendSeconds,
        total / rawAppendSeconds,
        `${setup}; batches of ${batch}, ${window} in flight; ceiling: raw js.publish with Nats-Msg-Id, same window`,
      ),
      measurement(
        'replay',
        'events/s',
        (2 * total) / oursReadSeconds,
        (2 * total) / rawReadSeconds,
        'validated + upcast ReplayItems; ceiling: raw ordered consumer + JSON.parse (2 passes each)',
      ),
      measurement(
        'decode',
        'events/s',
        sampleSize / decodeSeconds,
        sampleSize / parseSeconds,
        'in-process, no I/O: parse + TypeBox check + upcast vs. JSON.parse alone',
      ),
    ];
  } finally {
    await ours.close();
    await raw.close();
    for (const stream of [oursNames.stream, rawNames.stream]) {
      const deleted = await jsm.streams.delete(stream).catch((err: Error) => err);
      if (deleted !== true) options.log?.warn({ stream, err: deleted }, 'could not delete scratch stream');
    }
  }
}
