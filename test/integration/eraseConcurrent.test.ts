import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'bullmq';
import { createImageQueue } from '../../ingest/images/queue.ts';
import { createContentLog } from '../../log/contentLog.ts';
import { openKeyRing } from '../../log/keyRing.ts';
import { loadMasterKey } from '../../log/masterKey.ts';
import { sampleEvent } from '../../log/sampleEvents.ts';
import { createRedis } from '../../scripts/runtime.ts';
import { photo } from '../fixtures/images/craft.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { eventually, type TestNamespace, withNamespace } from '../support/env.ts';
import { allIndexed, namespaceCli, namespaceEnv } from '../support/namespaceCli.ts';

const CANARY = 'QXCONCURRENTCANARY3391';

async function articleIndexes(ns: TestNamespace): Promise<string[]> {
  const found = await ns
    .es()
    .indices.get({ index: `${ns.names.indexPrefix('articles')}*` }, { ignore: [404] });
  return Object.keys(found ?? {}).filter((name) => !name.includes('deadletters'));
}

test('erase while a reindex runs: the new index does not resurrect the item', async () => {
  await withNamespace(async (ns) => {
    const cli = namespaceCli(ns);
    const dir = await mkdtemp(join(tmpdir(), 'presslog-erase-reindex-'));
    try {
      await cli(['init']);
      // The canary first (a low sequence): the rebuild has written it into the new index
      // before the erasure, and the erasure's purge and the rebuild's catch-up must both
      // leave it out; the sample after it keeps the rebuild busy long enough.
      await writeFile(
        join(dir, 'canary.ndjson'),
        JSON.stringify({
          kind: 'article',
          id: 'a-canary',
          headline: `Story ${CANARY}`,
          body: `Body ${CANARY} text`,
          publishedAt: '1999-01-01',
        }),
      );
      await cli(['ingest', join(dir, 'canary.ndjson'), '--no-progress']);
      await cli(['sample', '--out', join(dir, 'sample')]);
      await cli(['ingest', join(dir, 'sample'), '--no-progress']);
      await cli(['reindex', 'all', '--no-progress']);
      const before = await articleIndexes(ns);
      assert.ok((await allIndexed(ns)).includes(CANARY), 'indexed before');

      // A long lease: the rebuild is frozen (SIGSTOP) while the erasure runs.
      const reindex = spawn(
        process.execPath,
        ['bin/presslog.js', 'reindex', 'all', '--no-progress', '--lease-ttl', '120000'],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, ...namespaceEnv(ns) },
          stdio: 'ignore',
        },
      );
      let reindexEndedAt = 0;
      const reindexDone = new Promise<number | null>((resolve) =>
        reindex.once('exit', (code) => {
          reindexEndedAt = Date.now();
          resolve(code);
        }),
      );
      try {
        // The rebuild has made its new index: it is under way.
        await eventually(async () => assert.ok((await articleIndexes(ns)).length > before.length), {
          timeout: 120_000,
          interval: 20,
        });
        // Frozen mid-rebuild, so that the erasure lands while it runs however fast the machine.
        reindex.kill('SIGSTOP');
        const run = await runCli(['erase', 'article', 'a-canary', '--reason', 'court order'], {
          ...namespaceEnv(ns),
          PRESSLOG_LOG_LEVEL: 'debug',
        });
        const erasedAt = Date.now();
        reindex.kill('SIGCONT');
        assert.equal(
          run.code,
          0,
          `presslog erase: ${run.stderr
            .split('\n')
            .filter((l) => /"level":(40|50)|error/.test(l))
            .join('\n')}`,
        );
        assert.equal(await reindexDone, 0, 'the reindex succeeded');
        assert.ok(
          reindexEndedAt > erasedAt,
          'the erasure finished while the reindex still ran (else this test proves nothing)',
        );
      } finally {
        if (reindex.exitCode === null) {
          reindex.kill('SIGCONT');
          reindex.kill('SIGTERM');
        }
      }
      const es = ns.es();
      const live = ns.names.alias('articles');
      await es.indices.refresh({ index: live });
      assert.equal(await es.exists({ index: live, id: 'a-canary' }), false, 'not in the new live index');
      assert.ok((await es.count({ index: live })).count > 200, 'the rest is there');
      assert.ok(!(await allIndexed(ns)).includes(CANARY), 'in no index at all');
      // The live projector catching up afterwards does not bring it back either.
      await cli(['project', '--once']);
      assert.equal(await es.exists({ index: live, id: 'a-canary' }), false);
      await cli(['audit', 'erasure', 'article', 'a-canary']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('erase image with a queued and an active job: the queued job is removed, the active one cannot record an outcome', async () => {
  await withNamespace(async (ns) => {
    const cli = namespaceCli(ns);
    const dir = await mkdtemp(join(tmpdir(), 'presslog-erase-jobs-'));
    const redis = createRedis(ns.config, { forBullmq: true });
    redis.on('error', () => {});
    const queue = createImageQueue({ connection: redis, names: ns.names });
    const worker = new Worker(queue.name, null, {
      connection: redis,
      prefix: ns.names.redisPrefix,
      autorun: false,
    });
    worker.on('error', () => {});
    try {
      await cli(['init']);
      await writeFile(join(dir, 'a.jpg'), photo('nagasaki-boats'));
      await writeFile(join(dir, 'q.jpg'), photo('black-canyon'));
      await writeFile(
        join(dir, 'images.ndjson'),
        ['a', 'q']
          .map((k) =>
            JSON.stringify({ kind: 'image', id: `img-${k}`, file: `${k}.jpg`, caption: `${k} ${CANARY}` }),
          )
          .join('\n'),
      );
      await cli(['ingest', dir, '--no-progress']);
      const master = await loadMasterKey(ns.config.masterKey.file);
      const nc = await ns.nats();
      // A long-running process (the worker) that holds the image's key from before the erasure.
      const keys = await openKeyRing({ nc, names: ns.names, masterKey: master.key });
      const log = createContentLog({ nc, names: ns.names, keys });
      try {
        const originalOf = async (id: string) => {
          const last = await log.lastEvent('image', id);
          assert.equal(last?.event.type, 'ImageSubmitted');
          return (last!.event.payload as { original: { digest: string; bytes: number; mediaType: string } })
            .original;
        };
        const activeOriginal = await originalOf('img-a');
        const queuedOriginal = await originalOf('img-q');
        // Enqueued as the dispatcher does; the first taken by a worker (active, locked).
        await queue.enqueue('img-a', activeOriginal as never);
        const active = await worker.getNextJob('test-token');
        assert.equal(active?.data.imageIds[0], 'img-a');
        // Held as a busy worker holds it (this worker does not renew its lock by itself).
        await active!.extendLock('test-token', 600_000);
        assert.equal(await active!.getState(), 'active');
        await queue.enqueue('img-q', queuedOriginal as never);
        assert.equal(await (await queue.getJob(queuedOriginal.digest))!.getState(), 'waiting');

        const queued = JSON.parse(
          (await cli(['--json', 'erase', 'image', 'img-q', '--reason', 'no rights'])).stdout,
        );
        assert.equal(queued.imageJobsRemoved, 1);
        assert.equal(await queue.getJob(queuedOriginal.digest), undefined, 'the queued job is gone');

        const erased = JSON.parse(
          (await cli(['--json', 'erase', 'image', 'img-a', '--reason', 'no rights'])).stdout,
        );
        assert.equal(
          erased.imageJobsRemoved,
          0,
          `an active job is locked by its worker: ${JSON.stringify(erased)}`,
        );
        assert.ok(erased.blobsDeleted >= 1, 'its original is deleted: the worker cannot read it');
        // The erasure reaches the process's cached keys (its watch of the keys bucket), and
        // the worker's outcome is refused: nothing of the image can be stored again.
        await eventually(() => keys.lookup('image', 'img-a', 1) === 'erased');
        const outcome = await log.append([
          {
            event: sampleEvent('ImageProcessingFailed', 'img-a', {
              original: activeOriginal.digest,
              reason: 'original missing',
              attempts: 1,
            }),
          },
        ]);
        assert.equal(outcome.appended, 0, `the outcome is refused: ${JSON.stringify(outcome.outcomes)}`);
        assert.equal(outcome.outcomes[0]?.status, 'invalid');
        assert.match(String((outcome.outcomes[0] as { error?: Error }).error?.name), /Erased/);
        await active!.moveToFailed(new Error('original missing'), 'test-token');
      } finally {
        await log.close();
        keys.close();
      }
      let text = '';
      for await (const keys of redis.scanStream({ match: `${ns.config.namespace}:*`, count: 1000 })) {
        for (const key of keys as string[]) {
          const type = await redis.type(key);
          if (type === 'hash') text += JSON.stringify(await redis.hgetall(key));
          else if (type === 'string') text += await redis.get(key);
          else if (type === 'list') text += JSON.stringify(await redis.lrange(key, 0, -1));
        }
      }
      assert.ok(!text.includes(CANARY), 'no caption in Redis');
    } finally {
      await worker.close();
      await queue.close();
      await redis.quit().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });
});
