import { errors } from '@elastic/elasticsearch';
import { type RetryOptions, retrying } from '../../log/async.ts';

/** Status codes after which the same Elasticsearch request may succeed later. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504 || status === 500;
}

/** True when an Elasticsearch client error is worth retrying: no connection, a timeout, overload. */
export function isRetryableEsError(err: unknown): boolean {
  if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError) return true;
  if (err instanceof errors.NoLivingConnectionsError) return true;
  if (err instanceof errors.ResponseError) return isRetryableStatus(err.statusCode);
  return false;
}

/** HTTP status of an Elasticsearch client error, when it has one. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof errors.ResponseError ? err.statusCode : undefined;
}

/** {@link retrying} an Elasticsearch request: retries what {@link isRetryableEsError} accepts. */
export function retryingEs<T>(
  fn: () => Promise<T>,
  options: Omit<RetryOptions, 'retryable'> = {},
): Promise<T> {
  return retrying(fn, { ...options, retryable: isRetryableEsError });
}
