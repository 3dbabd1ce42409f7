import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Aborts when the request's deadline passes (reason: a 504 {@link HttpError}) or the
     * client goes away; handed to every Elasticsearch request the handler makes, so
     * abandoned work stops on the server too.
     */
    work: AbortSignal;
  }
}

/** Thrown as the abort reason when the client disconnected: there is nobody to answer. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

/**
 * Give every request a deadline and an abort signal: after `timeoutMs` the signal aborts
 * with a 504 answer, and when the client closes the connection first it aborts with
 * {@link ClientGoneError}. Cleared when the response is done.
 */
export function addDeadlines(app: FastifyInstance, timeoutMs: number): void {
  app.decorateRequest('work', undefined as unknown as AbortSignal);
  // Cleared when the answer is sent (onResponse), and when the connection closes first.
  const timers = new WeakMap<FastifyRequest, NodeJS.Timeout>();
  app.addHook('onResponse', async (request) => clearTimeout(timers.get(request)));
  app.addHook('onRequest', async (request, reply) => {
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new HttpError(
            504,
            'timeout',
            `no answer within ${timeoutMs} ms; try a narrower search`,
            {},
            {
              'retry-after': '1',
            },
          ),
        ),
      timeoutMs,
    );
    timer.unref();
    timers.set(request, timer);
    reply.raw.once('close', () => {
      clearTimeout(timer);
      if (!reply.raw.writableFinished)
        controller.abort(new ClientGoneError('the client closed the connection'));
    });
    request.work = controller.signal;
  });
}

/**
 * `work` run under the request's deadline: it gets the signal, and its promise loses the
 * race against the signal's abort, so a step that ignores the signal (a NATS read) cannot
 * hold the answer past the deadline either.
 */
export function withinDeadline<T>(
  request: FastifyRequest,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const signal = request.work;
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work(signal), aborted]).finally(() => {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}
