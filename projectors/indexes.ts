import type { Client } from '@elastic/elasticsearch';
import type { Names, ProjectionName } from '../schemas/names.ts';
import type { ProjectionDefinition } from './projections.ts';
import { retryingEs, statusOf } from './write/esRetry.ts';

/** Lifecycle of a presslog index, kept in its mapping's `_meta.presslog`. */
export type IndexState = 'building' | 'ready' | 'asof';

/** What presslog records in an index's `_meta`. */
export interface IndexMeta {
  projection: ProjectionName;
  fingerprint: string;
  state: IndexState;
  createdAt: string;
  /** For `--as-of` indexes: the time the archive was rebuilt as of. */
  asOf?: string;
  /** Highest stream sequence the index was built to (set when it became ready). */
  builtToSeq?: number;
}

/** One presslog index of a projection, as found in the cluster. */
export interface IndexInfo {
  name: string;
  meta?: IndexMeta;
  aliases: string[];
  createdMs: number;
}

/** Settings a live index runs with. */
export interface LiveSettings {
  /** Replicas (0 on a single node, 1 or more in a cluster). */
  replicas: number;
  refreshInterval: string;
  /** Primary shards of a new index (default 1; in a cluster, about one per data node). */
  shards?: number;
}

export const DEFAULT_LIVE_SETTINGS: LiveSettings = { replicas: 0, refreshInterval: '1s' };

/** `20250612T143005123` → a sortable, lowercase, index-name-safe timestamp. */
export function stamp(time: Date): string {
  return time.toISOString().replace(/[-:.]/g, '').replace('T', 't').replace('Z', '').toLowerCase();
}

/** Name of a new versioned index, e.g. `presslog-articles-20250612t143005123`. */
export function versionedIndexName(names: Names, projection: ProjectionName, now = new Date()): string {
  return `${names.indexPrefix(projection)}${stamp(now)}`;
}

/** Name of an as-of index, e.g. `presslog-articles-asof-19000101t000000000`. */
export function asOfIndexName(names: Names, projection: ProjectionName, asOf: Date): string {
  return `${names.indexPrefix(projection)}asof-${stamp(asOf)}`;
}

/** Create an index for a projection: bulk-load settings while building, live settings otherwise. */
export async function createProjectionIndex(
  client: Client,
  options: {
    index: string;
    definition: ProjectionDefinition;
    /** `bulk`: no refresh, no replicas, async translog (restored by {@link applyLiveSettings}). */
    mode: 'bulk' | 'live';
    live?: LiveSettings;
    meta: IndexMeta;
    signal?: AbortSignal;
  },
): Promise<void> {
  const live = options.live ?? DEFAULT_LIVE_SETTINGS;
  const bulk = options.mode === 'bulk';
  await retryingEs(
    () =>
      client.indices.create({
        index: options.index,
        settings: {
          number_of_shards: live.shards ?? 1,
          number_of_replicas: bulk ? 0 : live.replicas,
          refresh_interval: bulk ? '-1' : live.refreshInterval,
          ...(bulk ? { 'translog.durability': 'async', 'translog.sync_interval': '30s' } : {}),
          analysis: options.definition.analysis as never,
        },
        mappings: { ...options.definition.mappings, _meta: { presslog: options.meta } } as never,
      }),
    { signal: options.signal, deadlineMs: 60_000 },
  );
}

/** Restore live settings after a bulk load (refresh, replicas, durable translog). */
export async function applyLiveSettings(
  client: Client,
  index: string,
  live: LiveSettings = DEFAULT_LIVE_SETTINGS,
  signal?: AbortSignal,
): Promise<void> {
  await retryingEs(
    () =>
      client.indices.putSettings({
        index,
        settings: {
          number_of_replicas: live.replicas,
          refresh_interval: live.refreshInterval,
          'translog.durability': 'request',
        },
      }),
    { signal, deadlineMs: 60_000 },
  );
}

/** Replace an index's `_meta.presslog`. */
export async function setIndexMeta(
  client: Client,
  index: string,
  meta: IndexMeta,
  signal?: AbortSignal,
): Promise<void> {
  await retryingEs(() => client.indices.putMapping({ index, _meta: { presslog: meta } }), {
    signal,
    deadlineMs: 60_000,
  });
}

