import type { Client } from '@elastic/elasticsearch';
import { type Checkpoint, healthKey } from '../log/checkpoints.ts';
import { positionOf } from '../log/codec.ts';
import type { ContentLog } from '../log/types.ts';
import type { Names, ProjectionName } from '../schemas/names.ts';
import type { ProjectionClients } from './clients.ts';
import { aliasTargets, countDocs, type IndexInfo, listProjectionIndexes } from './indexes.ts';
import {
  holderAlive,
  indexBeingWritten,
  type LeaseValue,
  projectLeaseKey,
  readLease,
  reindexLeaseKey,
} from './lease.ts';
import type { ProjectorHealth } from './live/health.ts';
import { PROJECTIONS } from './projections.ts';
import type { SnapshotInfo, StateSnapshotStore } from './state/stateSnapshots.ts';
import type { DeadLetter } from './write/deadLetters.ts';

/** Who holds a lease, and whether they still run. */
export interface LeaseHolder {
  owner: string;
  host: string;
  pid: number;
  since: string;
  /** When the lease runs out unless renewed. */
  expiresAt: string;
  /**
   * False when the holder is on this host and its pid is not running: a stale lease (the
   * holder was killed) that keeps others out until it expires. Undefined on another host.
   */
  alive?: boolean;
}

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
  /**
   * How long the projection has been behind the head: from when the log stored the first
   * event after the checkpoint (the oldest one the index lacks) to now; 0 when caught up.
   */
  lagSeconds?: number;
  deadLetters: { count: number; last?: Pick<DeadLetter, 'kind' | 'seq' | 'docId' | 'reason' | 'at'> };
  /** The live projector of this projection, when one holds the lease. */
  live?: LeaseHolder & { writing?: string };
  /** A reindex in progress. */
  reindexing?: LeaseHolder;
  health?: Pick<ProjectorHealth, 'state' | 'lastError' | 'lastErrorAt' | 'updatedAt'>;
  /** False when the index was built by other projection code or mappings than this version's: reindex to apply. */
  current?: boolean;
  /**
   * Elasticsearch did not answer in time (or failed): the index is then the one the
   * projection's pointer names, and documents, other indexes and dead letters are unknown.
   */
  elasticsearchError?: string;
  /** Other indexes of the projection (kept for rollback, as-of builds, partial builds). */
  otherIndexes: { name: string; state?: string; asOf?: string }[];
}

export interface StatusReport {
  head: { seq: number; time?: string; messages: number };
  projections: ProjectionStatus[];
  /** Saved projection states a live projector starts from (see stateSnapshots.ts). */
  snapshots: SnapshotInfo[];
}

export type ProjectionStatusOptions = Omit<ProjectionClients, 'log'> & {
  log: Pick<ContentLog, 'head' | 'replay'>;
  snapshots?: StateSnapshotStore;
  projections: readonly ProjectionName[];
  signal?: AbortSignal;
  /**
   * How long to wait for Elasticsearch's part of a projection's status (default 5 s).
   * Status is what one looks at when something hangs: past this, the rest (checkpoints,
   * lag, leases, health: all in NATS) is reported without it.
   */
  elasticsearchTimeoutMs?: number;
};

/** Elasticsearch asked with a deadline, and not asked again once it failed to answer. */
interface ElasticsearchGate {
  /** `fn` within the deadline; undefined when Elasticsearch did not answer (now or before). */
  ask<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T | undefined>;
  /** Why Elasticsearch is not asked any more, once it failed to answer. */
  readonly unavailable: string | undefined;
}

function createElasticsearchGate(timeoutMs: number, signal: AbortSignal | undefined): ElasticsearchGate {
  let unavailable: string | undefined;
  return {
    async ask<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
      if (unavailable) return undefined;
      const deadline = AbortSignal.any([...(signal ? [signal] : []), AbortSignal.timeout(timeoutMs)]);
      try {
        return await Promise.race([
          fn(deadline),
          new Promise<never>((_, reject) => {
            deadline.addEventListener('abort', () => reject(deadline.reason), { once: true });
          }),
        ]);
      } catch (err) {
        if (signal?.aborted) throw err;
        unavailable = `Elasticsearch did not answer within ${timeoutMs} ms (${(err as Error).message})`;
        return undefined;
      }
    },
    get unavailable() {
      return unavailable;
    },
  };
}

/** What the parts of one report share. */
interface StatusContext {
  options: ProjectionStatusOptions;
  /** The Elasticsearch client with each request bounded by the timeout. */
  client: Client;
  es: ElasticsearchGate;
  head: Awaited<ReturnType<ContentLog['head']>>;
  bucket: Awaited<ReturnType<ProjectionClients['checkpoints']['bucket']>>;
}

