import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import sharp from 'sharp';
import {
  checkpointKey,
  createImageDispatcher,
  createRedisCheckpoint,
  dispatchUntilDone,
  type ImageDispatcherOptions,
} from '../../ingest/images/dispatcher.ts';
import { createImageQueue, type ImageQueue, imageJobId } from '../../ingest/images/queue.ts';
import { ImageRejectedError, processImage } from '../../ingest/images/renditions.ts';
import { createImageWorker, type ImageWorker, type ImageWorkerOptions } from '../../ingest/images/worker.ts';
import { type BlobStore, blobPath, createBlobStore } from '../../log/blobStore.ts';
import { createContentLog } from '../../log/contentLog.ts';
import type { ContentLog, StoredEvent } from '../../log/types.ts';
import type { EventOf } from '../../schemas/catalog.ts';
import type { Config } from '../../schemas/config.ts';
import { deriveEventId } from '../../schemas/eventId.ts';
import type { Names } from '../../schemas/names.ts';
import { openConfiguredKeyRing } from '../../scripts/keys.ts';
import { connectNats, createRedis } from '../../scripts/runtime.ts';
import {
  photo,
  pngBomb,
  pngWithAlpha,
  rotatedJpeg,
  textFile,
  truncatedJpeg,
  zeroBytes,
} from '../fixtures/images/craft.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { cleanupNamespace, eventually, testConfig } from '../support/env.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

interface Env {
  config: Config;
  names: Names;
  log: ContentLog;
  blobs: BlobStore;
  blobDir: string;
  redis: Redis;
  queue: ImageQueue;
  startWorker(options?: Partial<ImageWorkerOptions>): ImageWorker;
  dispatcher(options?: Partial<ImageDispatcherOptions>): ReturnType<typeof createImageDispatcher>;
  submit(imageId: string, bytes: Buffer, fileName?: string, caption?: string): Promise<number>;
  events(imageId: string): Promise<StoredEvent[]>;
  outcomes(imageId: string): Promise<StoredEvent[]>;
}

/** Everything the image pipeline needs, in a namespace of its own; all of it removed afterwards. */
async function withImages(fn: (env: Env) => Promise<void>): Promise<void> {
  const config = testConfig();
  const { names, blobDir } = config;
  const nc = await connectNats(config);
  const log = createContentLog({ nc, names });
  const blobs = createBlobStore(blobDir);
  const redis = createRedis(config, { forBullmq: true });
  const queue = createImageQueue({ connection: redis, names, attempts: 3, backoffMs: 100, logger });
  const workers: ImageWorker[] = [];
  try {
    await log.init();
    await fn({
      config,
      names,
      log,
      blobs,
      blobDir,
      redis,
      queue,
      startWorker(options = {}) {
        const worker = createImageWorker({
          connection: redis,
          names,
          log,
          blobs,
          logger,
          concurrency: 2,
          ...options,
        });
        workers.push(worker);
        return worker;
      },
      dispatcher(options = {}) {
        return createImageDispatcher({
          log,
          queue,
          logger,
          checkpoint: createRedisCheckpoint(redis, checkpointKey(names.redisPrefix)),
          pollIntervalMs: 100,
          ...options,
        });
      },
      submit: (imageId, bytes, fileName, caption) =>
        submitImage(log, blobs, imageId, bytes, fileName, caption),
      events: (imageId) => log.readEntity('image', imageId),
      async outcomes(imageId) {
        return (await log.readEntity('image', imageId)).filter(
          (e) => e.event.type === 'ImageProcessed' || e.event.type === 'ImageProcessingFailed',
        );
      },
    });
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await queue.close();
    await log.close();
    // Streams <NS>_*, Redis keys <ns>:* (queue and checkpoint), the blob directory; no ES here.
    await cleanupNamespace(config, { nats: async () => nc, redis: () => redis }).catch((err: unknown) =>
      console.warn(err),
    );
    await redis.quit();
    await nc.close();
  }
}