/** The indexes an alias points at ([] when the alias does not exist). */
export async function aliasTargets(client: Client, alias: string, signal?: AbortSignal): Promise<string[]> {
  return retryingEs(
    async () => {
      try {
        const response = await client.indices.getAlias({ name: alias });
        return Object.keys(response).sort();
      } catch (err) {
        if (statusOf(err) === 404) return [];
        throw err;
      }
    },
    { signal, deadlineMs: 60_000 },
  );
}

/**
 * Point `alias` at `to` and nothing else, in ONE `_aliases` call: searches see either the
 * old index or the new one, never neither and never both. The removal covers every index
 * matching `pattern` (e.g. `presslog-articles-*`), so an index someone else attached
 * meanwhile cannot stay behind the alias.
 */
export async function swapAlias(
  client: Client,
  alias: string,
  pattern: string,
  to: string,
  signal?: AbortSignal,
): Promise<void> {
  const actions = [{ remove: { index: pattern, alias, must_exist: false } }, { add: { index: to, alias } }];
  await retryingEs(() => client.indices.updateAliases({ actions }), { signal, deadlineMs: 60_000 });
  const targets = await aliasTargets(client, alias, signal);
  if (targets.length !== 1 || targets[0] !== to) {
    throw new Error(`alias ${alias} points at ${targets.join(', ') || 'nothing'} after moving it to ${to}`);
  }
}

/** Every index of a projection (versioned and as-of), oldest first. */
export async function listProjectionIndexes(
  client: Client,
  names: Names,
  projection: ProjectionName,
  signal?: AbortSignal,
): Promise<IndexInfo[]> {
  const prefix = names.indexPrefix(projection);
  const response = await retryingEs(
    () =>
      client.indices.get({
        index: `${prefix}*`,
        features: ['aliases', 'mappings', 'settings'],
        allow_no_indices: true,
        ignore_unavailable: true,
      }),
    { signal, deadlineMs: 60_000 },
  );
  const out: IndexInfo[] = [];
  for (const [name, state] of Object.entries(response)) {
    // Another projection's prefix may match ours (`x-articles-` vs namespace `x-articles`): check the meta.
    const meta = (state.mappings?._meta as { presslog?: IndexMeta } | undefined)?.presslog;
    if (meta && meta.projection !== projection) continue;
    const rest = name.slice(prefix.length);
    if (!meta && !/^(asof-)?\d{8}t\d{9}/.test(rest)) continue;
    out.push({
      name,
      meta,
      aliases: Object.keys(state.aliases ?? {}),
      createdMs: Number(state.settings?.index?.creation_date ?? 0),
    });
  }
  return out.sort((a, b) => a.createdMs - b.createdMs || a.name.localeCompare(b.name));
}

/** Delete indexes (missing ones are fine). */
export async function deleteIndexes(
  client: Client,
  indexes: readonly string[],
  signal?: AbortSignal,
): Promise<void> {
  if (indexes.length === 0) return;
  await retryingEs(
    async () => {
      try {
        await client.indices.delete({ index: indexes.join(','), ignore_unavailable: true });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    },
    { signal, deadlineMs: 60_000 },
  );
}

/** Number of documents an index holds (after its last refresh). */
export async function countDocs(client: Client, index: string, signal?: AbortSignal): Promise<number> {
  const response = await retryingEs(() => client.count({ index }), { signal, deadlineMs: 60_000 });
  return response.count;
}

/**
 * Make everything written so far durable: a Lucene commit of each shard. A bulk load's
 * translog is synced only every 30 s; a node killed before then loses writes it had
 * acknowledged, so a rebuild flushes its indexes before it verifies them.
 */
export async function flush(client: Client, index: string, signal?: AbortSignal): Promise<void> {
  await retryingEs(() => client.indices.flush({ index, wait_if_ongoing: true }), {
    signal,
    deadlineMs: 60_000,
  });
}

/** Make everything written so far visible to searches. */
export async function refresh(client: Client, index: string, signal?: AbortSignal): Promise<void> {
  await retryingEs(() => client.indices.refresh({ index }), { signal, deadlineMs: 60_000 });
}

/**
 * Replicas for `auto`: 1 when the cluster has two or more data nodes (a node can be lost
 * without losing a shard), else 0 (a single node cannot place a replica: the index would
 * stay yellow).
 */
export async function autoReplicas(client: Client): Promise<number> {
  const nodes = await client.cat.nodes({ format: 'json', h: 'node.role' });
  const data = nodes.filter((n) => /[dhwcs]/.test(String(n['node.role'] ?? ''))).length;
  return data >= 2 ? 1 : 0;
}
