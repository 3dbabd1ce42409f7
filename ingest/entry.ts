import type { StoredEvent } from '../log/types.ts';
import type { BlobRef } from '../schemas/imageEvents.ts';
import type { EntityType } from '../schemas/names.ts';
import type { EntityState } from '../schemas/state.ts';
import type { InputFile } from './listInputFiles.ts';
import type { Decision } from './mapRecord.ts';
import type { RecordLocation } from './readRecords.ts';
import type { InputRecord } from './records.ts';

/** A validated record on its way through a batch. */
export interface Entry {
  record: InputRecord;
  location: RecordLocation;
  raw: string;
  file?: InputFile;
  original?: BlobRef;
  state?: EntityState;
  /** The state was assumed (log empty at start), not looked up. */
  assumed?: boolean;
  decision?: Decision;
  missingRefs?: string[];
  /** The entity's events, when they had to be read (fold, history check). */
  history?: StoredEvent[];
  /** The entity's last event is its first version (nothing earlier to compare with). */
  singleVersion?: boolean;
}

export type AppendDecision = Extract<Decision, { action: 'append' }>;

/** The key of an entity in the run's sets and maps. */
export const keyOf = (entityType: EntityType, id: string) => `${entityType}:${id}`;

export const entryKey = (entry: Entry) => keyOf(entry.record.kind, entry.record.id);
