import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createProjector, type ProjectorOptions } from '../../projectors/live/projector.ts';
import { projectionStatus } from '../../projectors/status.ts';
import { PROJECTION_NAMES } from '../../schemas/names.ts';
import { eventually } from '../support/env.ts';
import { type ProjectorEnv, projectOnce, withProjectorEnv } from '../support/projectors.ts';
import { randomLog } from '../support/projectorsEvents.ts';

/** A projector of every projection that polls quickly, as the other live tests use. */
function newProjector(env: ProjectorEnv, extra: Partial<ProjectorOptions> = {}) {
  return createProjector({
    ...env.common(),
    projections: PROJECTION_NAMES,
    leaseTtlMs: 3000,
    idlePollMs: 20,
    ...extra,
  });
}

describe('live projector lifecycle', () => {
  test('close() while running ends run() (which resolves), then releases the leases: a successor starts at once', async () => {
    await withProjectorEnv(async (env) => {
      const seq = await env.append(randomLog(60, 3));
      let caughtUp = false;
      const projector = newProjector(env, {
        onCaughtUp: () => {
          caughtUp = true;
        },
      });
      let runEnded = false;
      const running = projector.run().finally(() => {
        runEnded = true;
      });
      try {
        await eventually(() => caughtUp, { timeout: 15_000 });
        // A second projector waiting for the leases is closed too: its wait ends at once.
        const waiting = newProjector(env, { projections: ['articles'] });
        let waited = false;
        const waitingRun = waiting.run({ wait: true, onWait: () => (waited = true) });
        await eventually(() => waited, { timeout: 5000 });
        const started = Date.now();
        await waiting.close();
        await assert.rejects(waitingRun, /closed/);
        assert.ok(Date.now() - started < 2000, `the waiting run ended in ${Date.now() - started} ms`);

        const first = projector.close();
        assert.equal(projector.close(), first, 'every close() returns the same promise');
        await first;
        assert.ok(runEnded, 'close() resolved only after run() had ended');
        const stats = await running;
        assert.equal(stats.position, seq);
        const status = await projectionStatus({ ...env.common(), projections: PROJECTION_NAMES });
        for (const projection of status.projections) {
          assert.equal(projection.live, undefined, `${projection.projection} shows no live projector`);
          assert.equal(projection.health?.state, 'stopped');
          assert.equal(projection.checkpoint?.seq, seq);
        }
      } finally {
        await projector.close();
        await running.catch(() => {});
      }
      // No waiting: a lease still held would refuse this one (LeaseHeldError).
      const next = await projectOnce(env);
      assert.equal(next.indexed, 0, 'nothing left to do after a clean stop');
    });
  });

  test('close() twice, after run() ended: the same promise, no error', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(randomLog(20, 9));
      const projector = newProjector(env);
      const stats = await projector.run({ untilCaughtUp: true });
      assert.equal(stats.position, 20);
      const first = projector.close();
      const second = projector.close();
      assert.equal(first, second);
      await first;
      await second;
      assert.equal(projector.close(), first, 'still the same promise once settled');
      await assert.rejects(projector.run(), /runs once|closed/, 'a closed projector does not run again');
    });
  });

  test('close() before run(): resolves, takes nothing, and run() then refuses to start', async () => {
    await withProjectorEnv(async (env) => {
      await env.append(randomLog(10, 4));
      const projector = newProjector(env);
      await projector.close();
      await projector.close();
      await assert.rejects(projector.run({ untilCaughtUp: true }), /closed/);
      const exists = await env.client.indices.exists({ index: env.names.alias('articles') });
      assert.equal(exists, false, 'no index was created');
      const stats = await projectOnce(env);
      assert.equal(stats.position, 10, 'another projector runs at once');
    });
  });
});
