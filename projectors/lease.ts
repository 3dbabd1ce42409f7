import { hostname } from 'node:os';
import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { sleep } from '../log/async.ts';
import { openKv } from '../log/stores.ts';
import { PresslogError } from '../schemas/errors.ts';
import type { Names, ProjectionName } from '../schemas/names.ts';

/** What a lease key holds: who holds it and until when (renewed by heartbeat). */
export interface LeaseValue {
  owner: string;
  host: string;
  pid: number;
  purpose: string;
  acquiredAt: string;
  expiresAt: string;
  /** What the holder is working on (e.g. the indexes a live projector writes), for `status`. */
  detail?: Record<string, unknown>;
}

/** Someone else holds the lease. The message names them and when the lease runs out. */
export class LeaseHeldError extends PresslogError {
  override name = 'LeaseHeldError';
  constructor(
    readonly key: string,
    readonly holder: LeaseValue,
  ) {
    super(
      `${key} is held by ${holder.owner} (host ${holder.host}, pid ${holder.pid}, since ${holder.acquiredAt}; ` +
        `expires ${holder.expiresAt} unless renewed)`,
    );
  }
}

/** A lease: one holder at a time, kept alive by a heartbeat. */
export interface Lease {
  readonly key: string;
  /**
   * Take the lease. When another live holder has it, throw {@link LeaseHeldError}, or
   * with `wait` poll until it is free (or the signal aborts).
   */
  acquire(options?: {
    wait?: boolean;
    signal?: AbortSignal;
    onWait?: (holder: LeaseValue) => void;
  }): Promise<void>;
  /** Aborted when the lease is lost (a renewal failed past expiry, or someone took it over). */
  readonly lost: AbortSignal;
  /** Publish what the holder is working on with the next renewal (and renew now). */
  setDetail(detail: Record<string, unknown>): void;
  /** Stop renewing and delete the key so a successor can start at once. Idempotent. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  kv: KV;
  key: string;
  /** How long a lease lives without renewal (default 15 s); renewed every third of that. */
  ttlMs?: number;
  /** What the holder does, shown to whoever is refused. */
  purpose: string;
  logger?: Logger;
}

/** The KV bucket of leases, `<NS>_LEASES` (its own max age only garbage-collects abandoned keys). */
export async function openLeaseBucket(nc: NatsConnection, names: Names, replicas = 1): Promise<KV> {
  return openKv(nc, names, 'leases', replicas);
}

/** The key of the lease the live projector of `projection` holds. */
export function projectLeaseKey(projection: ProjectionName): string {
  return `project.${projection}`;
}

/** The key of the lease a reindex (or a rollback) of `projection` holds. */
export function reindexLeaseKey(projection: ProjectionName): string {
  return `reindex.${projection}`;
}

/** The key of the lease an as-of rebuild of `projection` holds. */
export function asOfLeaseKey(projection: ProjectionName): string {
  return `asof.${projection}`;
}

/** How long a lease lives without renewal unless told otherwise. */
export const DEFAULT_LEASE_TTL_MS = 15_000;

let counter = 0;

/** The lease a KV entry holds; undefined for a missing, deleted or purged key. */
function leaseIn(entry: KvEntry | null | undefined): LeaseValue | undefined {
  return entry?.operation === 'PUT' && entry.length > 0 ? entry.json<LeaseValue>() : undefined;
}

/** Whether the holder's lease has not run out (by this machine's clock). */
function unexpired(holder: LeaseValue): boolean {
  return Date.parse(holder.expiresAt) > Date.now();
}

/**
 * Who holds the lease on `key` now: undefined when the key is free, or its holder's lease
 * ran out, or the bucket cannot be read (for reports, which must not fail on that).
 */
export async function readLease(kv: KV, key: string): Promise<LeaseValue | undefined> {
  const holder = leaseIn(await kv.get(key).catch(() => null));
  return holder && unexpired(holder) ? holder : undefined;
}

/**
 * Whether the lease's holder still runs: undefined when it is on another host (nothing to
 * ask), else whether its pid is a live process here. A false answer means a stale lease,
 * its holder killed before it could release it. (A pid the system gave to a new process
 * meanwhile reads as alive: the lease then just runs out as it would have.)
 */
