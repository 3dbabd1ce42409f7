import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBlobStore } from '../../log/blobStore.ts';
import { createProjector } from '../../projectors/live/projector.ts';
import { createAlertMatcher } from '../../search/alertMatcher.ts';
import { type AlertMatch, alertSubject, createSavedSearches } from '../../search/savedSearches.ts';
import { createSearcher } from '../../search/searcher.ts';
import { buildServer } from '../../search/server.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { eventually } from '../support/env.ts';
import { type ProjectorEnv, reindexAll, withProjectorEnv } from '../support/projectors.ts';
import { articleFields, makeEvent } from '../support/projectorsEvents.ts';

/** The live projector with the alert hook, in the background until `stop()`. */
function liveWithAlerts(env: ProjectorEnv) {
  const searches = createSavedSearches({ nc: env.nc, names: env.names });
  const matcher = createAlertMatcher({ es: env.client, nc: env.nc, names: env.names, searches });
  const controller = new AbortController();
  let caughtUp = false;
  const projector = createProjector({
    ...env.common(),
    projections: ['articles', 'images', 'bylines'],
    leaseTtlMs: 3000,
    idlePollMs: 20,
    batchDelayMs: 20,
    onCaughtUp: () => (caughtUp = true),
    onArticlesVisible: (ids) => matcher.match(ids),
  });
  const running = projector.run({ signal: controller.signal, wait: true });
  return {
    caughtUp: () => caughtUp,
    async stop() {
      controller.abort();
      await running.catch(() => {});
      await projector.close();
      await matcher.close();
    },
  };
}

test('alerts: a new matching article fires exactly once; non-matching, fan-out and reindex fire none', async () => {
  await withProjectorEnv(async (env) => {
    // Old content: it matches the saved search, but was there before the search was saved.
    await env.append([
      makeEvent('BylineRegistered', 'b1', { name: 'Ada Lovelace' }),
      makeEvent(
        'ArticlePublished',
        'old',
        articleFields({ headline: 'Budget deficit of 1899', bylineIds: ['b1'] }),
      ),
    ]);
    const searches = createSavedSearches({ nc: env.nc, names: env.names });
    const head = await env.log.head();
    await searches.add('budget', { q: 'budget deficits' }, head.lastSeq);
    await searches.add('harbour-politics', { q: 'harbour', section: 'politics' }, head.lastSeq);

    const received: AlertMatch[] = [];
    const sub = env.nc.subscribe(alertSubject(env.names, 'budget'));
    (async () => {
      for await (const msg of sub) received.push(msg.json<AlertMatch>());
    })();
    const other = env.nc.subscribe(alertSubject(env.names, 'harbour-politics'));
    let otherCount = 0;
    (async () => {
      for await (const _ of other) otherCount++;
    })();

    const live = liveWithAlerts(env);
    try {
      // Start-up is not what this test checks, and it is slow on a loaded shared node:
      // creating the three first indexes took ~20 s there (cluster-state updates queue
      // behind other tenants'), and the 3 s lease's watchdog then pauses the projector.
      await eventually(() => live.caughtUp(), { timeout: 120_000 });
      await env.append([
        makeEvent('ArticlePublished', 'new-budget', articleFields({ headline: 'The budget deficit widens' })),
        makeEvent('ArticlePublished', 'new-harvest', articleFields({ headline: 'A fine harvest festival' })),
        // Harbour news, but not in politics: the filter of the other saved search excludes it.
        makeEvent(
          'ArticlePublished',
          'new-harbour',
          articleFields({ headline: 'Harbour news', section: 'sport' }),
        ),
        // A fan-out: the old article is re-rendered with the new name; its own event is old.
        makeEvent('BylineUpdated', 'b1', { name: 'Augusta Ada King' }),
      ]);
      await eventually(async () => (await searches.recent('budget')).length === 1, { timeout: 60_000 });
      await eventually(() => received.length === 1, { timeout: 10_000 });
      // Give any wrong extra announcement the time to arrive.
      await sleep(1500);
      assert.deepEqual(
        received.map((m) => m.articleId),
        ['new-budget'],
      );
      assert.equal(received[0]!.headline, 'The budget deficit widens');
      assert.equal(otherCount, 0);
      assert.deepEqual(await searches.recent('harbour-politics'), []);
    } finally {
      await live.stop();
    }

    // A reindex (replay of the whole log into new indexes), then live again: nothing new fires.
    await reindexAll(env);
    const again = liveWithAlerts(env);
    try {
      await eventually(() => again.caughtUp(), { timeout: 120_000 });
      await sleep(1500);
    } finally {
      await again.stop();
    }
    assert.equal(received.length, 1);
    assert.equal((await searches.recent('budget')).length, 1);

    // GET /api/alerts/:name: the saved search and its recent matches; bad names 400, unknown 404.
    const blobDir = await mkdtemp(join(tmpdir(), 'presslog-alerts-'));
    const searcher = createSearcher({ es: env.client, names: env.names });
    const app = buildServer({ searcher, log: env.log, blobs: createBlobStore(blobDir), alerts: searches });
    try {
      const ok = await app.inject({ method: 'GET', url: '/api/alerts/budget' });
      assert.equal(ok.statusCode, 200, ok.body);
      const body = ok.json() as { name: string; params: { q: string }; matches: AlertMatch[] };
      assert.equal(body.params.q, 'budget deficits');
      assert.deepEqual(
        body.matches.map((m) => m.articleId),
        ['new-budget'],
      );
      assert.equal((await app.inject({ method: 'GET', url: '/api/alerts/nope' })).statusCode, 404);
      for (const bad of ['/api/alerts/a%20b', '/api/alerts/..%2F..', `/api/alerts/${'x'.repeat(80)}`]) {
        const answer = await app.inject({ method: 'GET', url: bad });
        assert.equal(answer.statusCode, 400, `${bad}: ${answer.body}`);
      }
      const without = buildServer({ searcher, log: env.log, blobs: createBlobStore(blobDir) });
      assert.equal((await without.inject({ method: 'GET', url: '/api/alerts/budget' })).statusCode, 501);
      await without.close();
    } finally {
      await app.close();
      await searcher.close();
      await rm(blobDir, { recursive: true, force: true });
      sub.unsubscribe();
      other.unsubscribe();
    }
  });
});

