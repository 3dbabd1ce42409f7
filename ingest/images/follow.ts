import { sleep } from '../../log/async.ts';
import type { DispatcherContext } from './dispatcherContext.ts';
import { pollOnce } from './poll.ts';

/**
 * Follow the log live: poll, then wait `pollIntervalMs`, until the signal aborts. A
 * failed poll is logged and tried again after the pause; the pause ends on the signal.
 */
export async function followLog(ctx: DispatcherContext, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const stats = await pollOnce(ctx, signal);
      if (stats.events > 0 || stats.recorded > 0) ctx.logger.debug(stats, 'dispatcher poll');
    } catch (err) {
      if (signal.aborted) break;
      ctx.logger.error({ err }, 'dispatcher poll failed; retrying');
    }
    await sleep(ctx.settings.pollIntervalMs, signal).catch(() => {});
  }
}
