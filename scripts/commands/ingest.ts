import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { SOURCE_FORMATS, type SourceFormat } from '../../ingest/formats/mapped.ts';
import {
  createIngester,
  IngestFailedError,
  type IngestOptions,
  type IngestProgress,
  type IngestReject,
  type IngestStats,
  type IngestWarning,
} from '../../ingest/ingest.ts';
import { type InputListing, listInputFiles } from '../../ingest/listInputFiles.ts';
import { formatLocation } from '../../ingest/readRecords.ts';
import type { Config } from '../../schemas/config.ts';
import { configuredIdMapper } from '../keys.ts';
import { metricsPort, openIngestEndpoint } from '../metrics/endpoints.ts';
import { openBlobStore } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';
import { formatTable } from './formatTable.ts';
import { createRejectsWriter, type RejectsWriter } from './rejectsWriter.ts';
import { withContentLog } from './withContentLog.ts';

interface IngestCommandOptions {
  source: string;
  dryRun?: boolean;
  rejects?: string;
  force?: boolean;
  allowUnretract?: boolean;
  batchSize: number;
  maxImageMb: number;
  maxRecordMb: number;
  progress: boolean;
  format: SourceFormat | 'auto';
  mediaDir?: string;
  metricsPort?: number;
}

/** How many rejects and warnings are printed to stderr; the rest are counted (and in --rejects). */
const PRINT_LIMIT = 1000;