/** What ingest does for an image file: store the original, append ImageSubmitted. */
async function submitImage(
  log: ContentLog,
  blobs: BlobStore,
  imageId: string,
  bytes: Buffer,
  fileName = `${imageId}.jpg`,
  caption?: string,
): Promise<number> {
  const stored = await blobs.put(bytes);
  const last = await log.lastEvent('image', imageId);
  const payload = {
    fileName,
    ...(caption ? { caption } : {}),
    original: { digest: stored.digest, bytes: stored.bytes, mediaType: 'image/jpeg' },
  };
  const basisSeq = last?.seq ?? 0;
  const at = new Date().toISOString();
  const stats = await log.append([
    {
      event: {
        id: deriveEventId({
          type: 'ImageSubmitted',
          entityType: 'image',
          entityId: imageId,
          payload,
          basisSeq,
        }),
        type: 'ImageSubmitted',
        version: 1,
        entityType: 'image',
        entityId: imageId,
        occurredAt: at,
        recordedAt: at,
        source: 'test',
        payload,
      },
    },
  ]);
  assert.equal(stats.appended, 1, JSON.stringify(stats.outcomes));
  return stats.lastSeq;
}

/**
 * Run a worker in a child process, let it take the image's job, and kill it with SIGKILL
 * while the job is active. Returns the job id.
 */
async function killWorkerMidJob(env: Env, imageId: string): Promise<string> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/images/workerProcess.ts'],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PRESSLOG_NAMESPACE: env.names.namespace,
        PRESSLOG_BLOB_DIR: env.blobDir,
        SLOW_MS: '30000',
        LOCK_MS: '1500',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const seen = new Set<string>();
    createInterface({ input: child.stdout! }).on('line', (line) => seen.add(line));
    await eventually(() => seen.has('ready'), { timeout: 20_000 });
    await env.dispatcher().poll();
    await eventually(() => seen.has('active'), { timeout: 20_000 });
    const submitted = (await env.events(imageId))[0]!.event as EventOf<'ImageSubmitted'>;
    const jobId = imageJobId(submitted.payload.original.digest);
    assert.equal(await (await env.queue.queue.getJob(jobId))!.getState(), 'active');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    return jobId;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

const processedOf = (e: StoredEvent) => e.event as EventOf<'ImageProcessed'>;
const failedOf = (e: StoredEvent) => e.event as EventOf<'ImageProcessingFailed'>;

