import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PartitionDone, partitionedRebuildStatus } from '../../projectors/rebuild/partitions.ts';
import type { ReindexReport } from '../../projectors/rebuild/reindex.ts';
import { runCli } from '../support/cli.ts';
import { assertSameDocs, dumpAll, startEsProxy, withProjectorEnv } from '../support/projectors.ts';
import { sizedLog } from '../support/projectorsEvents.ts';

const ARTICLES = 3000;

test('reindex all --partitions 2 with a worker killed (kill -9) mid-partition: taken over, same documents as --partitions 1', async () => {
  await withProjectorEnv(async (env) => {
    await env.append(sizedLog(ARTICLES, 21));
    const cliEnv = {
      PRESSLOG_NAMESPACE: env.config.namespace,
      PRESSLOG_BLOB_DIR: env.config.blobDir,
      PRESSLOG_LOG_LEVEL: 'warn',
    };
    const args = ['--json', 'reindex', 'all', '--no-progress', '--lease-ttl', '3000', '--keep', '0'];

    const one = await runCli([...args, '--partitions', '1'], cliEnv);
    assert.equal(one.code, 0, one.stderr);
    const first = JSON.parse(one.stdout) as ReindexReport;
    assert.equal(first.partitioned?.partitions.length, 1);
    const expected = await dumpAll(env.client, env.names);
    const articleDocs = [...expected.keys()].filter((k) => k.startsWith('articles/')).length;
    // A few are retracted.
    assert.ok(articleDocs > ARTICLES * 0.8 && articleDocs < ARTICLES, `${articleDocs} articles`);

    // The partitioned run, with small batches so a partition takes a while to write.
    // A longer lease here: `status` runs while the victim is frozen, its claim still held.
    const running = runCli([...args, '--partitions', '2', '--batch', '50', '--lease-ttl', '10000'], cliEnv);
    let statusText = '';
    let killed: { pid: number; partition: number } | undefined;
    let ended = false;
    void running.finally(() => {
      ended = true;
    });
    while (!killed && !ended) {
      const status = await partitionedRebuildStatus(env.leaseBucket);
      const busy = status?.partitions.find((p) => p.claimedBy?.detail && !p.done);
      if (busy?.claimedBy && busy.claimedBy.pid !== undefined) {
        const { pid } = busy.claimedBy;
        // Frozen first, so it cannot finish between the check and the kill.
        process.kill(pid, 'SIGSTOP');
        const again = await partitionedRebuildStatus(env.leaseBucket);
        if (again?.partitions[busy.partition]?.done) {
          process.kill(pid, 'SIGCONT');
        } else {
          const status = await runCli(['status'], cliEnv);
          assert.equal(status.code, 0, status.stderr);
          statusText = status.stdout;
          process.kill(pid, 'SIGKILL');
          killed = { pid, partition: busy.partition };
        }
      }
      await sleep(20);
    }
    const two = await running;
    assert.ok(killed, 'a worker was killed while its partition was open');
    // `status` showed the rebuild's partitions, the frozen worker's as claimed (or open once its claim ran out).
    assert.match(statusText, /partitioned rebuild \w+: 2 partitions/);
    const row = statusText.split('\n').find((line) => line.trim().startsWith(`${killed.partition} `));
    assert.ok(row && (row.includes(`pid ${killed.pid}@`) || row.includes('open')), statusText);
    assert.ok(!row.includes('done'), row);
    assert.equal(two.code, 0, two.stderr);
    const report = JSON.parse(two.stdout) as ReindexReport;
    const parts = report.partitioned!.partitions;
    assert.equal(parts.length, 2);
    const takenOver = parts.find((p) => p.partition === killed!.partition) as PartitionDone;
    assert.ok(
      takenOver.attempt >= 2,
      `partition ${killed.partition} was claimed again (${takenOver.attempt})`,
    );
    assert.notEqual(takenOver.pid, killed.pid, 'finished by another worker');
    assert.equal(
      parts.reduce((n, p) => n + p.articles, 0),
      articleDocs,
    );

    const rebuilt = await dumpAll(env.client, env.names);
    assertSameDocs(rebuilt, expected, '--partitions 2 (one worker killed) differs from --partitions 1');
    for (const index of report.indexes) {
      const before = first.indexes.find((i) => i.projection === index.projection)!;
      assert.equal(index.verification.actualChecksum, before.verification.actualChecksum, index.projection);
      assert.equal(index.verification.actualDocs, before.verification.actualDocs, index.projection);
    }
    // Nothing of the partitioned rebuild is left in the lease bucket.
    assert.equal(await partitionedRebuildStatus(env.leaseBucket), undefined);
  });
});

test('reindex --partitions 2 behind Elasticsearch refusing items: 429s are retried (same documents); a document refused for good fails the rebuild, alias untouched', async () => {
  await withProjectorEnv(async (env) => {
    await env.append(sizedLog(600, 5));
    const proxy = await startEsProxy();
    try {
      const direct = {
        PRESSLOG_NAMESPACE: env.config.namespace,
        PRESSLOG_BLOB_DIR: env.config.blobDir,
        PRESSLOG_LOG_LEVEL: 'warn',
      };
      const proxied = { ...direct, ELASTICSEARCH_URL: proxy.url };
      const args = ['--json', 'reindex', 'all', '--no-progress', '--lease-ttl', '3000', '--keep', '1'];
      const one = await runCli([...args, '--partitions', '1'], direct);
      assert.equal(one.code, 0, one.stderr);
      const expected = await dumpAll(env.client, env.names);

      // Every third item of a bulk request answered 429 once: retried, nothing missing.
      proxy.setMode('reject-some-bulk-items');
      const retried = await runCli([...args, '--partitions', '2', '--batch', '100'], proxied);
      assert.equal(retried.code, 0, retried.stderr);
      assert.ok(proxy.rejectedItems > 100, `${proxy.rejectedItems} items rejected`);
      assertSameDocs(await dumpAll(env.client, env.names), expected, 'rebuilt through 429s');

      // One article refused for good: its partition is written twice, then the rebuild fails.
      const alias = env.names.alias('articles');
      const before = Object.keys(await env.client.indices.getAlias({ name: alias }));
      const victim = [...expected.keys()].find((k) => k.startsWith('articles/'))!.slice('articles/'.length);
      proxy.setMode('refuse-doc-for-good');
      proxy.refuse(victim);
      const failed = await runCli([...args, '--partitions', '2'], proxied);
      assert.equal(failed.code, 1, failed.stdout);
      assert.match(
        failed.stderr,
        /partition \d+ incomplete after 2 writes: the index holds \d+ of the partition's \d+ article documents/,
      );
      assert.deepEqual(
        Object.keys(await env.client.indices.getAlias({ name: alias })),
        before,
        'alias untouched',
      );
      assertSameDocs(
        await dumpAll(env.client, env.names),
        expected,
        'the live indexes after the failed rebuild',
      );
      assert.equal(
        await partitionedRebuildStatus(env.leaseBucket),
        undefined,
        'nothing of the failed rebuild left',
      );
    } finally {
      await proxy.stop();
    }
  });
});
