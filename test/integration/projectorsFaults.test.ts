import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { createProjector } from '../../projectors/live/projector.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { eventually } from '../support/env.ts';
import {
  assertSameDocs,
  dumpAll,
  dumpIndex,
  type ProjectorEnv,
  projectOnce,
  reindexAll,
  startEsProxy,
  withProjectorEnv,
} from '../support/projectors.ts';
import { articleFields, makeEvent, sizedLog } from '../support/projectorsEvents.ts';

/** Start the CLI in a child process in the test's namespace. */
function spawnCli(
  env: ProjectorEnv,
  args: string[],
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['bin/presslog.js', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PRESSLOG_NAMESPACE: env.config.namespace, PRESSLOG_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('projector faults', () => {
  test('killed (SIGKILL) in the middle of a replay, the live projector resumes to the same index', async () => {
    await withProjectorEnv(async (env) => {
      const head = await env.append(sizedLog(1500));
      const run = spawnCli(env, ['project', '--once', '--batch', '40', '--lease-ttl', '2000']);
      try {
        // Kill it once it has committed part of the log, not all of it.
        const partial = await eventually(
          async () => {
            const checkpoint = await env.checkpoints.current('articles');
            assert.ok(
              checkpoint && checkpoint.seq > 0 && checkpoint.seq < head,
              `checkpoint ${checkpoint?.seq}`,
            );
            return checkpoint.seq;
          },
          { timeout: 60_000, interval: 20 },
        );
        run.child.kill('SIGKILL');
        await run.exited;
        assert.ok(partial < head);
      } finally {
        run.child.kill('SIGKILL');
      }
      // The dead projector's lease expires; the restart waits for it, then resumes from the checkpoint.
      const restart = spawnCli(env, ['project', '--once', '--wait', '--lease-ttl', '2000']);
      const code = await restart.exited;
      assert.equal(code, 0, restart.output());
      const resumed = await dumpAll(env.client, env.names);
      await reindexAll(env);
      const uninterrupted = await dumpAll(env.client, env.names);
      assertSameDocs(resumed, uninterrupted, 'resumed projection differs from an uninterrupted run');
    });
  });

  test('killed (SIGKILL) in the middle of a reindex: the alias is untouched, the next run discards the partial index', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(sizedLog(1500, 9));
      await projectOnce(env);
      const live = await dumpAll(env.client, env.names);
      const liveIndex = (
        await env.client.indices.getAlias({ name: env.names.alias('articles') }).then(Object.keys)
      )[0]!;
      const run = spawnCli(env, ['reindex', 'all', '--no-progress', '--batch', '40', '--lease-ttl', '2000']);
      let partial = '';
      try {
        partial = await eventually(
          async () => {
            const stats = await env.client.indices.stats({
              index: `${env.names.indexPrefix('articles')}*`,
              metric: 'indexing',
            });
            const building = Object.entries(stats.indices ?? {}).find(
              ([name, s]) => name !== liveIndex && (s.primaries?.indexing?.index_total ?? 0) > 0,
            );
            assert.ok(building, 'no new index is being written yet');
            return building[0];
          },
          { timeout: 60_000, interval: 20 },
        );
      } finally {
        run.child.kill('SIGKILL');
        await run.exited;
      }
      assert.deepEqual(
        await env.client.indices.getAlias({ name: env.names.alias('articles') }).then(Object.keys),
        [liveIndex],
      );
      assertSameDocs(
        await dumpAll(env.client, env.names),
        live,
        'the interrupted reindex touched the live indexes',
      );
      const report = await reindexAll(env, { wait: true });
      const articles = report.indexes.find((r) => r.projection === 'articles')!;
      assert.ok(
        articles.deleted.includes(partial),
        `partial ${partial} deleted: ${articles.deleted.join(', ')}`,
      );
      assert.equal(await env.client.indices.exists({ index: partial }), false);
      assertSameDocs(await dumpAll(env.client, env.names), live, 'the completed reindex differs');
    });
  });

  test('Elasticsearch unreachable in live mode: backs off, never moves the checkpoint past a failed write, catches up', async () => {
    await withProjectorEnv(async (env) => {
      const proxy = await startEsProxy();
      const client = proxy.client();
      const controller = new AbortController();
      const projector = createProjector({
        ...env.common(),
        client,
        projections: PROJECTION_NAMES,
        leaseTtlMs: 3000,
        idlePollMs: 20,
      });
      const running = projector.run({ signal: controller.signal });
      try {
        const first = await env.append(sizedLog(50, 3));
        assert.equal(
          (await env.checkpoints.waitForSeq('articles', first, { timeoutMs: 30_000 })).reached,
          true,
        );
        await proxy.stop();
        const during = await env.append([
          makeEvent('ArticlePublished', 'outage-1', articleFields({ headline: 'Written during the outage' })),
          makeEvent('ArticlePublished', 'outage-2', articleFields({ headline: 'Also during the outage' })),
        ]);
        // Give the projector time to try (and fail) several times.
        await new Promise((resolve) => setTimeout(resolve, 2500));
        const stuck = await env.checkpoints.current('articles');
        assert.ok(
          stuck!.seq < during,
          `checkpoint ${stuck!.seq} must stay below ${during} while writes fail`,
        );
        const health = await (await env.checkpoints.bucket()).get('health.articles');
        assert.equal(health?.json<{ state: string }>().state, 'retrying');
        await proxy.start();
        assert.equal(
          (await env.checkpoints.waitForSeq('articles', during, { timeoutMs: 60_000 })).reached,
          true,
        );
        const docs = await dumpIndex(env.client, env.names.alias('articles'));
        assert.ok(docs.has('outage-1') && docs.has('outage-2'));
      } finally {
        controller.abort();
        await running.catch(() => {});
        await projector.close();
        await client.close();
        await proxy.stop().catch(() => {});
      }
    });
  });

  test('bulk items rejected for load (429) are retried until written', async () => {
    await withProjectorEnv(async (env) => {
      const proxy = await startEsProxy();
      const client = proxy.client();
      try {
        await env.append(sizedLog(120, 4));
        proxy.setMode('reject-some-bulk-items');
        const stats = await projectOnce(env, { client, batchDocs: 30 });
        assert.ok(proxy.rejectedItems > 10, `the proxy rejected ${proxy.rejectedItems} items`);
        assert.ok(stats.retries > 0);
        assert.equal(stats.deadLettered, 0);
        const live = await dumpAll(env.client, env.names);
        await reindexAll(env);
        assertSameDocs(
          live,
          await dumpAll(env.client, env.names),
          'retried writes differ from a clean rebuild',
        );
        // A rebuild's writes (documents held UTF-8 encoded) are retried the same way.
        const rejectedBefore = proxy.rejectedItems;
        const rebuilt = await reindexAll(env, { client, batchDocs: 30 });
        assert.ok(proxy.rejectedItems > rejectedBefore, 'the proxy rejected some of the rebuild');
        assert.ok(rebuilt.stats.retries > 0);
        assert.equal(rebuilt.stats.deadLettered, 0);
        assertSameDocs(live, await dumpAll(env.client, env.names), 'a retried rebuild differs');
      } finally {
        await client.close();
        await proxy.stop();
      }
    });
  });

  test('events appended during `reindex all` are all in the new indexes after the swap; searches never fail', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(sizedLog(600, 5));
      const controller = new AbortController();
      const projector = createProjector({
        ...env.common(),
        projections: PROJECTION_NAMES,
        leaseTtlMs: 3000,
        idlePollMs: 20,
        aliasCheckMs: 500,
      });
      const running = projector.run({ signal: controller.signal });
      let writing = true;
      let written = 0;
      let lastSeq = 0;
      let searches = 0;
      const failures: string[] = [];
      try {
        await eventually(
          async () =>
            assert.equal((await env.checkpoints.current('articles'))?.seq, (await env.log.head()).lastSeq),
          {
            timeout: 60_000,
          },
        );
        const writer = (async () => {
          for (let n = 0; writing; n++) {
            lastSeq = await env.append([
              makeEvent(
                'ArticlePublished',
                `during-${n}`,
                articleFields({ headline: `During ${n}`, bylineIds: [`b${n % 20}`] }),
              ),
              ...(n % 5 === 0
                ? [makeEvent('BylineUpdated', `b${n % 20}`, { name: `Renamed during ${n}` }, n + 10_000)]
                : []),
            ]);
            written++;
            await new Promise((resolve) => setTimeout(resolve, 15));
          }
        })();
        const searcher = (async () => {
          while (writing) {
            try {
              const response = await env.client.search({
                index: env.names.alias('articles'),
                query: { match: { body: 'harbour' } },
                size: 1,
              });
              searches++;
              if (response.hits.hits.length === 0) failures.push('no hits');
            } catch (err) {
              failures.push((err as Error).message);
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        })();
        const report = await reindexAll(env, { batchDocs: 100, catchUpLag: 5 });
        // Keep writing past the swap, so the hand-over happens under load.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        writing = false;
        await Promise.all([writer, searcher]);
        assert.ok(written > 10, `${written} appends during the reindex`);
        assert.ok(report.seq < lastSeq, 'events kept arriving after the rebuild finished');
        for (const projection of PROJECTION_NAMES) {
          assert.equal(
            (await env.checkpoints.waitForSeq(projection, lastSeq, { timeoutMs: 60_000 })).reached,
            true,
            projection,
          );
        }
        const handedOver = await dumpAll(env.client, env.names);
        for (let n = 0; n < written; n++)
          assert.ok(handedOver.has(`articles/during-${n}`), `during-${n} present`);
        assert.deepEqual(failures, [], `failed searches out of ${searches}`);
        assert.ok(searches > 10);
        // What the live projector handed over to equals a fresh rebuild of the same log.
        controller.abort();
        const stats = await running;
        assert.equal(stats.handovers, 3, 'the live projector followed all three aliases');
        await reindexAll(env);
        assertSameDocs(
          handedOver,
          await dumpAll(env.client, env.names),
          'hand-over left a gap or a stale document',
        );
      } finally {
        writing = false;
        controller.abort();
        await running.catch(() => {});
        await projector.close();
      }
    });
  });
});
