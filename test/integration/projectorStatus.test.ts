import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import type { LeaseValue } from '../../projectors/lease.ts';
import { projectionStatus } from '../../projectors/status.ts';
import { runCli } from '../support/cli.ts';
import { eventually } from '../support/env.ts';
import { projectOnce, withProjectorEnv } from '../support/projectors.ts';
import { makeEvent } from '../support/projectorsEvents.ts';

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

describe('status', () => {
  test('a lease whose holder on this host was killed is reported stale, with its expiry', async () => {
    await withProjectorEnv(async (env) => {
      const pid = await deadPid();
      const now = Date.now();
      // What a `reindex` killed with SIGKILL leaves: its lease, unreleased, until it expires.
      const stale: LeaseValue = {
        owner: `${hostname()}:${pid}:1:abcdef`,
        host: hostname(),
        pid,
        purpose: 'reindex of articles',
        acquiredAt: new Date(now - 1000).toISOString(),
        expiresAt: new Date(now + 30_000).toISOString(),
      };
      await env.leaseBucket.put('reindex.articles', JSON.stringify(stale));
      // A holder that runs (this process) is not stale.
      await env.leaseBucket.put(
        'project.articles',
        JSON.stringify({ ...stale, owner: 'me', pid: process.pid, purpose: 'live projector of articles' }),
      );
      const report = await projectionStatus({ ...env.common(), projections: ['articles'] });
      const status = report.projections[0]!;
      assert.equal(status.reindexing?.alive, false);
      assert.equal(status.reindexing?.expiresAt, stale.expiresAt);
      assert.equal(status.live?.alive, true);

      const run = await runCli(['status'], {
        PRESSLOG_NAMESPACE: env.config.namespace,
        PRESSLOG_LOG_LEVEL: 'warn',
      });
      assert.equal(run.code, 0, run.stderr);
      const expires = run.stdout.match(
        new RegExp(`reindex: stale lease \\(pid ${pid} not running\\), expires in (\\d+) s`),
      );
      assert.ok(expires, run.stdout);
      assert.ok(Number(expires[1]) <= 30 && Number(expires[1]) >= 30 - run.ms / 1000 - 1, expires[0]);
      assert.match(run.stdout, new RegExp(`live: pid ${process.pid}@`));
    });
  });

  test('LAG is how long the projection has been behind the head, not the gap between two events', async () => {
    await withProjectorEnv(async (env) => {
      await env.append([makeEvent('BylineRegistered', 'lag-1', { name: 'One' })]);
      await projectOnce(env, { projections: ['bylines'] });
      const lagOf = async () => {
        const report = await projectionStatus({ ...env.common(), projections: ['bylines'] });
        return report.projections[0]!;
      };
      assert.equal((await lagOf()).lagSeconds, 0, 'caught up: no lag');
      const projectedAt = (await env.log.head()).lastTime!.getTime();
      // Let the checkpoint's event grow old, then fall behind: the lag starts now, not then.
      await eventually(() => Date.now() - projectedAt > 2500, { timeout: 5000, interval: 100 });
      await env.append([makeEvent('BylineUpdated', 'lag-1', { name: 'Two' })]);
      const behindFrom = (await env.log.head()).lastTime!.getTime();
      await env.append([makeEvent('BylineUpdated', 'lag-1', { name: 'Three' })]);
      const first = await lagOf();
      const checkedAt = Date.now();
      assert.equal(first.lagEvents, 2);
      assert.ok(
        first.lagSeconds! <= (checkedAt - behindFrom) / 1000 + 0.05 && first.lagSeconds! < 2,
        `just fell behind: ${first.lagSeconds} s`,
      );
      // And it grows while nothing projects.
      await eventually(async () => assert.ok((await lagOf()).lagSeconds! >= 1.5), { timeout: 5000 });
      await projectOnce(env, { projections: ['bylines'] });
      assert.equal((await lagOf()).lagSeconds, 0);
    });
  });
});
