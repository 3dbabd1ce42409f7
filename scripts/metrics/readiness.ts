import type { Client } from '@elastic/elasticsearch';
import type { Redis } from 'ioredis';
import type { ContentLog } from '../../log/types.ts';
import type { Names, ProjectionName } from '../../schemas/names.ts';
import type { CheckResult, ReadinessReport } from '../../search/http/health.ts';
import { withTimeout } from './metrics.ts';
import { type ProjectionLagOptions, readProjectionLag } from './projectionLag.ts';

export type { CheckResult, ReadinessReport } from '../../search/http/health.ts';

const CHECK_TIMEOUT_MS = 3000;

/** A named check: resolves to its answer, or rejects with the reason. */
export type ReadinessCheck = () => Promise<CheckResult>;

/** Run every check at once (each bounded to 3 s); ready when all are ok. */
export function createReadiness(checks: Record<string, ReadinessCheck>): () => Promise<ReadinessReport> {
  return async () => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
        try {
          return [name, await withTimeout(CHECK_TIMEOUT_MS, name, check)];
        } catch (err) {
          return [
            name,
            { ok: false, reason: `${name}: ${err instanceof Error ? err.message : String(err)}` },
          ];
        }
      }),
    );
    const reasons = entries.flatMap(([name, c]) => (c.ok ? [] : [c.reason ?? `${name} failed`]));
    return {
      ready: reasons.length === 0,
      checks: Object.fromEntries(entries),
      ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}),
    };
  };
}

export function natsCheck(log: Pick<ContentLog, 'head'>): ReadinessCheck {
  return async () => ({ ok: true, lastSeq: (await log.head()).lastSeq });
}

export function elasticsearchCheck(client: Client): ReadinessCheck {
  return async () => {
    const health = await client.cluster.health({}, { requestTimeout: CHECK_TIMEOUT_MS, maxRetries: 0 });
    const ok = health.status !== 'red';
    return { ok, status: health.status, ...(ok ? {} : { reason: 'elasticsearch: cluster status red' }) };
  };
}

/** Every projection's alias exists (a search before the first projection or reindex has nothing to read). */
export function aliasesCheck(
  client: Client,
  names: Names,
  projections: readonly ProjectionName[],
): ReadinessCheck {
  return async () => {
    const missing: string[] = [];
    for (const projection of projections) {
      const alias = names.alias(projection);
      const exists = await client.indices.existsAlias(
        { name: alias },
        { requestTimeout: CHECK_TIMEOUT_MS, maxRetries: 0 },
      );
      if (!exists) missing.push(alias);
    }
    return missing.length === 0
      ? { ok: true }
      : { ok: false, missing, reason: `aliases missing: ${missing.join(', ')}` };
  };
}

/** No projection more than `maxLagEvents` events behind the head of the log. */
export function lagCheck(options: ProjectionLagOptions, maxLagEvents: number): ReadinessCheck {
  return async () => {
    const lags = await readProjectionLag(options);
    const behind = lags.filter((l) => l.lagEvents > maxLagEvents);
    const lag = Object.fromEntries(lags.map((l) => [l.projection, l.lagEvents]));
    return behind.length === 0
      ? { ok: true, lag, maxLagEvents }
      : {
          ok: false,
          lag,
          maxLagEvents,
          reason: `projector behind: ${behind.map((l) => `${l.projection} ${l.lagEvents} events`).join(', ')} (more than ${maxLagEvents})`,
        };
  };
}

export function redisCheck(redis: Redis): ReadinessCheck {
  return async () => ({ ok: (await redis.ping()) === 'PONG' });
}
