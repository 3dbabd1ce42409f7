import type { FastifyInstance } from 'fastify';
import type { ContentLog } from '../../log/types.ts';
import { LiveResponse, ReadyResponse } from '../apiSchemas.ts';
import type { Searcher } from '../searcher.ts';

/** One readiness check's answer: `reason` says why not when `ok` is false. */
export interface CheckResult {
  ok: boolean;
  reason?: string;
  [detail: string]: unknown;
}

/** Every check's answer; ready when all are ok. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
  /** The failed checks' reasons, joined. */
  reason?: string;
}

/**
 * `GET /healthz`: the process is alive and answering (always 200; for a liveness probe).
 * `GET /readyz`: the services the API needs answer — by default NATS and Elasticsearch;
 * a composition root passes `readiness` to check more (aliases, projector lag). 503 with
 * every check's answer and the reasons when not ready.
 */
export function healthRoute(
  api: FastifyInstance,
  searcher: Pick<Searcher, 'health'>,
  log: Pick<ContentLog, 'head'>,
  readiness?: () => Promise<ReadinessReport>,
): void {
  api.get(
    '/healthz',
    { schema: { summary: 'The process is alive', response: { 200: LiveResponse } } },
    async () => ({ status: 'ok' }),
  );
  api.get(
    '/readyz',
    {
      schema: {
        summary: 'NATS, Elasticsearch (and, when configured, the aliases and projector lag) ready',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const report = await (readiness ?? (() => defaultReadiness(searcher, log)))();
      reply.code(report.ready ? 200 : 503);
      return {
        status: report.ready ? 'ok' : 'unavailable',
        checks: report.checks,
        ...(report.ready ? {} : { error: { code: 'unavailable', message: report.reason ?? 'not ready' } }),
      };
    },
  );
}

async function defaultReadiness(
  searcher: Pick<Searcher, 'health'>,
  log: Pick<ContentLog, 'head'>,
): Promise<ReadinessReport> {
  const [es, nats] = await Promise.all([searcher.health(), natsHealth(log)]);
  const elasticsearch: CheckResult = es.ok ? { ...es } : { ...es, reason: 'elasticsearch not reachable' };
  const checks = { nats, elasticsearch };
  const reasons = Object.values(checks).flatMap((c) => (c.ok ? [] : [c.reason ?? 'failed']));
  return { ready: reasons.length === 0, checks, ...(reasons.length ? { reason: reasons.join('; ') } : {}) };
}

async function natsHealth(log: Pick<ContentLog, 'head'>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3_000);
    });
    const head = await Promise.race([log.head(), timeout]);
    return { ok: true, lastSeq: head.lastSeq };
  } catch (err) {
    return { ok: false, reason: `nats not reachable: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(timer);
  }
}
