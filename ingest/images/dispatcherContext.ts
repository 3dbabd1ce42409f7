import type { Logger } from 'pino';
import type { ContentLog } from '../../log/types.ts';
import type { CheckpointStore } from './checkpoint.ts';
import type { ImageDispatcherOptions, PendingImage } from './dispatcherTypes.ts';
import type { ImageQueue } from './queue.ts';

/** The dispatcher's settings, defaults applied. */
export interface DispatcherSettings {
  fullScan: boolean;
  retryFailed: boolean;
  pollIntervalMs: number;
  reconcileBatch: number;
  reconcileDelayMs: number;
}

/**
 * What the dispatcher's parts share: its clients and settings, the images it waits on and
 * how far it has read. The functions beside this file take it as their first argument.
 */
export interface DispatcherContext {
  readonly log: ContentLog;
  readonly queue: ImageQueue;
  readonly logger: Logger;
  readonly checkpoint?: CheckpointStore;
  readonly settings: DispatcherSettings;
  /** Images handed to the queue whose outcome is not in the log yet, by image id. */
  readonly tracked: Map<string, PendingImage>;
  /** Log sequence read up to; undefined until the first poll has read the checkpoint. */
  cursor?: number;
  /** The checkpoint as last read or written, so an unchanged one is not written again. */
  savedCheckpoint?: number;
  /** Images handed to the queue since the start (a poll reports the difference). */
  enqueued: number;
}

export function createDispatcherContext(options: ImageDispatcherOptions): DispatcherContext {
  return {
    log: options.log,
    queue: options.queue,
    logger: options.logger.child({ component: 'image-dispatcher' }),
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    settings: {
      fullScan: options.fullScan ?? false,
      retryFailed: options.retryFailed ?? false,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      reconcileBatch: options.reconcileBatch ?? 200,
      reconcileDelayMs: options.reconcileDelayMs ?? 1_000,
    },
    tracked: new Map(),
    enqueued: 0,
  };
}
