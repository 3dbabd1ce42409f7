import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '../schemas/names.ts';
import { InvalidQueryError } from './errors.ts';
import { parseSearchParams } from './params.ts';

/** A saved search's name: one NATS subject token and one KV key token. */
export const ALERT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Recent matches kept per saved search (for `GET /api/alerts/:name`). */
export const RECENT_MATCHES = 50;

/** The search parameters an alert keeps (the article filters of `presslog search`). */
export interface SavedParams {
  q: string;
  byline?: string;
  section?: string;
  tag?: string;
  from?: string;
  to?: string;
}

export interface SavedSearch {
  name: string;
  params: SavedParams;
  /** Log head when the search was saved: only articles whose own event came later can match. */
  sinceSeq: number;
  createdAt: string;
}

/** One article that matched a saved search, as published on `<ns>.alerts.<name>`. */
export interface AlertMatch {
  alert: string;
  articleId: string;
  headline: string;
  publishedAt: string | null;
  /** The log sequence of the article's event that made it match. */
  seq: number;
  matchedAt: string;
}

/** Saved searches and their recent matches, in the KV bucket `names.bucket('alerts')`. */
export interface SavedSearches {
  /** Save a search; InvalidQueryError for a bad name or bad parameters, or a name in use. */
  add(name: string, params: SavedParams, sinceSeq: number): Promise<SavedSearch>;
  list(): Promise<SavedSearch[]>;
  get(name: string): Promise<SavedSearch | undefined>;
  /** True when it existed. Its recent matches go with it. */
  remove(name: string): Promise<boolean>;
  /** Newest first. */
  recent(name: string): Promise<AlertMatch[]>;
  /** Add matches to the recent list (newest first, at most {@link RECENT_MATCHES}). */
  record(name: string, matches: readonly AlertMatch[]): Promise<void>;
}

export interface SavedSearchesOptions {
  nc: NatsConnection;
  names: Names;
  replicas?: number;
}

/** The subject a saved search's matches are published on, e.g. `presslog.alerts.budget`. */
export function alertSubject(names: Names, name: string): string {
  return `${names.namespace}.alerts.${name}`;
}

export function checkAlertName(name: string): string {
  if (!ALERT_NAME_PATTERN.test(name)) {
    throw new InvalidQueryError(
      'name',
      'letters, digits, - and _ (at most 64), starting with a letter or digit',
    );
  }
  return name;
}

const json = <T>(bytes: Uint8Array): T => JSON.parse(new TextDecoder().decode(bytes)) as T;

/** Create the store (the bucket is created on first use). */
export function createSavedSearches(options: SavedSearchesOptions): SavedSearches {
  let opening: Promise<KV> | undefined;
  const kv = () => {
    opening ??= new Kvm(options.nc).create(options.names.bucket('alerts'), {
      history: 1,
      replicas: options.replicas ?? 1,
    });
    return opening;
  };
  const read = async <T>(key: string): Promise<{ value: T; revision: number } | undefined> => {
    const entry = await (await kv()).get(key);
    if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
    return { value: json<T>(entry.value), revision: entry.revision };
  };
  const get = async (name: string) =>
    ALERT_NAME_PATTERN.test(name) ? (await read<SavedSearch>(`search.${name}`))?.value : undefined;
  return {
    async add(name, params, sinceSeq) {
      checkAlertName(name);
      const request = parseSearchParams({ ...params });
      const saved: SavedSearch = {
        name,
        params: Object.fromEntries(
          Object.entries({
            q: request.q,
            byline: params.byline,
            section: params.section,
            tag: params.tag,
            from: params.from,
            to: params.to,
          }).filter(([, v]) => v !== undefined && v !== ''),
        ) as unknown as SavedParams,
        sinceSeq,
        createdAt: new Date().toISOString(),
      };
      try {
        await (await kv()).create(`search.${name}`, JSON.stringify(saved));
      } catch (err) {
        if (await get(name))
          throw new InvalidQueryError('name', `a saved search ${name} exists; remove it first`);
        throw err;
      }
      return saved;
    },
    async list() {
      const bucket = await kv();
      const keys: string[] = [];
      for await (const key of await bucket.keys('search.*')) keys.push(key);
      const found = await Promise.all(keys.sort().map((key) => get(key.slice('search.'.length))));
      return found.filter((s): s is SavedSearch => s !== undefined);
    },
    get,
    async remove(name) {
      if (!(await get(name))) return false;
      const bucket = await kv();
      await bucket.delete(`search.${name}`);
      await bucket.delete(`recent.${name}`);
      return true;
    },
    async recent(name) {
      return (await read<AlertMatch[]>(`recent.${name}`))?.value ?? [];
    },
    async record(name, matches) {
      if (matches.length === 0) return;
      const bucket = await kv();
      // Compare-and-set: two projectors' hand-over must not lose each other's matches.
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = await read<AlertMatch[]>(`recent.${name}`);
        const next = [...[...matches].reverse(), ...(current?.value ?? [])].slice(0, RECENT_MATCHES);
        try {
          if (current) await bucket.update(`recent.${name}`, JSON.stringify(next), current.revision);
          else await bucket.create(`recent.${name}`, JSON.stringify(next));
          return;
        } catch (err) {
          if (attempt === 4) throw err;
        }
      }
    },
  };
}
