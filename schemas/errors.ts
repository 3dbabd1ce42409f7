/**
 * The error family of presslog. Subclasses are named by what the caller must do:
 * reject (InvalidRecordError / InvalidEventError), reload and decide again
 * (ConcurrencyError), retry with backoff (TransientError), fix the setup (ConfigError).
 */
export class PresslogError extends Error {
  override name = 'PresslogError';
}

/** Where in an input a problem was found: file, line (or array index) and field. */
export interface InputLocation {
  file?: string;
  line?: number;
  index?: number;
  field?: string;
}

/** A source record that can never be accepted as it is. Never retry; reject it. */
export class InvalidRecordError extends PresslogError {
  override name = 'InvalidRecordError';
  constructor(
    message: string,
    readonly location: InputLocation = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** One violated rule of an event schema: the JSON pointer of the field and the rule's message. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** An event that breaks its schema. Never appended; during replay it is dead-lettered. */
export class InvalidEventError extends PresslogError {
  override name = 'InvalidEventError';
  constructor(
    readonly eventType: string,
    readonly problems: readonly FieldProblem[],
    options?: ErrorOptions & { eventId?: string },
  ) {
    const first = problems[0];
    const where = first ? ` at ${first.path || '/'}: ${first.message}` : '';
    const more = problems.length > 1 ? ` (+${problems.length - 1} more)` : '';
    super(
      `invalid ${eventType} event${options?.eventId ? ` ${options.eventId}` : ''}${where}${more}`,
      options,
    );
  }
}

/** Another writer appended to the subject first (JetStream's wrong-last-sequence). Reload and decide again. */
export class ConcurrencyError extends PresslogError {
  override name = 'ConcurrencyError';
  constructor(
    readonly subject: string,
    readonly expectedSeq: number,
    options?: ErrorOptions,
  ) {
    super(`${subject}: expected last sequence ${expectedSeq}, but another event was appended first`, options);
  }
}

/** A service was unreachable or overloaded. Retry with backoff. */
export class TransientError extends PresslogError {
  override name = 'TransientError';
}

/** A setting in the environment or on the command line is wrong. Exit code 2. */
export class ConfigError extends PresslogError {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${variable}: ${message}`, options);
  }
}

/** True when retrying the same operation later may succeed. */
export function isRetryable(err: unknown): boolean {
  return err instanceof TransientError;
}

/** An item whose content was erased: it takes no new events (except its erasure's). Never retry. */
export class ErasedItemError extends PresslogError {
  override name = 'ErasedItemError';
  constructor(
    readonly entityType: string,
    readonly entityId: string,
    options?: ErrorOptions,
  ) {
    super(`${entityType} ${entityId} was erased: it takes no new content`, options);
  }
}
