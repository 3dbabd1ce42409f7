import { EVENT_TYPES } from '../schemas/catalog.ts';
import { ENTITY_TYPES, type EntityType } from '../schemas/names.ts';
import { positionOf } from './codec.ts';
import type { ContentLog, LogHead, ReplayItem } from './types.ts';

/** What `presslog stats` reports about the log. */
export interface LogStats {
  stream: { messages: number; bytes: number; firstSeq: number; lastSeq: number; subjects?: number };
  /** Server time of the first and last event read. */
  firstTime?: string;
  lastTime?: string;
  /** Every catalogue type, zero included, so a rare one such as ImageProcessingFailed is always visible. */
  byType: Record<string, { events: number; storedVersions: Record<string, number> }>;
  byEntityType: Record<EntityType, number>;
  unreadable: number;
  /** Messages of erased items (or redacted generations): only their envelope is left. */
  erased: number;
  /** Messages read by the scan (stats are exact up to `stream.lastSeq` at the start). */
  scanned: number;
}

/** Counts replayed items into a {@link LogStats}; pure, so the CLI and tests share it. */
export function createStatsAccumulator(head: LogHead) {
  const byType: LogStats['byType'] = {};
  for (const type of EVENT_TYPES) byType[type] = { events: 0, storedVersions: {} };
  const byEntityType = Object.fromEntries(ENTITY_TYPES.map((t) => [t, 0])) as Record<EntityType, number>;
  let unreadable = 0;
  let erased = 0;
  let scanned = 0;
  let first: Date | undefined;
  let last: Date | undefined;
  return {
    add(item: ReplayItem): void {
      scanned++;
      const { time } = positionOf(item);
      first ??= time;
      last = time;
      if (item.kind === 'unreadable') {
        unreadable++;
        return;
      }
      if (item.kind === 'erased') {
        erased++;
        return;
      }
      const { event, storedVersion } = item.stored;
      byType[event.type] ??= { events: 0, storedVersions: {} };
      const entry = byType[event.type]!;
      entry.events++;
      entry.storedVersions[storedVersion] = (entry.storedVersions[storedVersion] ?? 0) + 1;
      byEntityType[event.entityType]++;
    },
    result(): LogStats {
      return {
        stream: {
          messages: head.messages,
          bytes: head.bytes,
          firstSeq: head.firstSeq,
          lastSeq: head.lastSeq,
          ...(head.subjects !== undefined ? { subjects: head.subjects } : {}),
        },
        firstTime: first?.toISOString(),
        lastTime: last?.toISOString(),
        byType,
        byEntityType,
        unreadable,
        erased,
        scanned,
      };
    },
  };
}

/** Scan the whole log once (a replay) and count its events. */
export async function collectStats(
  log: ContentLog,
  options: { signal?: AbortSignal } = {},
): Promise<LogStats> {
  const head = await log.head();
  const stats = createStatsAccumulator(head);
  for await (const item of log.replay({ untilSeq: head.lastSeq, signal: options.signal })) stats.add(item);
  return stats.result();
}
