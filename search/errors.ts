import { PresslogError } from '../schemas/errors.ts';

/**
 * A search parameter the caller sent cannot be used as it is (a bad date, a size out of
 * range, a cursor from another search). Never retry; fix the request. HTTP 400, CLI exit 2.
 */
export class InvalidQueryError extends PresslogError {
  override name = 'InvalidQueryError';
  constructor(
    /** The parameter at fault, as the caller spelled it (`q`, `size`, `from`, `after`, ...). */
    readonly parameter: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${parameter}: ${message}`, options);
  }
}

/**
 * The point in time behind a `next` cursor has expired (or the server restarted): the
 * caller must start the search again from the first page. HTTP 410.
 */
export class CursorExpiredError extends PresslogError {
  override name = 'CursorExpiredError';
  constructor(options?: ErrorOptions) {
    super('this cursor has expired; run the search again from the first page', options);
  }
}

/**
 * The projection's index (its alias) does not exist yet: nothing has been indexed in this
 * namespace. Run `presslog reindex`. HTTP 503.
 */
export class IndexMissingError extends PresslogError {
  override name = 'IndexMissingError';
  constructor(
    readonly index: string,
    options?: ErrorOptions & { outdated?: boolean },
  ) {
    super(
      options?.outdated
        ? `index ${index} was built by an older version of presslog; rebuild it with \`presslog reindex\``
        : `index ${index} does not exist yet; build it with \`presslog reindex\``,
      options,
    );
  }
}