test('alerts CLI: add, list, remove; a bad name or query is a usage error (exit 2)', async () => {
  await withProjectorEnv(async (env) => {
    const cli = (...args: string[]) =>
      runCli(['alerts', ...args], { PRESSLOG_NAMESPACE: env.names.namespace, PRESSLOG_LOG_LEVEL: 'warn' });
    const added = await cli('add', 'treaties', 'treaty ratified', '--section', 'politics', '--json');
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).params.section, 'politics');
    const twice = await cli('add', 'treaties', 'other');
    assert.equal(twice.code, 2, twice.stderr);
    assert.match(twice.stderr, /exists/);
    const badName = await cli('add', 'no spaces', 'x');
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /<name>/);
    const badDate = await cli('add', 'dated', 'x', '--from', '1861-02-30');
    assert.equal(badDate.code, 2);
    assert.match(badDate.stderr, /--from/);
    const list = await cli('list', '--json');
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { name: string }[]).map((s) => s.name),
      ['treaties'],
    );
    assert.match((await cli('list')).stdout, /treaties\s+"treaty ratified"\s+section=politics/);
    // tail: the recent matches first (--recent), then each new one as it is published.
    const searches = createSavedSearches({ nc: env.nc, names: env.names });
    const match = (articleId: string): AlertMatch => ({
      alert: 'treaties',
      articleId,
      headline: `Treaty ${articleId}`,
      publishedAt: null,
      seq: 1,
      matchedAt: new Date().toISOString(),
    });
    await searches.record('treaties', [match('earlier')]);
    const tail = spawn(
      process.execPath,
      ['bin/presslog.js', 'alerts', 'tail', 'treaties', '--recent', '--json'],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, PRESSLOG_NAMESPACE: env.names.namespace, PRESSLOG_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let printed = '';
    tail.stdout.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    const exited = new Promise<number | null>((resolve) => tail.on('close', resolve));
    try {
      await eventually(() => printed.includes('"earlier"'), { timeout: 20_000 });
      // Published until the subscription (made before --recent is printed) sees one.
      await eventually(
        () => {
          env.nc.publish(alertSubject(env.names, 'treaties'), JSON.stringify(match('live-one')));
          return printed.includes('"live-one"');
        },
        { timeout: 10_000, interval: 200 },
      );
      assert.ok(printed.indexOf('"earlier"') < printed.indexOf('"live-one"'), printed);
    } finally {
      tail.kill('SIGINT');
    }
    assert.equal(await exited, 0);
    assert.equal((await cli('tail', 'nope')).code, 2);

    assert.equal((await cli('remove', 'treaties')).code, 0);
    assert.equal((await cli('remove', 'treaties')).code, 1);
    assert.match((await cli('list')).stdout, /no saved searches/);
  });
});
