import { backoffMs, sleep } from '../../log/async.ts';
import { positionOf } from '../../log/codec.ts';
import type { ReplayItem, UnreadableEvent } from '../../log/types.ts';
import { PresslogError, TransientError } from '../../schemas/errors.ts';
import type { LiveContext } from './context.ts';
import { flush, reportProgress } from './flush.ts';
import { aliasCheckDue, followAliases } from './handover.ts';
import { noteError, writeHealth } from './health.ts';
import { saveStateIfDue } from './snapshot.ts';
import { ProjectorStalledError } from './watchdog.ts';

/**
 * Tail the log until stopped (the context's signal) or, with `untilCaughtUp`, until at
 * its head. Each pass reads to the head and commits, then follows moved aliases or waits
 * for the next event. While the log cannot be read, passes are retried with backoff.
 */
export async function tailLog(ctx: LiveContext, untilCaughtUp: boolean): Promise<void> {
  while (!ctx.signal.aborted) {
    try {
      if (!(await pass(ctx, untilCaughtUp))) break;
    } catch (err) {
      if (ctx.signal.aborted) break;
      if (!(err instanceof TransientError)) throw err;
      noteError(ctx, err.message);
      await writeHealth(ctx, 'retrying');
      ctx.logger?.warn({ err, position: ctx.position }, 'the log is unavailable; retrying');
      try {
        await sleep(backoffMs(3, 200, 5000), ctx.signal);
      } catch (sleepErr) {
        // Aborted: stopping or a lost lease, which `finishRun` tells apart. Nothing else is expected.
        if (ctx.signal.aborted) break;
        throw sleepErr;
      }
    }
  }
}

/**
 * Stopping: finish what is in flight so the checkpoint is as far as it can be; on a stop
 * on request, save the state for the next start (still holding the leases). A stall
 * (see watchdog.ts) and a lost lease are failures: another projector may be writing already.
 */
export async function finishRun(ctx: LiveContext): Promise<void> {
  // A failed write only keeps the checkpoint where it is; the next start redoes the rest.
  if (!ctx.signal.aborted || ctx.stopping.aborted) await ctx.pipeline.drain().catch(() => {});
  if (ctx.signal.reason instanceof ProjectorStalledError) throw ctx.signal.reason;
  if (ctx.leases.some((l) => l.lost.aborted)) {
    throw new PresslogError(`lost the projector lease: another projector may have taken over`);
  }
  if (ctx.stopping.aborted) await saveStateIfDue(ctx, true);
}

/** One pass; returns false when the run is done. */
async function pass(ctx: LiveContext, untilCaughtUp: boolean): Promise<boolean> {
  await readToHead(ctx);
  await commitCaughtUp(ctx);
  if (untilCaughtUp) return false;
  if (aliasCheckDue(ctx)) {
    await followAliases(ctx);
    return true;
  }
  await waitForEvents(ctx);
  return true;
}

/** Apply every event after the position; flush batches bounded by size and age. */
async function readToHead(ctx: LiveContext): Promise<void> {
  const { batchDocs, batchDelayMs } = ctx.settings;
  for await (const item of ctx.options.log.replay({ fromSeq: ctx.position + 1, signal: ctx.signal })) {
    apply(ctx, item);
    if (ctx.batchStarted === 0 && (ctx.engine.queued > 0 || ctx.pendingDead.length > 0))
      ctx.batchStarted = Date.now();
    if (
      ctx.engine.queued >= batchDocs ||
      (ctx.batchStarted > 0 && Date.now() - ctx.batchStarted >= batchDelayMs)
    ) {
      await flush(ctx, false);
    }
  }
}

/** Apply one item of the log; writes are queued only for indexes that lack it. */
function apply(ctx: LiveContext, item: ReplayItem): void {
  const { seq, time } = positionOf(item);
  if (item.kind === 'erased') {
    // Content gone for good: nothing to project (the erasure record itself is an event).
    ctx.positionTime = time;
  } else if (item.kind === 'event') {
    const changes = ctx.engine.apply(seq, item.stored.event, (p) => {
      const target = ctx.targets.get(p);
      return target !== undefined && seq > target.skipThrough;
    });
    ctx.memory.record(seq, changes);
    ctx.positionTime = item.stored.time;
    ctx.totals.events++;
  } else {
    ctx.totals.unreadable++;
    ctx.positionTime = item.unreadable.time;
    queueUnreadable(ctx, item.unreadable);
  }
  ctx.position = seq;
  ctx.totals.position = seq;
}

/** An unreadable event becomes a dead letter of every projection whose index lacks it. */
function queueUnreadable(ctx: LiveContext, unreadable: UnreadableEvent): void {
  for (const [projection, target] of ctx.targets) {
    if (unreadable.seq <= target.skipThrough) continue;
    ctx.pendingDead.push({
      kind: 'unreadable',
      projection,
      index: target.index,
      seq: unreadable.seq,
      subject: unreadable.subject,
      reason: unreadable.reason,
      problems: unreadable.problems,
      at: new Date().toISOString(),
    });
  }
}

/** At the head: write and commit everything, make it visible, clear a past error, save the state when due. */
async function commitCaughtUp(ctx: LiveContext): Promise<void> {
  await flush(ctx, true);
  await ctx.pipeline.drain();
  if (!ctx.caughtUp) {
    ctx.caughtUp = true;
    ctx.logger?.info({ position: ctx.position, events: ctx.totals.events }, 'caught up with the log');
    ctx.options.onCaughtUp?.(ctx.position);
    // Events applied to the state without a write (all in the index already) are reported too.
    reportProgress(ctx);
  }
  if (ctx.lastError) {
    ctx.lastError = undefined;
    await writeHealth(ctx, 'running');
  }
  await saveStateIfDue(ctx);
}

/** Caught up: poll the head until there is something new or the aliases are due a look. */
async function waitForEvents(ctx: LiveContext): Promise<void> {
  for (;;) {
    ctx.signal.throwIfAborted();
    if (aliasCheckDue(ctx)) return;
    const head = await ctx.options.log.head();
    if (head.lastSeq > ctx.position) return;
    await sleep(ctx.settings.idlePollMs, ctx.signal);
  }
}
