import type { FastifyInstance } from 'fastify';
import type { ContentLog } from '../../log/types.ts';
import { HealthResponse } from '../apiSchemas.ts';
import type { Searcher } from '../searcher.ts';

/** `GET /healthz`: Elasticsearch and NATS reachable (200), or which is not (503). */
export function healthRoute(
  api: FastifyInstance,
  searcher: Pick<Searcher, 'health'>,
  log: Pick<ContentLog, 'head'>,
): void {
  api.get(
    '/healthz',
    {
      schema: {
        summary: 'Elasticsearch and NATS reachable',
        response: { 200: HealthResponse, 503: HealthResponse },
      },
    },
    async (_request, reply) => {
      const [elasticsearch, nats] = await Promise.all([searcher.health(), natsHealth(log)]);
      const ok = elasticsearch.ok && nats.ok;
      reply.code(ok ? 200 : 503);
      const failed = [!elasticsearch.ok && 'elasticsearch', !nats.ok && 'nats'].filter(Boolean).join(' and ');
      return {
        status: ok ? 'ok' : 'unavailable',
        elasticsearch,
        nats,
        ...(ok ? {} : { error: { code: 'unavailable', message: `${failed} not reachable` } }),
      };
    },
  );
}

async function natsHealth(
  log: Pick<ContentLog, 'head'>,
): Promise<{ ok: boolean; lastSeq?: number; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3_000);
    });
    const head = await Promise.race([log.head(), timeout]);
    return { ok: true, lastSeq: head.lastSeq };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
