import type { Client } from '@elastic/elasticsearch';
import type { KV } from '@nats-io/kv';
import type { Checkpoint } from '../log/checkpoints.ts';
import type { ContentLog } from '../log/types.ts';
import type { Names, ProjectionName } from '../schemas/names.ts';
import type { ProjectionClients } from './clients.ts';
import { aliasTargets, countDocs, type IndexInfo, listProjectionIndexes } from './indexes.ts';
import type { LeaseValue } from './lease.ts';
import { healthKey, type ProjectorHealth, projectLeaseKey } from './live/projector.ts';
import { PROJECTIONS } from './projections.ts';
import { reindexLeaseKey } from './rebuild/rebuildLocks.ts';
import type { SnapshotInfo, StateSnapshotStore } from './state/stateSnapshots.ts';
import type { DeadLetter } from './write/deadLetters.ts';

/** Where one projection stands. */
export interface ProjectionStatus {
  projection: ProjectionName;
  alias: string;
  /** The index the alias points at (undefined before the first projection or reindex). */
  index?: string;
  docs?: number;
  checkpoint?: Checkpoint;
  /** Events in the log after the checkpoint. */
  lagEvents?: number;
  /** Stored time of the newest event minus that of the event at the checkpoint. */
  lagSeconds?: number;
  deadLetters: { count: number; last?: Pick<DeadLetter, 'kind' | 'seq' | 'docId' | 'reason' | 'at'> };
  /** The live projector of this projection, when one holds the lease. */
  live?: { owner: string; host: string; pid: number; since: string; writing?: string };
  /** A reindex in progress. */
  reindexing?: { owner: string; host: string; pid: number; since: string };
  health?: Pick<ProjectorHealth, 'state' | 'lastError' | 'lastErrorAt' | 'updatedAt'>;
  /** False when the index was built by other projection code or mappings than this version's: reindex to apply. */
  current?: boolean;
  /** Other indexes of the projection (kept for rollback, as-of builds, partial builds). */
  otherIndexes: { name: string; state?: string; asOf?: string }[];
}

export interface StatusReport {
  head: { seq: number; time?: string; messages: number };
  projections: ProjectionStatus[];
  /** Saved projection states a live projector starts from (see stateSnapshots.ts). */
  snapshots: SnapshotInfo[];
}

async function lease(kv: KV, key: string): Promise<LeaseValue | undefined> {
  const entry = await kv.get(key).catch(() => null);
  if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
  const value = entry.json<LeaseValue>();
  return Date.parse(value.expiresAt) > Date.now() ? value : undefined;
}

/** Gather the status of the projections: aliases, documents, checkpoints and lag, dead letters, who is running. */
export async function projectionStatus(
  options: Omit<ProjectionClients, 'log'> & {
    log: Pick<ContentLog, 'head'>;
    snapshots?: StateSnapshotStore;
    projections: readonly ProjectionName[];
    signal?: AbortSignal;
  },
): Promise<StatusReport> {
  const { client, checkpoints, names, signal } = options;
  const head = await options.log.head();
  const bucket = await checkpoints.bucket();
  const out: ProjectionStatus[] = [];
  for (const projection of options.projections) {
    const alias = names.alias(projection);
    const [targets, indexes] = await Promise.all([
      aliasTargets(client, alias, signal),
      listProjectionIndexes(client, names, projection, signal),
    ]);
    const index = targets[0];
    const status: ProjectionStatus = {
      projection,
      alias,
      index,
      deadLetters: { count: 0 },
      otherIndexes: indexes
        .filter((info) => info.name !== index)
        .map((info) => ({
          name: info.name,
          state: info.meta?.state,
          ...(info.meta?.asOf ? { asOf: info.meta.asOf } : {}),
        })),
    };
    if (index) {
      const info = indexes.find((i) => i.name === index);
      status.current = builtByCurrentDefinition(projection, info);
      status.docs = await countDocs(client, index, signal);
      status.checkpoint = await checkpoints.get(index);
      const seq = status.checkpoint?.seq ?? 0;
      status.lagEvents = Math.max(0, head.lastSeq - seq);
      status.lagSeconds =
        status.lagEvents === 0
          ? 0
          : status.checkpoint?.time && head.lastTime
            ? Math.max(0, (head.lastTime.getTime() - Date.parse(status.checkpoint.time)) / 1000)
            : head.lastTime && head.firstTime
              ? (head.lastTime.getTime() - head.firstTime.getTime()) / 1000
              : undefined;
      const summary = await options.deadLetters.summary(index, signal);
      status.deadLetters = {
        count: summary.count,
        ...(summary.last
          ? {
              last: {
                kind: summary.last.kind,
                seq: summary.last.seq,
                docId: summary.last.docId,
                reason: summary.last.reason,
                at: summary.last.at,
              },
            }
          : {}),
      };
    }
    const live = await lease(options.leaseBucket, projectLeaseKey(projection));
    if (live) {
      const writing = (live.detail?.indexes as Record<string, string> | undefined)?.[projection];
      status.live = {
        owner: live.owner,
        host: live.host,
        pid: live.pid,
        since: live.acquiredAt,
        ...(writing ? { writing } : {}),
      };
    }
    const rebuilding = await lease(options.leaseBucket, reindexLeaseKey(projection));
    if (rebuilding) {
      status.reindexing = {
        owner: rebuilding.owner,
        host: rebuilding.host,
        pid: rebuilding.pid,
        since: rebuilding.acquiredAt,
      };
    }
    const healthEntry = await bucket.get(healthKey(projection)).catch(() => null);
    if (healthEntry && healthEntry.operation === 'PUT' && healthEntry.length > 0) {
      const health = healthEntry.json<ProjectorHealth>();
      status.health = {
        state: live ? health.state : 'stopped',
        lastError: health.lastError,
        lastErrorAt: health.lastErrorAt,
        updatedAt: health.updatedAt,
      };
    }
    out.push(status);
  }
  return {
    head: { seq: head.lastSeq, time: head.lastTime?.toISOString(), messages: head.messages },
    projections: out,
    snapshots: (await options.snapshots?.list()) ?? [],
  };
}

/** Whether the index was built by this code's definition of the projection (its `_meta` fingerprint). */
function builtByCurrentDefinition(projection: ProjectionName, info: IndexInfo | undefined): boolean {
  return info?.meta?.fingerprint === PROJECTIONS[projection].fingerprint;
}

/**
 * The aliased indexes built by another definition of their projection (mapping, analysis
 * or projection logic: the fingerprint in their `_meta` differs). Their strict mappings
 * may refuse today's documents, so they want a reindex even when caught up with the log.
 */
export async function outdatedIndexes(
  client: Client,
  names: Names,
  projections: readonly ProjectionName[],
  signal?: AbortSignal,
): Promise<string[]> {
  const outdated: string[] = [];
  for (const projection of projections) {
    const alias = names.alias(projection);
    for (const info of await listProjectionIndexes(client, names, projection, signal)) {
      if (info.aliases.includes(alias) && !builtByCurrentDefinition(projection, info)) {
        outdated.push(info.name);
      }
    }
  }
  return outdated;
}
