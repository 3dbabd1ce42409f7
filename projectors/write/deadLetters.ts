import { createHash } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { FieldProblem } from '../../schemas/errors.ts';
import type { Names, ProjectionName } from '../../schemas/names.ts';
import { retryingEs, statusOf } from './esRetry.ts';

/**
 * A document or event the projector gave up on: it is recorded here and skipped, so one
 * bad item never blocks the rest and never hides. `rejected`: Elasticsearch refused the
 * document for good (a mapping error); `unreadable`: the log message fails its schema.
 */
export interface DeadLetter {
  kind: 'rejected' | 'unreadable';
  projection: ProjectionName;
  /** The index that was being written. */
  index: string;
  /** Stream sequence of the event (for `rejected`: the document's version, the last event it reflects). */
  seq: number;
  subject?: string;
  /** Document id (for `rejected`). */
  docId?: string;
  reason: string;
  problems?: FieldProblem[];
  /** The document as it was sent, truncated. */
  source?: string;
  at: string;
}

export interface DeadLetterSummary {
  count: number;
  last?: DeadLetter;
}

export interface DeadLetterStore {
  /** Record dead letters (idempotent: the same item recorded twice is one record). */
  record(items: readonly DeadLetter[], signal?: AbortSignal): Promise<void>;
  /** Count and latest record for an index. */
  summary(index: string, signal?: AbortSignal): Promise<DeadLetterSummary>;
  list(index: string, options?: { size?: number; signal?: AbortSignal }): Promise<DeadLetter[]>;
  /** The index name, `<ns>-deadletters`. */
  readonly indexName: string;
}

const MAX_SOURCE_CHARS = 8_000;

/** Create the dead-letter store: an Elasticsearch index `<ns>-deadletters`, created on first write. */
export function createDeadLetterStore(options: { client: Client; names: Names }): DeadLetterStore {
  const { client } = options;
  const indexName = `${options.names.namespace}-deadletters`;
  let ensured: Promise<void> | undefined;

  function ensure(signal?: AbortSignal): Promise<void> {
    ensured ??= retryingEs(
      async () => {
        try {
          await client.indices.create({
            index: indexName,
            settings: { number_of_shards: 1, number_of_replicas: 0 },
            mappings: {
              dynamic: false,
              properties: {
                kind: { type: 'keyword' },
                projection: { type: 'keyword' },
                index: { type: 'keyword' },
                seq: { type: 'long' },
                subject: { type: 'keyword' },
                docId: { type: 'keyword' },
                reason: { type: 'text' },
                at: { type: 'date' },
              },
            },
          });
        } catch (err) {
          const type = (err as { body?: { error?: { type?: string } } }).body?.error?.type;
          if (statusOf(err) === 400 && type === 'resource_already_exists_exception') return;
          throw err;
        }
      },
      { signal, deadlineMs: 60_000 },
    ).catch((err) => {
      ensured = undefined;
      throw err;
    });
    return ensured;
  }

  return {
    indexName,
    async record(items, signal) {
      if (items.length === 0) return;
      await ensure(signal);
      const operations: unknown[] = [];
      for (const item of items) {
        const id = createHash('sha256')
          .update([item.index, item.kind, item.seq, item.docId ?? ''].join('\u0000'))
          .digest('base64url');
        const source =
          item.source && item.source.length > MAX_SOURCE_CHARS
            ? `${item.source.slice(0, MAX_SOURCE_CHARS)}…`
            : item.source;
        operations.push({ index: { _index: indexName, _id: id } }, { ...item, source });
      }
      await retryingEs(
        async () => {
          const response = await client.bulk({ operations, refresh: 'wait_for' });
          if (response.errors) {
            const failed = response.items.find((i) => Object.values(i)[0]?.error);
            throw new Error(
              `could not record dead letters: ${JSON.stringify(Object.values(failed ?? {})[0]?.error)}`,
            );
          }
        },
        { signal },
      );
    },
    async summary(index, signal) {
      try {
        const response = await retryingEs(
          () =>
            client.search<DeadLetter>({
              index: indexName,
              query: { term: { index } },
              sort: [{ at: 'desc' }, { seq: 'desc' }],
              size: 1,
              track_total_hits: true,
            }),
          { signal, deadlineMs: 30_000 },
        );
        const total = response.hits.total;
        return {
          count: typeof total === 'number' ? total : (total?.value ?? 0),
          last: response.hits.hits[0]?._source,
        };
      } catch (err) {
        if (statusOf(err) === 404) return { count: 0 };
        throw err;
      }
    },
    async list(index, listOptions = {}) {
      try {
        const response = await client.search<DeadLetter>({
          index: indexName,
          query: { term: { index } },
          sort: [{ seq: 'asc' }],
          size: listOptions.size ?? 100,
        });
        return response.hits.hits.map((h) => h._source!).filter(Boolean);
      } catch (err) {
        if (statusOf(err) === 404) return [];
        throw err;
      }
    },
  };
}
