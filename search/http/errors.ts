import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply } from 'fastify';
import { PresslogError, TransientError } from '../../schemas/errors.ts';
import { CursorExpiredError, IndexMissingError, InvalidQueryError } from '../errors.ts';

/** An error that is the answer: a status, a stable code and a message safe to show. */
export class HttpError extends PresslogError {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Fields beside `error` in the body, e.g. `lag`. */
    readonly top: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
  /** Fields inside `error`, e.g. `parameter`. */
  extra?: Record<string, unknown>;
  /** Fields beside `error`, e.g. `lag`. */
  top?: Record<string, unknown>;
  headers?: Record<string, string>;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Map anything thrown to the answer the client gets; unknown errors never reveal details. */
export function answerFor(err: unknown): ErrorAnswer {
  if (err instanceof HttpError)
    return { status: err.status, code: err.code, message: err.message, top: err.top, headers: err.headers };
  if (err instanceof InvalidQueryError) {
    return {
      status: 400,
      code: 'invalid_parameter',
      message: err.message,
      extra: { parameter: err.parameter },
    };
  }
  if (err instanceof CursorExpiredError) return { status: 410, code: 'cursor_expired', message: err.message };
  if (err instanceof IndexMissingError) {
    return { status: 503, code: 'not_ready', message: err.message, headers: { 'retry-after': '5' } };
  }
  if (err instanceof TransientError) {
    return {
      status: 503,
      code: 'unavailable',
      message: 'a backing service is unavailable; try again shortly',
      headers: { 'retry-after': '1' },
    };
  }
  const fe = err as Partial<FastifyError>;
  if (fe.validation) {
    const first = fe.validation[0];
    const parameter =
      first?.instancePath?.replace(/^\//, '') ||
      (first?.params as { missingProperty?: string })?.missingProperty;
    return {
      status: 400,
      code: 'invalid_parameter',
      message: `${fe.validationContext ?? 'request'}${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}`,
      extra: parameter ? { parameter } : {},
    };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      code: (fe.code ?? 'bad_request').toLowerCase(),
      message: fe.message ?? 'bad request',
    };
  }
  return { status: 500, code: 'internal', message: 'internal error; the server log has the details' };
}

export function sendError(reply: FastifyReply, answer: ErrorAnswer): FastifyReply {
  for (const [name, value] of Object.entries(answer.headers ?? {})) reply.header(name, value);
  return reply
    .code(answer.status)
    .type('application/json; charset=utf-8')
    .send({ ...answer.top, error: { code: answer.code, message: answer.message, ...answer.extra } });
}

/** Answers for requests Node's HTTP parser refused before Fastify saw them, as JSON too. */
export function clientErrorHandler(maxHeaderBytes: number) {
  return (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'request_too_large', `request line and headers exceed ${maxHeaderBytes} bytes`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'request_timeout', 'request timed out']
          : [400, 'bad_request', 'malformed HTTP request'];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}
