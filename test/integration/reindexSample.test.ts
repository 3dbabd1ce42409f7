import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { withNamespace } from '../support/env.ts';

test('`presslog reindex all` on the SOTU sample swaps the aliases with zero failed searches', async () => {
  await withNamespace(async (ns) => {
    const env = {
      PRESSLOG_NAMESPACE: ns.config.namespace,
      PRESSLOG_BLOB_DIR: ns.config.blobDir,
      PRESSLOG_LOG_LEVEL: 'warn',
    };
    const dir = await mkdtemp(join(tmpdir(), 'presslog-sample-'));
    try {
      for (const args of [
        ['init'],
        ['sample', '--out', dir],
        ['ingest', dir, '--no-progress'],
        ['project', '--once'],
      ]) {
        const run = await runCli(args, env);
        assert.equal(run.code, 0, `presslog ${args.join(' ')}: ${run.stderr}`);
      }
      const es = ns.es();
      const alias = ns.names.alias('articles');
      const before = Object.keys(await es.indices.getAlias({ name: alias }));
      const total = (await es.count({ index: alias })).count;
      assert.ok(total > 200, `${total} speeches`);

      let searching = true;
      let searches = 0;
      const failures: string[] = [];
      const loop = (async () => {
        while (searching) {
          for (const index of [alias, ns.names.alias('bylines')]) {
            try {
              const response = await es.search({
                index,
                // Articles by words of the speeches, bylines all (their names share no words).
                query:
                  index === alias
                    ? { multi_match: { query: 'union congress', fields: ['headline', 'body'] } }
                    : { match_all: {} },
                size: 1,
              });
              searches++;
              const hits =
                typeof response.hits.total === 'number' ? response.hits.total : response.hits.total?.value;
              if (!hits) failures.push(`${index}: no hits`);
            } catch (err) {
              failures.push(`${index}: ${(err as Error).message}`);
            }
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const reindex = await runCli(['--json', 'reindex', 'all', '--no-progress'], env);
      searching = false;
      await loop;
      assert.equal(reindex.code, 0, reindex.stderr);
      const report = JSON.parse(reindex.stdout) as {
        indexes: { projection: string; index: string; previous: string[] }[];
      };
      const articles = report.indexes.find((r) => r.projection === 'articles')!;
      assert.deepEqual(articles.previous, before);
      assert.deepEqual(Object.keys(await es.indices.getAlias({ name: alias })), [articles.index]);
      assert.equal((await es.count({ index: alias })).count, total);
      assert.ok(searches > 20, `${searches} searches during the reindex`);
      assert.deepEqual(failures, []);

      const status = await runCli(['--json', 'status'], env);
      assert.equal(status.code, 0, status.stderr);
      const parsed = JSON.parse(status.stdout) as {
        projections: { projection: string; index: string; lagEvents: number }[];
      };
      assert.equal(parsed.projections.find((p) => p.projection === 'articles')!.index, articles.index);
      assert.equal(parsed.projections.find((p) => p.projection === 'articles')!.lagEvents, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
