import type { Client } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import type { Names } from '../schemas/names.ts';
import type { BylineNameCache } from './bylineNameCache.ts';

/** What the searcher's functions share: the client, names and settings, and the open points in time. */
export interface SearcherContext {
  es: Client;
  names: Names;
  keepAlive: string;
  cursorKey: Uint8Array;
  searchTimeout: string;
  log?: Logger;
  /** Close a point in time in the background (an unclosed one lives until its keep_alive). */
  closePit(id: string): void;
  /** Byline names of facets, remembered for a minute (see bylineNameCache.ts). */
  bylineNames?: BylineNameCache;
}

export interface CallOptions {
  signal?: AbortSignal;
}
