import { sleep } from '../../log/async.ts';
import type { DispatchStats, ImageDispatcher } from './dispatcherTypes.ts';

export interface DrainOptions {
  signal?: AbortSignal;
  /** Pause between polls while images are pending (default 250 ms). */
  intervalMs?: number;
  onProgress?: (stats: DispatchStats) => void;
}

export interface DrainStats {
  /** Log sequence read up to. */
  cursor: number;
  enqueued: number;
  recorded: number;
  polls: number;
}

/**
 * Poll until the log has been read to its head and no image waits for an outcome: the
 * loop of `presslog images process`. Workers must be running (in this process or
 * elsewhere), or it waits until the signal aborts.
 */
export async function dispatchUntilDone(
  dispatcher: ImageDispatcher,
  options: DrainOptions = {},
): Promise<DrainStats> {
  const total: DrainStats = { cursor: 0, enqueued: 0, recorded: 0, polls: 0 };
  for (;;) {
    options.signal?.throwIfAborted();
    const stats = await dispatcher.poll(options.signal);
    total.polls++;
    total.cursor = stats.cursor;
    total.enqueued += stats.enqueued;
    total.recorded += stats.recorded;
    options.onProgress?.(stats);
    if (stats.pending === 0) return total;
    await sleep(options.intervalMs ?? 250, options.signal);
  }
}
