import { type JetStreamManager, jetstream, type StreamInfo } from '@nats-io/jetstream';
import { type KV, Kvm, type KvOptions } from '@nats-io/kv';
import { type ObjectStore, type ObjectStoreOptions, Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '../schemas/names.ts';
import { isStreamNotFound } from './contentLog/natsErrors.ts';

/**
 * Every JetStream store presslog keeps beside the content stream, in one table: a KV
 * bucket or an object store per purpose, with the options it is created with. Processes
 * open them lazily (the first to ask creates), and `presslog init` creates them all up
 * front with the configured replicas, so a cluster's buckets are replicated like the log
 * from the start and drift is reported in one place.
 */
export const KV_BUCKETS = {
  /** Checkpoints, alias pointers and live projectors' health. */
  checkpoints: { history: 1, description: 'presslog projection checkpoints' },
  /** Projector and reindex leases (a lease outliving its holder by a day is a bug; TTL cleans it). */
  leases: { history: 1, ttl: 24 * 3600_000, description: 'presslog leases' },
  /** Deployment secrets (the key that signs search cursors). */
  secrets: { history: 1, description: 'presslog deployment secrets' },
  /** Every item's data keys, wrapped by the master key (crypto-shredding; see log/keyRing.ts). */
  keys: { history: 1, description: 'presslog data keys (wrapped)' },
} as const satisfies Record<string, Partial<KvOptions>>;

export const OBJECT_STORES = {
  /** Projection-state snapshots (a cache of the log). */
  state: { description: 'presslog projection state snapshots (a cache of the content log)' },
  /** Image originals and renditions by digest, with PRESSLOG_BLOB_STORE=nats. */
  blobs: { description: 'presslog image originals and renditions, by sha256 digest' },
} as const satisfies Record<string, Partial<ObjectStoreOptions>>;

export type KvPurpose = keyof typeof KV_BUCKETS;
export type ObjectStorePurpose = keyof typeof OBJECT_STORES;

/** Open a KV bucket of {@link KV_BUCKETS}, creating it with `replicas` when it does not exist yet. */
export function openKv(nc: NatsConnection, names: Names, purpose: KvPurpose, replicas = 1): Promise<KV> {
  return new Kvm(nc).create(names.bucket(purpose), { ...KV_BUCKETS[purpose], replicas });
}

/** Open an object store of {@link OBJECT_STORES}, creating it with `replicas` when it does not exist yet. */
export function openObjectStore(
  nc: NatsConnection,
  names: Names,
  purpose: ObjectStorePurpose,
  replicas = 1,
): Promise<ObjectStore> {
  return new Objm(jetstream(nc)).create(names.bucket(purpose), { ...OBJECT_STORES[purpose], replicas });
}

/** The JetStream stream behind a store: `KV_<bucket>` or `OBJ_<bucket>`. */
export function streamOfStore(kind: 'kv' | 'obj', bucket: string): string {
  return `${kind === 'kv' ? 'KV' : 'OBJ'}_${bucket}`;
}

/** One store as `init` found and left it. */
export interface StoreReport {
  /** The JetStream stream (the content stream, `KV_…` or `OBJ_…`). */
  stream: string;
  kind: 'content' | 'kv' | 'obj';
  created: boolean;
  replicas: number;
  /** The replica count before `--apply` changed it, or the drifted one when not applied. */
  driftedFrom?: number;
  /** True when `--apply` scaled the store to the configured replicas. */
  changed?: boolean;
}

/** Options of {@link ensureStores}. */
export interface EnsureStoresOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  names: Names;
  replicas: number;
  /** Scale stores whose replicas differ instead of only reporting them. */
  apply?: boolean;
}

async function streamInfo(jsm: JetStreamManager, stream: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(stream);
  } catch (err) {
    if (isStreamNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Scale a stream to `replicas` in place (JetStream moves or adds the replicas itself), or
 * report the difference. nats.js sends the current configuration back with only
 * `num_replicas` changed, so nothing else about the store moves.
 */
export async function reconcileReplicas(
  jsm: JetStreamManager,
  info: StreamInfo,
  replicas: number,
  apply: boolean,
): Promise<Pick<StoreReport, 'replicas' | 'driftedFrom' | 'changed'>> {
  const actual = info.config.num_replicas ?? 1;
  if (actual === replicas) return { replicas };
  if (!apply) return { replicas: actual, driftedFrom: actual };
  await jsm.streams.update(info.config.name, { num_replicas: replicas });
  return { replicas, driftedFrom: actual, changed: true };
}

/**
 * Create every bucket of {@link KV_BUCKETS} and {@link OBJECT_STORES} that does not exist
 * with `replicas`, and compare the existing ones' replicas with it (scaling them when
 * `apply`). The content stream itself is the content log's `init`.
 */
export async function ensureStores(options: EnsureStoresOptions): Promise<StoreReport[]> {
  const { nc, jsm, names, replicas, apply = false } = options;
  const wanted = [
    ...Object.keys(KV_BUCKETS).map((purpose) => ({ kind: 'kv' as const, purpose })),
    ...Object.keys(OBJECT_STORES).map((purpose) => ({ kind: 'obj' as const, purpose })),
  ];
  const reports: StoreReport[] = [];
  for (const { kind, purpose } of wanted) {
    const stream = streamOfStore(kind, names.bucket(purpose));
    const info = await streamInfo(jsm, stream);
    if (!info) {
      if (kind === 'kv') await openKv(nc, names, purpose as KvPurpose, replicas);
      else await openObjectStore(nc, names, purpose as ObjectStorePurpose, replicas);
      reports.push({ stream, kind, created: true, replicas });
      continue;
    }
    reports.push({ stream, kind, created: false, ...(await reconcileReplicas(jsm, info, replicas, apply)) });
  }
  return reports;
}

/** Where one replicated store stands on the cluster, for `presslog status`. */
export interface StoreStatus {
  stream: string;
  replicas: number;
  messages: number;
  bytes: number;
  /** The server holding the stream's leader (undefined on a server that is not clustered). */
  leader?: string;
  /** Every replica's server and whether it is current (caught up with the leader). */
  peers: { name: string; current: boolean; offline?: boolean; lag?: number }[];
  /** True when every replica is current (or the stream has one replica). */
  healthy: boolean;
}

/** Every JetStream stream of the namespace (content, KV and object stores) with its replicas and leader. */
export async function storesStatus(jsm: JetStreamManager, names: Names): Promise<StoreStatus[]> {
  const statuses: StoreStatus[] = [];
  for await (const info of jsm.streams.list()) {
    const name = info.config.name;
    // `PRESSLOG_` also starts `PRESSLOG_X_…`, the streams of namespace `presslog-x`: ours
    // have one word (a purpose) after the prefix.
    const prefix = names.streamPrefixes.find((p) => name.startsWith(p));
    if (prefix === undefined || name.slice(prefix.length).includes('_')) continue;
    const peers = (info.cluster?.replicas ?? []).map((r) => ({
      name: r.name,
      current: r.current,
      offline: r.offline,
      lag: r.lag,
    }));
    const replicas = info.config.num_replicas ?? 1;
    statuses.push({
      stream: name,
      replicas,
      messages: info.state.messages,
      bytes: info.state.bytes,
      leader: info.cluster?.leader,
      peers,
      healthy:
        replicas === 1 ||
        (!!info.cluster?.leader && peers.length === replicas - 1 && peers.every((p) => p.current)),
    });
  }
  return statuses.sort((a, b) => a.stream.localeCompare(b.stream));
}
