import { errors } from '@elastic/elasticsearch';
import { TransientError } from '../schemas/errors.ts';
import { CursorExpiredError, IndexMissingError, InvalidQueryError } from './errors.ts';

/** The type of an Elasticsearch error response (the root cause's, when there is one). */
export function errorType(err: errors.ResponseError): string | undefined {
  const body = err.body as { error?: { type?: string; root_cause?: { type?: string }[] } } | undefined;
  return body?.error?.root_cause?.[0]?.type ?? body?.error?.type;
}

/**
 * Translate client errors into presslog's: what the caller must do, not what the
 * transport saw. `context` says whether a client-supplied cursor was part of the request.
 */
export function translate(err: unknown, context: { index: string; cursor: boolean }): unknown {
  if (err instanceof errors.ResponseError) {
    const type = errorType(err);
    const status = err.statusCode ?? 0;
    if (type === 'index_not_found_exception') return new IndexMissingError(context.index, { cause: err });
    if (context.cursor && (type === 'search_context_missing_exception' || status === 404)) {
      return new CursorExpiredError({ cause: err });
    }
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      return new TransientError(`elasticsearch answered ${status}`, { cause: err });
    }
    if (status === 400 || (context.cursor && status === 500)) {
      // The only client input in a request is checked text (q), checked filters and the
      // cursor. A 400 here means the text expanded into too many clauses or the cursor was
      // tampered with; no Elasticsearch internals go back to the caller.
      return context.cursor
        ? new InvalidQueryError('after', 'not a usable cursor (use the `next` value of a previous answer)', {
            cause: err,
          })
        : new InvalidQueryError('q', 'the query is too complex; use fewer words or operators', {
            cause: err,
          });
    }
    return err;
  }
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError
  ) {
    return new TransientError(`elasticsearch unreachable: ${err.message}`, { cause: err });
  }
  return err;
}

/**
 * A failed search inside an `_msearch` as the error the client throws for a single search
 * (so {@link translate} treats both alike: a missing index is `IndexMissingError`, ...).
 */
export function msearchItemError(item: { error: unknown; status: number }): errors.ResponseError {
  return new errors.ResponseError({
    body: { error: item.error, status: item.status },
    statusCode: item.status,
    headers: {},
    warnings: null,
    meta: {} as errors.ResponseError['meta']['meta'],
  });
}
