import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { createImageQueue } from '../../ingest/images/queue.ts';
import { type ErasureResult, eraseHistory, eraseItem } from '../../log/erasure.ts';
import { type PurgeReport, purgeErased } from '../../projectors/erasure/purge.ts';
import { ConfigError } from '../../schemas/errors.ts';
import { auditErasure, auditText } from '../erasureAudit.ts';
import { storedId } from '../keys.ts';
import { createEsClient, createRedis, openBlobStore } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';
import { entityArgs, withContentLog } from './withContentLog.ts';

interface EraseOptions {
  reason?: string;
  ticket?: string;
  publicNote?: string;
  historyOnly?: boolean;
  verify?: boolean;
}

/** Who erases: `PRESSLOG_ACTOR`, else the OS user. */
function actor(): string {
  const fromEnv = process.env.PRESSLOG_ACTOR?.trim();
  if (fromEnv) return fromEnv.slice(0, 200);
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `presslog erase <type> <id> --reason TEXT`: crypto-shred an item and purge every copy of it. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('erase')
    .description(
      'erase an item for good: its keys are destroyed (every event of it becomes unreadable), an erasure record is appended, and its copies are purged (indexes, dead letters, snapshots, blobs)',
    )
    .argument('<type>', 'article, image or byline')
    .argument('<id>', 'the item id')
    .option('--reason <text>', 'why (kept in the erasure record: do not repeat the erased content)')
    .option('--ticket <ref>', 'the ticket, court order or request this erasure answers')
    .option('--public-note <text>', 'what readers are told where the item was (API 410 answer, web page)')
    .option(
      '--verify',
      'then check every store (as `presslog audit erasure` does) and exit 1 if anything of it is found; articles embedding an erased byline or image in the live index are re-rendered by the live projector, so run it once first when none is running',
    )
    .option(
      '--history-only',
      'articles only: make every earlier version unreadable and keep the current one published (revise first, then redact)',
    )
    .action(async (rawType: string, rawId: string, options: EraseOptions) => {
      const { type, id } = entityArgs(rawType, rawId);
      if (!options.reason?.trim())
        throw new ConfigError('--reason', 'say why the item is erased (--reason TEXT)');
      if (options.historyOnly && type !== 'article')
        throw new ConfigError('--history-only', 'only articles have a history to redact');
      const config = ctx.config();
      if (options.historyOnly) return redact(ctx, id, options);
      const es = createEsClient(config);
      try {
        const { result, purge, blobs, jobs, audit } = await withContentLog(ctx, async (log, nc, keys) => {
          const stored = storedId(config, keys, type, id);
          const result: ErasureResult = await eraseItem(log, keys, {
            entityType: type,
            id: stored,
            actor: actor(),
            reason: options.reason!.trim(),
            ...(options.ticket ? { ticket: options.ticket } : {}),
            ...(options.publicNote ? { publicNote: options.publicNote } : {}),
          });
          const store = openBlobStore(config, nc);
          let blobs = 0;
          for (const digest of result.blobDigests) if (await store.delete(digest)) blobs++;
          const jobs = type === 'image' ? await removeImageJobs(config, result.blobDigests) : 0;
          const purge: PurgeReport = await purgeErased({
            es,
            nc,
            names: config.names,
            entityType: type,
            id: stored,
            seq: result.seq,
          });
          const audit = options.verify
            ? await withRedis(config, (redis) =>
                auditErasure(
                  { log, nc, es, redis, blobs: store, names: config.names },
                  type,
                  stored,
                  result.blobDigests,
                ),
              )
            : undefined;
          return { result, purge, blobs, jobs, audit };
        });
        if (audit && !audit.clean) process.exitCode = 1;
        ctx.output(
          { ...result, blobsDeleted: blobs, imageJobsRemoved: jobs, purge, ...(audit ? { audit } : {}) },
          () =>
            [
              `${type} ${id}: ${result.status === 'erased' ? 'erased' : 'was already erased'} (erasure record at seq ${result.seq}; ${result.erasedMessages} message(s) now unreadable)`,
              `  blobs deleted: ${blobs}; image jobs removed: ${jobs}`,
              `  documents deleted: ${
                Object.entries(purge.documents)
                  .map(([i, n]) => `${i} ${n}`)
                  .join(', ') || 'none'
              }`,
              `  embedding articles deleted from kept/as-of indexes: ${Object.values(purge.embeddingArticles).reduce((a, b) => a + b, 0)}`,
              `  dead letters dropped: ${purge.deadLetters}; projection snapshots dropped: ${purge.snapshots}`,
              '  the live projector re-renders the articles that embedded it',
              ...(audit ? [auditText(audit)] : []),
            ].join('\n'),
        );
      } finally {
        await es.close();
      }
    });
}

/** `erase article <id> --history-only`: earlier versions unreadable, the current one kept. */
async function redact(ctx: CliContext, id: string, options: EraseOptions): Promise<void> {
  const config = ctx.config();
  const es = createEsClient(config);
  try {
    const { result, purge } = await withContentLog(ctx, async (log, nc, keys) => {
      const stored = storedId(config, keys, 'article', id);
      const result = await eraseHistory(log, keys, {
        id: stored,
        actor: actor(),
        reason: options.reason!.trim(),
        ...(options.ticket ? { ticket: options.ticket } : {}),
      });
      const purge = await purgeErased({
        es,
        nc,
        names: config.names,
        entityType: 'article',
        id: stored,
        seq: result.seq,
        historyOnly: true,
      });
      return { result, purge };
    });
    ctx.output({ ...result, purge }, () =>
      [
        `article ${id}: history redacted (${result.erasedMessages} earlier message(s) now unreadable; the current version restated at seq ${result.seq})`,
        `  copies deleted from kept/as-of indexes: ${Object.keys(purge.documents).length}; dead letters dropped: ${purge.deadLetters}`,
      ].join('\n'),
    );
  } finally {
    await es.close();
  }
}

/** Run `fn` with a Redis client of the configuration, quit afterwards. */
async function withRedis<T>(
  config: ReturnType<CliContext['config']>,
  fn: (redis: ReturnType<typeof createRedis>) => Promise<T>,
) {
  const redis = createRedis(config);
  redis.on('error', () => {});
  try {
    return await fn(redis);
  } finally {
    await redis.quit().catch(() => {});
  }
}

/**
 * Remove the BullMQ jobs of an erased image's files (queued, failed or completed: a
 * completed job keeps its result, the processed payload with the image's placeholder).
 * Jobs are keyed by the original's digest; an active job cannot be removed and is counted
 * out (it fails on its deleted blob, and the log refuses its outcome).
 */
async function removeImageJobs(
  config: ReturnType<CliContext['config']>,
  digests: readonly string[],
): Promise<number> {
  if (digests.length === 0) return 0;
  const redis = createRedis(config, { forBullmq: true });
  redis.on('error', () => {});
  const queue = createImageQueue({ connection: redis, names: config.names });
  let removed = 0;
  try {
    for (const digest of digests) {
      const job = await queue.getJob(digest);
      if (!job) continue;
      try {
        await job.remove();
        removed++;
      } catch {
        // Active (locked by a worker): see above.
      }
    }
  } finally {
    await queue.close();
    await redis.quit().catch(() => {});
  }
  return removed;
}