function positiveInt(value: string): number {
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

const MB = 1024 * 1024;
const size = (bytes: number) =>
  bytes >= 1024 * MB ? `${(bytes / (1024 * MB)).toFixed(2)} GB` : `${(bytes / MB).toFixed(1)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** `1 record`, `2 records`, `0 records`. */
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function eta(p: IngestProgress): string {
  if (p.bytesRead <= 0 || p.bytesTotal <= p.bytesRead) return '0s';
  const remaining = (p.elapsedMs / p.bytesRead) * (p.bytesTotal - p.bytesRead);
  return `${Math.ceil(remaining / 1000)}s`;
}

function summaryJson(stats: IngestStats, rejectsFiles?: { records: string; reasons: string }) {
  return {
    read: stats.read,
    appended: stats.appended,
    unchanged: stats.unchanged,
    rejected: stats.rejected,
    warnings: stats.warnings,
    duplicates: stats.duplicates,
    conflicts: stats.conflicts,
    deferred: stats.deferred,
    byType: stats.byType,
    lastSeq: stats.lastSeq,
    durationMs: stats.durationMs,
    eventsPerSecond: stats.eventsPerSecond,
    recordsPerSecond: stats.recordsPerSecond,
    files: stats.files,
    bytes: stats.bytes,
    dryRun: stats.dryRun,
    aborted: stats.aborted,
    correlationId: stats.correlationId,
    ...(rejectsFiles ? { rejectsFile: rejectsFiles.records, reasonsFile: rejectsFiles.reasons } : {}),
  };
}

function summaryText(
  stats: IngestStats,
  rejectsFiles: { records: string; reasons: string } | undefined,
  stopped: boolean,
): string {
  const verb = stats.dryRun ? 'would append' : 'appended';
  const types = Object.entries(stats.byType)
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => `${n} ${type}`)
    .join(', ');
  const rows: string[][] = [
    ['read', `${count(stats.read, 'record')} in ${count(stats.files, 'file')}, ${size(stats.bytes)}`],
    [verb, `${count(stats.appended, 'event')}${types ? ` (${types})` : ''}`],
    ['unchanged', `${count(stats.unchanged, 'record')} (already in the log as they are)`],
    [
      'rejected',
      `${stats.rejected}${rejectsFiles && stats.rejected > 0 ? ` (records in ${rejectsFiles.records}, reasons in ${rejectsFiles.reasons})` : ''}`,
    ],
    ['warnings', String(stats.warnings)],
  ];
  // Deferred articles are then decided like any other (appended, unchanged, rejected):
  // the row says they waited, not that they were appended.
  if (stats.deferred > 0)
    rows.push([
      'deferred',
      `${count(stats.deferred, 'article')} read after the rest of the input (a byline or image they use came later or not at all)`,
    ]);
  if (stats.duplicates > 0)
    rows.push([
      'duplicates',
      `${stats.duplicates} (already stored by the server: another run appended them)`,
    ]);
  if (stats.conflicts > 0)
    rows.push(['conflicts', `${stats.conflicts} (another writer changed the entity first; decided again)`]);
  rows.push([
    'duration',
    `${seconds(stats.durationMs)} (${stats.recordsPerSecond} records/s, ${stats.eventsPerSecond} events/s)`,
  ]);
  rows.push(['last seq', String(stats.lastSeq)]);
  const head = stopped
    ? 'stopped by an error (below): what is counted here was done; re-run to finish (it is safe)'
    : stats.dryRun
      ? 'dry run: nothing was appended or stored'
      : stats.aborted
        ? 'interrupted: the records read so far were ingested; re-run to finish (it is safe)'
        : stats.appended === 0 && stats.rejected === 0
          ? stats.unchanged === 1
            ? 'nothing new: the record is already in the log; nothing appended'
            : `nothing new: all ${stats.unchanged} records are already in the log; nothing appended`
          : `ingest done`;
  return `${head}\n${formatTable(rows.map(([k, v]) => [`  ${k}`, v!]))}`;
}

/** Lines for stderr while the run goes: through the progress bar on a TTY, else straight. */
interface ProgressOutput {
  print(line: string): void;
  onProgress(p: IngestProgress): void;
  /** Stop the progress bar, if one was drawn. */
  stop(): void;
}

/**
 * Progress on stderr: a bar when it is a TTY, else a line every 5 s; nothing with
 * `--no-progress` (`enabled` false). The bar is drawn on the first report.
 */
function createProgressOutput(enabled: boolean): ProgressOutput {
  const stderr = process.stderr;
  const tty = stderr.isTTY === true && enabled;
  let bar: cliProgress.MultiBar | undefined;
  let barItem: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  return {
    print(line) {
      if (bar) bar.log(`${line}\n`);
      else stderr.write(`${line}\n`);
    },
    onProgress(p) {
      const rate = p.elapsedMs > 0 ? Math.round((p.read / p.elapsedMs) * 1000) : 0;
      if (tty) {
        if (!bar) {
          bar = new cliProgress.MultiBar(
            {
              stream: stderr,
              format:
                'ingest |{bar}| {percentage}% | {read} records | {rate} rec/s | ETA {etaText} | appended {appended}, rejected {rejected}',
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          );
          barItem = bar.create(Math.max(1, p.bytesTotal), 0);
        }
        barItem?.update(p.bytesRead, { ...p, rate, etaText: eta(p) });
      } else if (enabled && p.phase !== 'done' && p.elapsedMs - lastLine >= 5_000) {
        lastLine = p.elapsedMs;
        const pct = p.bytesTotal > 0 ? Math.floor((p.bytesRead / p.bytesTotal) * 100) : 100;
        stderr.write(
          `ingest: ${pct}% (${size(p.bytesRead)} of ${size(p.bytesTotal)}), ${p.read} records, ${rate} records/s, appended ${p.appended}, rejected ${p.rejected}, ETA ${eta(p)}\n`,
        );
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

/**
 * The run's rejects and warnings: the first {@link PRINT_LIMIT} of each printed, every
 * reject written to the --rejects files; `printOverflow()` counts the unprinted rest.
 */
function createIssueReporter(output: ProgressOutput, rejectsWriter: RejectsWriter | undefined) {
  let printed = 0;
  let warned = 0;
  return {
    async onReject(r: IngestReject) {
      if (printed++ < PRINT_LIMIT) {
        output.print(`${formatLocation(r.location)}${r.field ? ` ${r.field}` : ''}: ${r.reason}`);
      }
      await rejectsWriter?.add(r);
    },
    onWarning(w: IngestWarning) {
      if (warned++ < PRINT_LIMIT)
        output.print(`warning: ${w.location ? `${formatLocation(w.location)}: ` : ''}${w.message}`);
    },
    printOverflow() {
      if (printed > PRINT_LIMIT)
        process.stderr.write(`... and ${printed - PRINT_LIMIT} more rejected records\n`);
      if (warned > PRINT_LIMIT) process.stderr.write(`... and ${warned - PRINT_LIMIT} more warnings\n`);
    },
  };
}

/** One run's settings: the configuration, the logger, the listed input and the command's options. */
interface IngestRun {
  config: Config;
  logger: Logger;
  input: InputListing;
  options: IngestCommandOptions;
}

/** Connect, create the stream unless dry-running, and ingest the listed input. */
function runIngest(
  ctx: CliContext,
  { config, logger, input, options }: IngestRun,
  hooks: Pick<IngestOptions, 'onReject' | 'onWarning' | 'onProgress'>,
): Promise<IngestStats> {
  return withContentLog(ctx, async (contentLog, nc, keys) => {
    // With --metrics-port, the appends are counted and served while the run lasts.
    const endpoint = await openIngestEndpoint(ctx, contentLog, options.metricsPort);
    const log = endpoint?.log ?? contentLog;
    if (!options.dryRun) {
      const report = await log.init();
      if (report.created) logger.info({ stream: report.stream }, 'created the content stream');
    }
    const ingester = createIngester({
      log,
      blobs: openBlobStore(config, nc),
      source: options.source,
      batchSize: options.batchSize,
      maxImageBytes: Math.round(options.maxImageMb * MB),
      maxRecordBytes: Math.round(options.maxRecordMb * MB),
      logger,
      mapId: configuredIdMapper(config, keys),
    });
    try {
      return await ingester.ingest(input, {
        dryRun: options.dryRun,
        allowUnretract: options.allowUnretract === true,
        signal: ctx.signal,
        ...hooks,
      });
    } finally {
      await endpoint?.close();
    }
  });
}

/** What a run did, the --rejects files it wrote, and what stopped it (thrown after the summary). */
interface IngestOutcome {
  stats: IngestStats;
  rejectsFiles?: RejectsWriter['files'];
  failure?: IngestFailedError;
}

/**
 * Run the ingest with its output wired up; a run stopped by an error still yields the
 * stats of what was done, with the error (`failure`) for the caller to report after them.
 */
async function ingestWithOutput(
  ctx: CliContext,
  paths: string[],
  options: IngestCommandOptions,
): Promise<IngestOutcome> {
  const config = ctx.config();
  // Usage errors (a missing path, a file that is not a record file) before any connection;
  // the ingester reads this listing rather than walking the paths again.
  const input = await listInputFiles(paths, { format: options.format, mediaDir: options.mediaDir });
  const logger = ctx.log();
  const output = createProgressOutput(options.progress);
  const rejectsWriter = options.rejects
    ? await createRejectsWriter(options.rejects, paths, input, options.force === true)
    : undefined;
  const issues = createIssueReporter(output, rejectsWriter);
  let stats: IngestStats;
  let failure: IngestFailedError | undefined;
  try {
    stats = await runIngest(
      ctx,
      { config, logger, input, options },
      {
        onReject: issues.onReject,
        onWarning: issues.onWarning,
        onProgress: output.onProgress,
      },
    );
  } catch (err) {
    if (!(err instanceof IngestFailedError)) throw err;
    failure = err;
    stats = err.stats;
  } finally {
    output.stop();
    await rejectsWriter?.close();
  }
  issues.printOverflow();
  return { stats, rejectsFiles: rejectsWriter?.files, failure };
}

/** The summary on stdout (or as JSON), then the exit: 1 when any record was rejected or the run was cut short. */
function reportOutcome(ctx: CliContext, { stats, rejectsFiles, failure }: IngestOutcome): void {
  ctx.output({ ...summaryJson(stats, rejectsFiles), ...(failure ? { stopped: true } : {}) }, () =>
    summaryText(stats, rejectsFiles, failure !== undefined),
  );
  // Reported like any failed command (exit 1), now that the summary says what was done.
  if (failure) throw failure.cause;
  if (stats.rejected > 0 || stats.aborted) process.exitCode = 1;
}

/**
 * `presslog ingest <paths...>`: ingest record files into the content log. Exit 0 when
 * every record was ingested (or unchanged), 1 when any was rejected (the valid ones
 * are still appended) or the run was interrupted, 2 for usage errors.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('ingest')
    .description(
      'ingest record files (.ndjson/.jsonl/.json, directories recursively): validated, ordered, idempotent',
    )
    .argument('<paths...>', 'record files or directories (the ingest root for image paths)')
    .option('--source <name>', 'source recorded on every event', 'ingest')
    .option('--dry-run', 'validate, map and compare with the log; append and store nothing')
    .option(
      '--rejects <file>',
      'write rejected records to FILE as they were (fix and re-ingest it) and why to FILE.reasons.ndjson; never an input, nor inside an input directory',
    )
    .option('--force', 'overwrite existing --rejects files')
    .option(
      '--allow-unretract',
      'let a changed article record publish a retracted article again (else it needs "unretract": true)',
    )
    .option('--batch-size <n>', 'records decided and appended together', positiveInt, 1000)
    .option('--max-image-mb <n>', 'largest image file accepted', positiveNumber, 50)
    .option('--max-record-mb <n>', 'largest record (line or array element) read', positiveNumber, 8)
    .addOption(
      new Option('--format <format>', 'input format; auto tells each file by its content')
        .choices(['auto', ...SOURCE_FORMATS])
        .default('auto'),
    )
    .option(
      '--media-dir <dir>',
      'where NITF/NewsML-G2/ninjs/WordPress image files are (default: beside each file)',
    )
    .option('--no-progress', 'no progress bar or progress lines')
    .option(
      '--metrics-port <port>',
      'serve /metrics (appends by type, latency, conflicts, rejects) while it runs',
      metricsPort,
    )
    .action(async (paths: string[], options: IngestCommandOptions) => {
      reportOutcome(ctx, await ingestWithOutput(ctx, paths, options));
    });
}
