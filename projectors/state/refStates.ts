import type { BylineState, ImageState } from '../../schemas/state.ts';
import { createRecordFile, type RecordFile, type RecordFileOptions } from './storage/recordFile.ts';

/** What the projection state keeps of a byline or image beside its latest state. */
export interface RefEntry {
  readonly id: string;
  /** Its number in the article table's references, and where its state is in its record file. */
  readonly slot: number;
  /**
   * Sequence of the entity's last event (its state's `lastSeq`); 0 while the entity is
   * only known from references to it (a dangling reference) and has no state.
   */
  lastSeq: number;
  /** Sequence of the event that last changed what articles embed of the entity. */
  embedSeq: number;
  /** Sequence of the last article event that changed the entity's article statistics. */
  statsSeq: number;
}

export interface BylineEntry extends RefEntry {
  liveCount: number;
  latestMs: number | undefined;
  /** The article holding `latestMs` left or moved earlier: recompute on next use. */
  latestStale: boolean;
}

export interface ImageEntry extends RefEntry {
  /** Its state says the image was removed. */
  removed: boolean;
}

/**
 * The bylines and images the projection state knows (from their own events or from
 * references to them): an entry each, by id and by slot, and their latest states in two
 * record files, out of the heap (see recordFile.ts).
 */
export interface RefStates {
  readonly bylines: ReadonlyMap<string, BylineEntry>;
  readonly images: ReadonlyMap<string, ImageEntry>;
  /** Entries by slot. */
  readonly bylineAt: readonly BylineEntry[];
  readonly imageAt: readonly ImageEntry[];
  readonly bylineStates: RecordFile<BylineState>;
  readonly imageStates: RecordFile<ImageState>;
  /** The byline's entry, created (with no state) when it was never seen. */
  bylineEntry(id: string): BylineEntry;
  imageEntry(id: string): ImageEntry;
  bylineState(entry: BylineEntry | undefined): BylineState | undefined;
  imageState(entry: ImageEntry | undefined): ImageState | undefined;
  setBylineState(entry: BylineEntry, state: BylineState): void;
  setImageState(entry: ImageEntry, state: ImageState): void;
  /** Close both record files (idempotent). */
  close(): void;
}

/**
 * Byline states are small (a name and a bio: ~150 bytes as JSON in the benchmark's log,
 * against ~1.2 KB for a processed image with its renditions), and an article references
 * one or two of them, so they get a cache four times the images': the 1M benchmark's
 * 10,000 bylines no longer collide in 8,192 places (rendering its first 400,000 articles
 * read 82,261 byline states back from the file, of 221,339 state reads; now none).
 */
export const BYLINE_CACHE_ENTRIES = 32_768;

/**
 * Create the byline and image entries. Without `cacheEntries`, bylines get
 * {@link BYLINE_CACHE_ENTRIES} and images the record file's default (8,192).
 */
export function createRefStates(stateFiles: RecordFileOptions = {}): RefStates {
  const bylineStates = createRecordFile<BylineState>({ cacheEntries: BYLINE_CACHE_ENTRIES, ...stateFiles });
  const imageStates = createRecordFile<ImageState>(stateFiles);
  const bylines = new Map<string, BylineEntry>();
  const images = new Map<string, ImageEntry>();
  const bylineAt: BylineEntry[] = [];
  const imageAt: ImageEntry[] = [];

  return {
    bylines,
    images,
    bylineAt,
    imageAt,
    bylineStates,
    imageStates,
    bylineEntry(id) {
      let entry = bylines.get(id);
      if (!entry) {
        entry = {
          id,
          slot: bylineAt.length,
          lastSeq: 0,
          embedSeq: 0,
          statsSeq: 0,
          liveCount: 0,
          latestMs: undefined,
          latestStale: false,
        };
        bylines.set(id, entry);
        bylineAt.push(entry);
      }
      return entry;
    },
    imageEntry(id) {
      let entry = images.get(id);
      if (!entry) {
        entry = { id, slot: imageAt.length, lastSeq: 0, removed: false, embedSeq: 0, statsSeq: 0 };
        images.set(id, entry);
        imageAt.push(entry);
      }
      return entry;
    },
    bylineState: (entry) => (entry && entry.lastSeq > 0 ? bylineStates.get(entry.slot) : undefined),
    imageState: (entry) => (entry && entry.lastSeq > 0 ? imageStates.get(entry.slot) : undefined),
    setBylineState(entry, state) {
      bylineStates.set(entry.slot, state);
      entry.lastSeq = state.lastSeq;
    },
    setImageState(entry, state) {
      imageStates.set(entry.slot, state);
      entry.lastSeq = state.lastSeq;
      entry.removed = state.removed;
    },
    close() {
      bylineStates.close();
      imageStates.close();
    },
  };
}