/** Gather the status of the projections: aliases, documents, checkpoints and lag, dead letters, who is running. */
export async function projectionStatus(options: ProjectionStatusOptions): Promise<StatusReport> {
  const timeoutMs = options.elasticsearchTimeoutMs ?? 5000;
  const ctx: StatusContext = {
    options,
    // The same connections, each request bounded: a hung node must not hang the report.
    client: options.client.child({ requestTimeout: timeoutMs }),
    es: createElasticsearchGate(timeoutMs, options.signal),
    head: await options.log.head(),
    bucket: await options.checkpoints.bucket(),
  };
  const out: ProjectionStatus[] = [];
  for (const projection of options.projections) out.push(await statusOf(ctx, projection));
  const { head } = ctx;
  return {
    head: { seq: head.lastSeq, time: head.lastTime?.toISOString(), messages: head.messages },
    projections: out,
    snapshots: (await options.snapshots?.list()) ?? [],
  };
}

/** One projection's status: its indexes, then (when it has one) the index's, then who runs it. */
async function statusOf(ctx: StatusContext, projection: ProjectionName): Promise<ProjectionStatus> {
  const { client, es } = ctx;
  const { names, checkpoints } = ctx.options;
  const alias = names.alias(projection);
  const found = await es.ask((deadline) =>
    Promise.all([
      aliasTargets(client, alias, deadline),
      listProjectionIndexes(client, names, projection, deadline),
    ]),
  );
  const indexes = found?.[1] ?? [];
  const index = found ? found[0][0] : (await checkpoints.pointer(projection).catch(() => undefined))?.index;
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
    if (found) status.current = builtByCurrentDefinition(projection, info);
    await addIndexStatus(ctx, status, index);
  }
  await addRunnerStatus(ctx, status, projection);
  if (es.unavailable) status.elasticsearchError = es.unavailable;
  return status;
}

/** The aliased index's documents, checkpoint, lag and dead letters. */
async function addIndexStatus(ctx: StatusContext, status: ProjectionStatus, index: string): Promise<void> {
  status.docs = await ctx.es.ask((deadline) => countDocs(ctx.client, index, deadline));
  status.checkpoint = await ctx.options.checkpoints.get(index);
  const seq = status.checkpoint?.seq ?? 0;
  status.lagEvents = Math.max(0, ctx.head.lastSeq - seq);
  status.lagSeconds = await lagSeconds(ctx, status.lagEvents, seq);
  status.deadLetters = await deadLetterStatus(ctx, index);
}

/** 0 when caught up, else how long since the log stored the first event after `seq`; undefined when unknown. */
async function lagSeconds(ctx: StatusContext, lagEvents: number, seq: number): Promise<number | undefined> {
  if (lagEvents === 0) return 0;
  const behindSince = await storedTimeAfter(ctx.options.log, seq, ctx.options.signal);
  return behindSince ? Math.max(0, (Date.now() - behindSince.getTime()) / 1000) : undefined;
}

/** The index's dead-letter count and the last one (a count of 0 when Elasticsearch did not answer). */
async function deadLetterStatus(ctx: StatusContext, index: string): Promise<ProjectionStatus['deadLetters']> {
  const summary = await ctx.es.ask((deadline) => ctx.options.deadLetters.summary(index, deadline));
  return {
    count: summary?.count ?? 0,
    ...(summary?.last
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

/** Who runs the projection: the live projector's and a reindex's leases, and the projector's last health report. */
async function addRunnerStatus(ctx: StatusContext, status: ProjectionStatus, projection: ProjectionName) {
  const { leaseBucket } = ctx.options;
  const live = await readLease(leaseBucket, projectLeaseKey(projection));
  if (live) {
    const writing = indexBeingWritten(live, projection);
    status.live = { ...leaseHolder(live), ...(writing ? { writing } : {}) };
  }
  const rebuilding = await readLease(leaseBucket, reindexLeaseKey(projection));
  if (rebuilding) status.reindexing = leaseHolder(rebuilding);
  const healthEntry = await ctx.bucket.get(healthKey(projection)).catch(() => null);
  if (healthEntry && healthEntry.operation === 'PUT' && healthEntry.length > 0) {
    const health = healthEntry.json<ProjectorHealth>();
    status.health = {
      state: live ? health.state : 'stopped',
      lastError: health.lastError,
      lastErrorAt: health.lastErrorAt,
      updatedAt: health.updatedAt,
    };
  }
}

function leaseHolder(lease: LeaseValue): LeaseHolder {
  const alive = holderAlive(lease);
  return {
    owner: lease.owner,
    host: lease.host,
    pid: lease.pid,
    since: lease.acquiredAt,
    expiresAt: lease.expiresAt,
    ...(alive === undefined ? {} : { alive }),
  };
}

/** When the log stored the first message after `seq` (an unreadable one counts too); undefined when there is none. */
export async function storedTimeAfter(
  log: Pick<ContentLog, 'replay'>,
  seq: number,
  signal?: AbortSignal,
): Promise<Date | undefined> {
  for await (const item of log.replay({ fromSeq: seq + 1, untilSeq: seq + 1, signal })) {
    return positionOf(item).time;
  }
  return undefined;
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
