import type { Client } from '@elastic/elasticsearch';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ReindexReport } from '../../../projectors/rebuild/reindex.ts';
import type { Config } from '../../../schemas/config.ts';
import type { Names } from '../../../schemas/names.ts';
import type { Measurement } from '../measurement.ts';

export interface ReplayBenchOptions {
  config: Config;
  nc: NatsConnection;
  es: Client;
  /** Events in the generated log. */
  events: number;
  /** Article body size range in bytes (default 2-20 KiB). */
  bodyBytes?: readonly [number, number];
  /** Single appends timed for append → searchable (default 1000; 0 skips). */
  latencySamples?: number;
  /** Alternating rounds of ours and the ceiling; the best of each counts (default 2). */
  rounds?: number;
  /** Also time `reindex all --partitions K` for each K (and the single process alike). */
  partitions?: readonly number[];
  /** Also time a rebuild of the same log sealed, against the plaintext one (alternating rounds). */
  sealed?: boolean;
  /** Keep the benchmark's stream and indexes (default: delete them). */
  keepData?: boolean;
  log?: Logger;
  signal?: AbortSignal;
}

/** CPU seconds of every round, one list per side (see `ReplayBenchDetails.cpu`). */
export interface ReplayCpu {
  ours: number[];
  oursEs: number[];
  ceiling: number[];
  ceilingEs: number[];
  ceilingWithRead: number[];
  ceilingWithReadEs: number[];
}

/** Extra facts of a run, printed with the table and in `--json` as a last line. */
export interface ReplayBenchDetails {
  namespace: string;
  events: number;
  logBytes: number;
  buildSeconds: number;
  reindex: Pick<
    ReindexReport,
    'durationMs' | 'phasesMs' | 'docsWritten' | 'peakRssBytes' | 'peakRssByPhase' | 'state' | 'seq'
  >;
  ceilingSeconds: number;
  /** The ceiling's load while the same process reads the whole log from NATS (best round). */
  ceilingWithReadSeconds: number;
  /** Every round's time: ours, the ceiling, and the ceiling while reading the log. */
  runs: { ours: number[]; ceiling: number[]; ceilingWithRead: number[] };
  /**
   * CPU seconds of every round: the reindex process and Elasticsearch during ours; the
   * loading client and Elasticsearch during the ceiling. On a shared machine this says
   * who the time went to.
   */
  cpu: ReplayCpu;
  finalDocs: number;
}

export interface ReplayBenchResult {
  measurements: Measurement[];
  details: ReplayBenchDetails;
}

/** One replay benchmark's run: its options, scratch namespace, log head and the ceiling's files and indexes. */
export interface ReplayRun {
  options: ReplayBenchOptions;
  namespace: string;
  names: Names;
  /** The generated log's last sequence. */
  lastSeq: number;
  /** Projection → the fresh index the ceiling loads. */
  target: Record<string, string>;
  /** The final documents exported for the ceiling, as an NDJSON bulk body. */
  file: string;
  /** Environment of the reindex process beyond the namespace (a sealed log's master key file). */
  env?: Record<string, string>;
}
