import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs, readUntil, retrying, runEvery, sleep, throwFailures } from '../../log/async.ts';
import { TransientError } from '../../schemas/errors.ts';

describe('sleep', () => {
  it('resolves after the time', async () => {
    const started = Date.now();
    await sleep(30);
    assert.ok(Date.now() - started >= 25);
  });

  it('rejects with the signal reason, at once when already aborted and when aborted while waiting', async () => {
    const reason = new Error('lease lost');
    await assert.rejects(sleep(10_000, AbortSignal.abort(reason)), (err) => err === reason);
    const controller = new AbortController();
    const started = Date.now();
    const waiting = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(waiting, (err) => err === reason);
    assert.ok(Date.now() - started < 5_000);
  });
});

describe('retrying', () => {
  it('retries what the predicate allows until it succeeds, and throws anything else at once', async () => {
    let calls = 0;
    const value = await retrying(
      async () => {
        if (++calls < 3) throw new TransientError('not yet');
        return 'done';
      },
      { initialMs: 1, maxMs: 2, retryable: (err) => err instanceof TransientError },
    );
    assert.equal(value, 'done');
    assert.equal(calls, 3);

    calls = 0;
    await assert.rejects(
      retrying(
        async () => {
          calls++;
          throw new TypeError('a bug');
        },
        { initialMs: 1, retryable: (err) => err instanceof TransientError },
      ),
      TypeError,
    );
    assert.equal(calls, 1);
  });

  it('gives up at the deadline with the last error', async () => {
    await assert.rejects(
      retrying(
        async () => {
          throw new TransientError('down');
        },
        { initialMs: 20, maxMs: 20, deadlineMs: 50, retryable: () => true },
      ),
      /down/,
    );
  });
});

describe('backoffMs', () => {
  it('grows exponentially with jitter and stays within its cap', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const ceiling = Math.min(1000, 10 * 2 ** attempt);
      const wait = backoffMs(attempt, 10, 1000);
      assert.ok(wait >= ceiling / 2 && wait <= ceiling, `attempt ${attempt}: ${wait}`);
    }
  });
});

describe('runEvery and throwFailures', () => {
  it('runEvery runs every step after a failure and returns the failures in order', async () => {
    const ran: number[] = [];
    const failures = await runEvery([
      () => ran.push(1),
      () => {
        throw new Error('two');
      },
      async () => {
        ran.push(3);
        throw new Error('three');
      },
      () => ran.push(4),
    ]);
    assert.deepEqual(ran, [1, 3, 4]);
    assert.deepEqual(
      failures.map((f) => (f as Error).message),
      ['two', 'three'],
    );
    assert.doesNotThrow(() => throwFailures([], 'x'));
    const one = new Error('one');
    assert.throws(
      () => throwFailures([one], 'x'),
      (err) => err === one,
    );
    assert.throws(
      () => throwFailures(failures, 'closing failed'),
      (err) => err instanceof AggregateError && err.errors.length === 2 && err.message === 'closing failed',
    );
  });
});

/**
 * Messages at the given delays (ms, each after the previous), then a stall; close() ends
 * a pending read, as a NATS consumer's does.
 */
function source(delays: readonly number[]) {
  let closed = false;
  let wake: (() => void) | undefined;
  const iterable = {
    closes: 0,
    close() {
      iterable.closes++;
      closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (const [i, ms] of delays.entries()) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, ms);
        });
        if (closed) return;
        yield i;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    },
  };
  return iterable;
}

describe('readUntil', () => {
  it('stops at the message the caller waits for, without closing', async () => {
    const seen: number[] = [];
    const messages = source([1, 1, 1, 1]);
    assert.equal(
      await readUntil(messages, 1_000, (m) => {
        seen.push(m);
        return m === 2;
      }),
      true,
    );
    assert.deepEqual(seen, [0, 1, 2]);
    assert.equal(messages.closes, 0);
  });

  it('gives up when nothing comes for the idle time, and closes the source', async () => {
    const seen: number[] = [];
    const messages = source([1, 1]);
    const started = Date.now();
    assert.equal(
      await readUntil(messages, 100, (m) => {
        seen.push(m);
        return false;
      }),
      false,
    );
    assert.deepEqual(seen, [0, 1]);
    assert.equal(messages.closes, 1);
    assert.ok(Date.now() - started < 2_000);
  });

  it('a slow but steady source is read to the end: the idle time counts from the last message', async () => {
    const seen: number[] = [];
    const messages = source([50, 50, 50, 50, 50]);
    assert.equal(
      await readUntil(messages, 150, (m) => {
        seen.push(m);
        return m === 4;
      }),
      true,
    );
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  });
});
