import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { ConfigError, TransientError } from '../../schemas/errors.ts';

/**
 * JetStream API error codes that nats.js's `JetStreamApiCodes` lacks (3.x); the others
 * are compared through it. Numbers as in nats-server's errors.json.
 */
export const MoreJetStreamApiCodes = {
  /** JSStreamMessageExceedsMaximumErr: "message size exceeds maximum allowed". */
  MessageTooLarge: 10054,
  /** JSStreamNameExistErr: "stream name already in use with a different configuration". */
  StreamNameInUse: 10058,
} as const;

/** True when `err` is JetStream's answer with this API error code. */
export function isJetStreamApiError(err: unknown, code: number): err is JetStreamApiError {
  return err instanceof JetStreamApiError && err.code === code;
}

export function isStreamNotFound(err: unknown): boolean {
  return isJetStreamApiError(err, JetStreamApiCodes.StreamNotFound);
}

/** Errors after which a request may succeed later: the connection, not the request, failed. */
export function isTransportError(err: unknown): boolean {
  return (
    err instanceof TimeoutError ||
    err instanceof ClosedConnectionError ||
    err instanceof ConnectionError ||
    err instanceof DrainingConnectionError ||
    err instanceof RequestError ||
    err instanceof NoRespondersError
  );
}

/**
 * nats.js turns "no responders" on a JetStream request into JetStreamNotEnabled (not
 * exported from the public module): for a publish it means no stream stores the subject.
 */
export function isNoResponders(err: unknown): boolean {
  if (err instanceof NoRespondersError) return true;
  if (err instanceof RequestError && err.isNoResponders()) return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return (
    (err as Error | null)?.name === 'JetStreamNotEnabled' ||
    (cause !== undefined && cause !== err && isNoResponders(cause))
  );
}

export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

export function streamMissing(stream: string, err: unknown): ConfigError {
  return new ConfigError(stream, `stream not found: run \`presslog init\` first`, { cause: err });
}

/** A failed JetStream request as the caller should see it: setup missing, retry later, or as it came. */
export function wrapRequestError(stream: string, what: string, err: unknown): Error {
  if (isStreamNotFound(err)) return streamMissing(stream, err);
  if (isTransportError(err)) return new TransientError(`${what}: ${(err as Error).message}`, { cause: err });
  return err as Error;
}
