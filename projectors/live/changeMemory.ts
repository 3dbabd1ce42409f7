import type { ProjectionName } from '../../schemas/names.ts';
import type { Changes } from '../state/projectionState.ts';

/** Memory of which documents recent events changed, for hand-overs. */
export interface ChangeMemory {
  /** Note the documents an event changed (part of the batch being built). */
  record(seq: number, changes: Changes): void;
  /** The batch was flushed: keep it as one entry, forgetting the oldest beyond capacity. */
  close(): void;
  /** Documents of `projection` changed by events after `seq`, or undefined when memory does not reach back that far. */
  since(projection: ProjectionName, seq: number): Set<string> | undefined;
  /** Forget everything (the state is rebuilt from the start of the log). */
  reset(): void;
}

/**
 * Remember which documents the last events changed, about `capacity` ids in all, one entry
 * per flushed batch. A hand-over to an index whose checkpoint is behind the projector
 * rewrites just those documents instead of rebuilding the state from the log.
 */
export function createChangeMemory(capacity: number): ChangeMemory {
  type Entry = { toSeq: number; ids: Record<ProjectionName, Set<string>> };
  const sizeOf = (entry: Entry) => entry.ids.articles.size + entry.ids.images.size + entry.ids.bylines.size;
  const entries: Entry[] = [];
  let size = 0;
  /** Everything after this sequence is remembered. */
  let coveredFrom = 0;
  let current: Entry | undefined;
  return {
    record(seq: number, changes: Changes) {
      current ??= { toSeq: seq, ids: { articles: new Set(), images: new Set(), bylines: new Set() } };
      current.toSeq = seq;
      for (const id of changes.articles) current.ids.articles.add(id);
      for (const id of changes.images) current.ids.images.add(id);
      for (const id of changes.bylines) current.ids.bylines.add(id);
    },
    close() {
      if (!current) return;
      entries.push(current);
      size += sizeOf(current);
      current = undefined;
      while (size > capacity && entries.length > 1) {
        const dropped = entries.shift()!;
        size -= sizeOf(dropped);
        coveredFrom = dropped.toSeq;
      }
    },
    since(projection: ProjectionName, seq: number): Set<string> | undefined {
      if (seq < coveredFrom) return undefined;
      const out = new Set<string>();
      for (const entry of entries) if (entry.toSeq > seq) for (const id of entry.ids[projection]) out.add(id);
      return out;
    },
    reset() {
      entries.length = 0;
      size = 0;
      coveredFrom = 0;
      current = undefined;
    },
  };
}
