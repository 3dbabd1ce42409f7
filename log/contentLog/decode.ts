import { type DecodeOptions, decodeMessage, type MessageMeta } from '../codec.ts';
import type { ReplayItem } from '../types.ts';
import type { LogContext } from './context.ts';

/**
 * Decode a stored message with the log's key ring: synchronous while the item's keys are
 * cached (the common case in a replay, where an item's events share its key), otherwise
 * the keys are loaded from the keys bucket and the message decoded again.
 */
export function decodeStored(
  ctx: LogContext,
  data: Uint8Array,
  meta: MessageMeta,
  options: Omit<DecodeOptions, 'keys'> = {},
): ReplayItem | Promise<ReplayItem> {
  const { keys } = ctx;
  const decodeOptions = keys ? { ...options, keys } : options;
  const item = decodeMessage(ctx.names, data, meta, decodeOptions);
  if (item.kind !== 'unreadable' || !item.unreadable.keyMiss || !keys) return item;
  const { entityType, entityId, pack } = item.unreadable.keyMiss;
  return keys.load(entityType, entityId, pack).then(() => {
    const again = decodeMessage(ctx.names, data, meta, decodeOptions);
    if (again.kind === 'unreadable' && again.unreadable.keyMiss) {
      // A generation newer than the keys bucket knows: not something a reload fixes.
      const { keyMiss: _miss, ...unreadable } = again.unreadable;
      return {
        kind: 'unreadable',
        unreadable: { ...unreadable, reason: `no key for this generation of ${entityType} ${entityId}` },
      };
    }
    return again;
  });
}