describe('image pipeline (real Redis, NATS, sharp)', () => {
  test('real photographs end with ImageProcessed: metadata, renditions stored by digest', async () => {
    await withImages(async (env) => {
      const names = ['nagasaki-boats', 'black-canyon', 'locomotion-house-cat'] as const;
      for (const n of names) await env.submit(`img-${n}`, photo(n));
      env.startWorker();
      const stats = await dispatchUntilDone(env.dispatcher());
      assert.equal(stats.enqueued, 3);
      for (const n of names) {
        const outcomes = await env.outcomes(`img-${n}`);
        assert.equal(outcomes.length, 1);
        const { payload, source, correlationId } = processedOf(outcomes[0]!);
        const meta = await sharp(photo(n)).metadata();
        assert.equal(source, 'presslog/images-worker');
        assert.equal(correlationId, imageJobId(payload.original));
        assert.deepEqual(
          [payload.width, payload.height, payload.format, payload.hasAlpha],
          [meta.width, meta.height, 'jpeg', false],
        );
        assert.deepEqual(
          payload.renditions.map((r) => r.name),
          ['thumb', 'medium', 'webp'],
        );
        for (const r of payload.renditions) {
          const bytes = await env.blobs.read(r.digest);
          assert.equal(bytes.length, r.bytes);
          const out = await sharp(bytes).metadata();
          assert.deepEqual([out.width, out.height, `image/${out.format}`], [r.width, r.height, r.mediaType]);
        }
        assert.equal(Math.max(payload.renditions[0]!.width, payload.renditions[0]!.height), 200);
        assert.equal(Math.max(payload.renditions[1]!.width, payload.renditions[1]!.height), 800);
        assert.match(payload.dominantColor, /^#[0-9a-f]{6}$/);
        assert.ok(payload.placeholder.startsWith('data:image/webp;base64,'));
      }
      const counts = await env.queue.counts();
      assert.equal(counts.completed, 3);
      assert.equal(counts.failed, 0);
    });
  });

  test('EXIF rotation and alpha are recorded as displayed', async () => {
    await withImages(async (env) => {
      await env.submit('img-rotated', await rotatedJpeg());
      await env.submit('img-alpha', await pngWithAlpha(), 'alpha.png');
      env.startWorker();
      await dispatchUntilDone(env.dispatcher());
      const rotated = processedOf((await env.outcomes('img-rotated'))[0]!).payload;
      assert.deepEqual([rotated.width, rotated.height, rotated.orientation], [200, 300, 6]);
      assert.deepEqual([rotated.renditions[0]!.width, rotated.renditions[0]!.height], [133, 200]);
      const alpha = processedOf((await env.outcomes('img-alpha'))[0]!).payload;
      assert.equal(alpha.hasAlpha, true);
      assert.deepEqual(
        alpha.renditions.map((r) => r.mediaType),
        ['image/png', 'image/png', 'image/webp'],
      );
      const webp = await sharp(await env.blobs.read(alpha.renditions[2]!.digest)).metadata();
      assert.equal(webp.hasAlpha, true);
    });
  });

  test('bad files end with ImageProcessingFailed and a clear reason, after one attempt', async () => {
    await withImages(async (env) => {
      const bad = {
        'img-truncated': [truncatedJpeg(), /corrupt or truncated image: .*premature end of JPEG/i],
        'img-text': [textFile(), /^not an image/],
        'img-bomb': [pngBomb(), /^possible decompression bomb: declares 100000x100000/],
        'img-empty': [zeroBytes(), /^empty file \(0 bytes\)$/],
      } as const;
      for (const [id, [bytes]] of Object.entries(bad)) await env.submit(id, bytes);
      const worker = env.startWorker();
      await dispatchUntilDone(env.dispatcher());
      for (const [id, [, reason]] of Object.entries(bad)) {
        const outcomes = await env.outcomes(id);
        assert.deepEqual(
          outcomes.map((e) => e.event.type),
          ['ImageProcessingFailed'],
          id,
        );
        const { payload } = failedOf(outcomes[0]!);
        assert.match(payload.reason, reason, id);
        assert.equal(payload.attempts, 1, `${id}: a permanent failure is not retried`);
        const state = await env.log.stateAsOf('image', id);
        assert.equal(state?.entityType === 'image' && state.failed?.reason, payload.reason);
      }
      assert.equal(worker.stats.failed, 4);
      const failed = await env.queue.failed();
      assert.equal(failed.length, 4);
      assert.ok(failed.every((f) => f.reason.length > 0 && f.imageIds.length === 1));
    });
  });

  test('a transient failure is retried with backoff, then recorded with its attempts', async () => {
    await withImages(async (env) => {
      // The event names an original the blob store never got: a copy that never arrived.
      const seq = await env.submit('img-missing', photo());
      const digest = (await env.events('img-missing'))[0]!.event as EventOf<'ImageSubmitted'>;
      await rm(blobPath(env.blobs.root, digest.payload.original.digest));
      env.startWorker();
      await dispatchUntilDone(env.dispatcher());
      const outcomes = await env.outcomes('img-missing');
      assert.equal(outcomes.length, 1);
      const { payload } = failedOf(outcomes[0]!);
      assert.equal(payload.attempts, 3);
      assert.match(payload.reason, /is not in the blob store/);
      assert.ok(outcomes[0]!.seq > seq);
    });
  });

  test('--retry-failed: a failed image is tried again once the cause is fixed', async () => {
    await withImages(async (env) => {
      const bytes = photo('allium-oreophilum');
      await env.submit('img-retry', bytes);
      const submitted = (await env.events('img-retry'))[0]!.event as EventOf<'ImageSubmitted'>;
      await rm(blobPath(env.blobs.root, submitted.payload.original.digest));
      env.startWorker();
      await dispatchUntilDone(env.dispatcher());
      assert.deepEqual(
        (await env.outcomes('img-retry')).map((e) => e.event.type),
        ['ImageProcessingFailed'],
      );
      // Without the flag a failed image is done; with it, it is retried.
      assert.equal((await dispatchUntilDone(env.dispatcher({ fullScan: true }))).enqueued, 0);
      await env.blobs.put(bytes);
      await dispatchUntilDone(env.dispatcher({ fullScan: true, retryFailed: true }));
      assert.deepEqual(
        (await env.outcomes('img-retry')).map((e) => e.event.type),
        ['ImageProcessingFailed', 'ImageProcessed'],
      );
      const state = await env.log.stateAsOf('image', 'img-retry');
      assert.ok(state?.entityType === 'image' && state.processed && !state.failed);
    });
  });

  test('the same image submitted twice, or the same bytes under two ids, is processed once', async () => {
    await withImages(async (env) => {
      const bytes = photo('march-pastoral');
      await env.submit('img-a', bytes, 'a.jpg', 'first caption');
      await env.submit('img-a', bytes, 'a.jpg', 'second caption');
      await env.submit('img-b', bytes, 'b.jpg');
      const worker = env.startWorker();
      const dispatcher = env.dispatcher();
      await dispatchUntilDone(dispatcher);
      assert.equal(worker.stats.processed, 1, 'sharp ran once');
      const [a, b] = [await env.outcomes('img-a'), await env.outcomes('img-b')];
      assert.equal(a.length, 1);
      assert.equal(b.length, 1);
      assert.deepEqual(processedOf(a[0]!).payload, processedOf(b[0]!).payload);
      assert.equal((await env.queue.counts()).completed, 1);
      // Submitting again after processing, and dispatching everything again, changes nothing.
      await env.submit('img-b', bytes, 'b.jpg', 'captioned later');
      const submitted = (await env.events('img-a'))[0]!.event as EventOf<'ImageSubmitted'>;
      const again = await env.queue.enqueue('img-a', submitted.payload.original);
      assert.deepEqual([again.status, again.state], ['queued', 'completed']);
      assert.equal((await env.queue.enqueue('img-b', submitted.payload.original)).status, 'shared');
      await dispatchUntilDone(env.dispatcher({ fullScan: true }));
      assert.equal((await env.outcomes('img-a')).length, 1);
      assert.equal((await env.outcomes('img-b')).length, 1);
      assert.equal(worker.stats.processed, 1);
    });
  });

  test('a retried job whose result is already in the log is not processed or recorded again', async () => {
    await withImages(async (env) => {
      await env.submit('img-1', photo('acanthus-mollis'));
      const worker = env.startWorker();
      await dispatchUntilDone(env.dispatcher());
      const job = (await env.queue.getJob(
        (await env.outcomes('img-1')).map(processedOf)[0]!.payload.original,
      ))!;
      // As if the worker had died after appending but before completing: run the job again.
      await job.retry('completed');
      await eventually(() => worker.stats.skipped === 1, { timeout: 10_000 });
      assert.equal((await env.outcomes('img-1')).length, 1);
      assert.equal(worker.stats.processed, 1);
    });
  });

  test('a worker killed with SIGKILL mid-job loses nothing: another worker retries, one ImageProcessed', async () => {
    await withImages(async (env) => {
      await env.submit('img-kill', photo('dust-bowl-home'));
      const jobId = await killWorkerMidJob(env, 'img-kill');
      // A healthy worker that checks for stalled jobs often picks it up once the dead worker's lock expires.
      const worker = env.startWorker({ stalledInterval: 500, concurrency: 1 });
      await dispatchUntilDone(env.dispatcher(), { intervalMs: 200 });
      const outcomes = await env.outcomes('img-kill');
      assert.deepEqual(
        outcomes.map((e) => e.event.type),
        ['ImageProcessed'],
      );
      assert.equal(worker.stats.processed, 1);
      const job = (await env.queue.queue.getJob(jobId))!;
      assert.equal(await job.getState(), 'completed');
      assert.ok(job.attemptsStarted >= 2, `attempts started: ${job.attemptsStarted}`);
    });
  });

  test('a job that keeps killing its worker fails for good, with ImageProcessingFailed', async () => {
    await withImages(async (env) => {
      await env.submit('img-poison', photo('airplane-from-above'));
      const jobId = await killWorkerMidJob(env, 'img-poison');
      // maxStalledCount 0: the first stall is already one too many.
      env.startWorker({ stalledInterval: 500, maxStalledCount: 0, concurrency: 1 });
      await dispatchUntilDone(env.dispatcher(), { intervalMs: 200 });
      const outcomes = await env.outcomes('img-poison');
      assert.deepEqual(
        outcomes.map((e) => e.event.type),
        ['ImageProcessingFailed'],
      );
      assert.match(failedOf(outcomes[0]!).payload.reason, /stalled more than allowable limit/);
      assert.equal(await (await env.queue.queue.getJob(jobId))!.getState(), 'failed');
    });
  });

  test('close() waits for the running job; the dispatcher resumes from its checkpoint', async () => {
    await withImages(async (env) => {
      await env.submit('img-slow', photo('french-alpine-landscape'));
      let started = false;
      const worker = env.startWorker({
        processor: async (bytes, options) => {
          started = true;
          await sleep(700);
          return processImage(bytes, options);
        },
      });
      const first = env.dispatcher();
      await first.poll();
      await eventually(() => started, { timeout: 10_000 });
      await Promise.all([worker.close(), worker.close()]);
      assert.equal(
        (await env.outcomes('img-slow')).length,
        1,
        'the running job finished before close resolved',
      );
      await worker.close();
      await first.poll();
      assert.equal(first.pending().length, 0);
      const head = await env.log.head();
      assert.equal(
        await createRedisCheckpoint(env.redis, checkpointKey(env.names.redisPrefix)).get(),
        head.lastSeq,
      );
      // A new image while no worker runs: the checkpoint stays below it until it has an outcome.
      const seq = await env.submit('img-later', photo('allium-oreophilum'));
      const second = env.dispatcher();
      const stats = await second.poll();
      assert.equal(stats.enqueued, 1);
      assert.equal(
        await createRedisCheckpoint(env.redis, checkpointKey(env.names.redisPrefix)).get(),
        seq - 1,
      );
      env.startWorker();
      await dispatchUntilDone(second);
      assert.equal((await env.outcomes('img-later')).length, 1);
      assert.equal(
        await createRedisCheckpoint(env.redis, checkpointKey(env.names.redisPrefix)).get(),
        (await env.log.head()).lastSeq,
      );
    });
  });

  test('lifecycle: close twice, close before start, a closed dispatcher refuses to poll', async () => {
    await withImages(async (env) => {
      const idle = env.startWorker({ autorun: false });
      await Promise.all([idle.close(), idle.close()]);
      await idle.close();
      const queue = createImageQueue({ connection: env.redis, names: env.names });
      await Promise.all([queue.close(), queue.close()]);
      const dispatcher = env.dispatcher();
      await dispatcher.close();
      await dispatcher.close();
      await assert.rejects(dispatcher.poll(), /closed/);
    });
  });

  test('a poll that fails halfway through enqueueing leaves nothing behind: the next poll enqueues it all', async () => {
    await withImages(async (env) => {
      await env.submit('img-flaky-1', photo('black-canyon'));
      await env.submit('img-flaky-2', photo('nagasaki-boats'));
      // The queue fails once, after the log was read (as a Redis outage would).
      let failures = 1;
      const flaky: ImageQueue = {
        ...env.queue,
        async enqueue(imageId, original) {
          if (failures-- > 0) throw new Error('Redis went away');
          return env.queue.enqueue(imageId, original);
        },
      };
      const dispatcher = env.dispatcher({ queue: flaky });
      await assert.rejects(dispatcher.poll(), /Redis went away/);
      const stats = await dispatcher.poll();
      assert.equal(stats.enqueued, 2);
      assert.deepEqual(
        dispatcher
          .pending()
          .map((p) => p.imageId)
          .sort(),
        ['img-flaky-1', 'img-flaky-2'],
      );
      assert.ok(
        (await createRedisCheckpoint(env.redis, checkpointKey(env.names.redisPrefix)).get()) <
          (await env.log.head()).lastSeq - 1,
        'the checkpoint stays below the images waiting',
      );
    });
  });

  test('lifecycle: the dispatcher closes once, ends a running run() in its pause, waits for a poll in flight', async () => {
    await withImages(async (env) => {
      await env.submit('img-run', photo('black-canyon'));
      // A pause of a minute between polls: close() must not wait for it.
      const dispatcher = env.dispatcher({ pollIntervalMs: 60_000 });
      let ended = false;
      const running = dispatcher.run(new AbortController().signal).then(() => {
        ended = true;
      });
      await eventually(() => dispatcher.pending().length === 1, { timeout: 10_000 });
      const started = Date.now();
      const closing = dispatcher.close();
      assert.equal(dispatcher.close(), closing, 'close() keeps its promise');
      await closing;
      assert.ok(ended, 'run() ended before close() resolved');
      assert.ok(Date.now() - started < 5_000, `close() took ${Date.now() - started} ms`);
      await running;
      await dispatcher.run(new AbortController().signal);
      await assert.rejects(dispatcher.poll(), /closed/);
      // A poll in flight when close() is called has ended (aborted or done) when it resolves.
      const second = env.dispatcher({ fullScan: true });
      let settled = false;
      const polling = second.poll().finally(() => {
        settled = true;
      });
      polling.catch(() => {});
      await second.close();
      assert.ok(settled, 'the poll in flight ended before close() resolved');
    });
  });

  test('lifecycle: worker.close() while a job runs keeps its promise and waits for the failure to be recorded', async () => {
    await withImages(async (env) => {
      await env.submit('img-closing', photo('nagasaki-boats'));
      let started = false;
      const worker = env.startWorker({
        processor: async () => {
          started = true;
          await sleep(500);
          throw new ImageRejectedError('corrupt', 'rejected while the worker was closing');
        },
      });
      await env.dispatcher().poll();
      await eventually(() => started, { timeout: 10_000 });
      const closing = worker.close();
      assert.equal(worker.close(), closing, 'close() keeps its promise');
      await closing;
      assert.equal(worker.worker.isRunning(), false);
      const outcomes = await env.outcomes('img-closing');
      assert.deepEqual(
        outcomes.map((e) => e.event.type),
        ['ImageProcessingFailed'],
        'the failure was recorded before close() resolved',
      );
      assert.equal(failedOf(outcomes[0]!).payload.reason, 'rejected while the worker was closing');
      assert.equal(worker.stats.failed, 1);
      assert.equal(worker.close(), closing);
    });
  });

  test('CLI: images process handles everything unprocessed and exits; images status shows the failures', async () => {
    await withImages(async (env) => {
      await env.submit('img-cli-1', photo('black-canyon'));
      await env.submit('img-cli-2', photo('nagasaki-boats'));
      await env.submit('img-cli-bad', textFile());
      const cliEnv = {
        PRESSLOG_NAMESPACE: env.names.namespace,
        PRESSLOG_BLOB_DIR: env.blobDir,
        PRESSLOG_LOG_LEVEL: 'warn',
      };
      const run = await runCli(['--json', 'images', 'process', '--concurrency', '2'], cliEnv);
      assert.equal(run.code, 0, run.stderr);
      const summary = JSON.parse(run.stdout);
      assert.equal(summary.enqueued, 3);
      assert.equal(summary.processed, 2);
      assert.equal(summary.failed, 1);
      assert.deepEqual(summary.failures, [
        { imageIds: ['img-cli-bad'], reason: 'not an image: no known image format in the file' },
      ]);
      // The CLI seals what it appends (crypto-shredding): read its outcomes with the namespace's keys.
      const nc = await connectNats(env.config);
      try {
        const keys = await openConfiguredKeyRing(env.config, nc);
        const sealedLog = createContentLog({ nc, names: env.names, keys });
        const outcome = async (id: string) =>
          (await sealedLog.readEntity('image', id)).find((e) => e.event.type.startsWith('ImageProcess'))
            ?.event.type;
        assert.equal(await outcome('img-cli-1'), 'ImageProcessed');
        assert.equal(await outcome('img-cli-bad'), 'ImageProcessingFailed');
      } finally {
        await nc.close();
      }
      const again = await runCli(['--json', 'images', 'process'], cliEnv);
      assert.equal(JSON.parse(again.stdout).enqueued, 0, 'nothing left to do');
      const status = await runCli(['--json', 'images', 'status'], cliEnv);
      assert.equal(status.code, 0, status.stderr);
      const report = JSON.parse(status.stdout);
      assert.equal(report.counts.completed, 2);
      assert.equal(report.counts.failed, 1);
      assert.equal(report.failed[0].imageIds[0], 'img-cli-bad');
      assert.match(report.failed[0].reason, /not an image/);
      assert.equal(report.checkpoint, (await env.log.head()).lastSeq);
      await rm(dirname(env.config.masterKey.file), { recursive: true, force: true });
    });
  });
});