export function holderAlive(holder: Pick<LeaseValue, 'host' | 'pid'>): boolean | undefined {
  if (holder.host !== hostname()) return undefined;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The index a live projector's lease says it writes for `projection` (see `Lease.setDetail`). */
export function indexBeingWritten(
  holder: LeaseValue | undefined,
  projection: ProjectionName,
): string | undefined {
  return (holder?.detail?.indexes as Record<string, string> | undefined)?.[projection];
}

/**
 * Create a lease on a KV key. The value carries its expiry, and every change is a
 * compare-and-set on the key's revision (`create` / `update`), so two processes can
 * never both believe they hold it. nats-server 2.9 has no per-key TTL, hence the expiry
 * in the value; a holder that dies stops renewing and the lease is free after `ttlMs`.
 * Expiry compares wall clocks: across machines they must agree to well within the TTL.
 */
export function createLease(options: LeaseOptions): Lease {
  const { kv, key } = options;
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const owner = `${hostname()}:${process.pid}:${++counter}:${Math.random().toString(36).slice(2, 8)}`;
  const log = options.logger?.child({ component: 'lease', key });
  const lostController = new AbortController();
  let revision = 0;
  let acquiredAt = '';
  let heartbeat: NodeJS.Timeout | undefined;
  let releasing: Promise<void> | undefined;
  let renewing: Promise<void> | undefined;
  let detail: Record<string, unknown> | undefined;
  let renewNow: (() => Promise<void>) | undefined;

  function value(): string {
    const now = Date.now();
    const lease: LeaseValue = {
      owner,
      host: hostname(),
      pid: process.pid,
      purpose: options.purpose,
      acquiredAt,
      expiresAt: new Date(now + ttlMs).toISOString(),
      ...(detail ? { detail } : {}),
    };
    return JSON.stringify(lease);
  }

  async function tryTake(depth = 0): Promise<LeaseValue | undefined> {
    const entry = await kv.get(key);
    const holder = leaseIn(entry);
    acquiredAt = new Date().toISOString();
    if (!entry || !holder) {
      try {
        revision = await kv.create(key, value());
        return undefined;
      } catch (err) {
        // Lost a race with another taker: look again (a bounded number of times).
        if (depth >= 3) throw err;
        return (await current()) ?? tryTake(depth + 1);
      }
    }
    if (unexpired(holder) && holder.owner !== owner) return holder;
    try {
      revision = await kv.update(key, value(), entry.revision);
      if (holder.owner !== owner) log?.warn({ previous: holder }, 'took over an expired lease');
      return undefined;
    } catch (err) {
      if (depth >= 3) throw err;
      return (await current()) ?? tryTake(depth + 1);
    }
  }

  async function current(): Promise<LeaseValue | undefined> {
    const holder = leaseIn(await kv.get(key));
    return holder && unexpired(holder) && holder.owner !== owner ? holder : undefined;
  }

  function startHeartbeat() {
    let validUntil = Date.now() + ttlMs;
    const renew = async () => {
      if (releasing) return;
      try {
        revision = await kv.update(key, value(), revision);
        validUntil = Date.now() + ttlMs;
      } catch (err) {
        if (releasing) return;
        const entry = await kv.get(key).catch(() => undefined);
        // An update that timed out may still have been applied: the key then holds our
        // own renewal, at a revision we have not seen.
        const ours = leaseIn(entry);
        if (entry && ours?.owner === owner && entry.revision !== revision) {
          revision = entry.revision;
          validUntil = Date.parse(ours.expiresAt);
          log?.warn({ err }, 'lease renewal answered late; renewed');
          return;
        }
        const takenOver = entry !== undefined && (entry === null || entry.revision !== revision);
        if (takenOver || Date.now() > validUntil) {
          log?.error({ err }, 'lease lost');
          stop();
          lostController.abort(new PresslogError(`lease ${key} lost: ${(err as Error).message}`));
          return;
        }
        log?.warn({ err }, 'lease renewal failed; retrying');
      }
    };
    renewNow = () => {
      // One renewal at a time: two concurrent updates with the same revision would fail one.
      renewing ??= renew().finally(() => {
        renewing = undefined;
      });
      return renewing;
    };
    heartbeat = setInterval(() => void renewNow?.(), Math.max(100, Math.floor(ttlMs / 3)));
    heartbeat.unref();
  }

  function stop() {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
  }

  return {
    key,
    lost: lostController.signal,
    async acquire(acquireOptions = {}) {
      for (;;) {
        acquireOptions.signal?.throwIfAborted();
        const holder = await tryTake();
        if (!holder) {
          log?.debug({ owner }, 'lease acquired');
          startHeartbeat();
          return;
        }
        if (!acquireOptions.wait) throw new LeaseHeldError(key, holder);
        acquireOptions.onWait?.(holder);
        const remaining = Date.parse(holder.expiresAt) - Date.now();
        await sleep(Math.min(Math.max(100, remaining), Math.max(250, ttlMs / 3)), acquireOptions.signal);
      }
    },
    setDetail(value) {
      detail = value;
      if (heartbeat) void renewNow?.();
    },
    release() {
      releasing ??= (async () => {
        stop();
        // A renewal in flight would move the key past the revision the delete names.
        await renewing;
        if (revision === 0 || lostController.signal.aborted) return;
        try {
          await kv.delete(key, { previousSeq: revision });
        } catch {
          // Perhaps a renewal applied but answered too late: the key holds ours at a newer
          // revision. Delete that; anything else belongs to someone else (or expires).
          const entry = await kv.get(key).catch(() => null);
          if (entry && leaseIn(entry)?.owner === owner)
            await kv.delete(key, { previousSeq: entry.revision }).catch(() => {});
        }
      })();
      return releasing;
    },
  };
}
