/**
 * Every error Kairos throws on purpose is a {@link KairosError}; each subclass names one kind of
 * failure so callers can branch with `instanceof` (or on `code`) instead of parsing text.
 */

/** Base class of every error Kairos throws deliberately. */
export class KairosError extends Error {
  override name = 'KairosError';
  /** A stable, machine-readable code (e.g. `KAIROS_VALIDATION`). */
  readonly code: string;

  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'KAIROS_ERROR';
  }
}

/** Bad input refused at the API: nothing was written. `field` names the offending option. */
export class KairosValidationError extends KairosError {
  override name = 'KairosValidationError';
  /** The option or argument that was wrong, e.g. `cron` or `payload.to`. */
  readonly field: string;

  constructor(field: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: 'KAIROS_VALIDATION' });
    this.field = field;
  }
}

/** A job key or name collided with an existing one under the `raise` conflict policy (or a query name was defined twice). */
export class KairosConflictError extends KairosError {
  override name = 'KairosConflictError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: 'KAIROS_CONFLICT' });
  }
}

/** A job, run, task or named query that was asked for does not exist. */
export class KairosNotFoundError extends KairosError {
  override name = 'KairosNotFoundError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: 'KAIROS_NOT_FOUND' });
  }
}

/**
 * Something is not in the state an operation needs: an instance not started (or not stopped), a
 * schema not migrated far enough, a node without the executor a run needs, tasks that cannot load.
 */
export class KairosStateError extends KairosError {
  override name = 'KairosStateError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: 'KAIROS_STATE' });
  }
}

/**
 * The database failed, could not be reached or started, or none was given; `cause` holds the
 * driver's (or the server process's) error when there is one.
 */
export class KairosDatabaseError extends KairosError {
  override name = 'KairosDatabaseError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: 'KAIROS_DATABASE' });
  }
}

/**
 * A run exceeded its timeout (handlers see this as the abort reason of their signal), or a wait
 * of the testing helpers passed its deadline.
 */
export class KairosTimeoutError extends KairosError {
  override name = 'KairosTimeoutError';

  constructor(message: string) {
    super(message, { code: 'KAIROS_TIMEOUT' });
  }
}

/** A run was cancelled (by `cancel()`, a `replace` overlap policy or shutdown). */
export class KairosCancelledError extends KairosError {
  override name = 'KairosCancelledError';

  constructor(message: string) {
    super(message, { code: 'KAIROS_CANCELLED' });
  }
}

/**
 * A role may not do what was asked: a job's owner lacks a privilege the job needs (CONNECT on its
 * database, membership of the shell role). Not retried: no retry can change it.
 */
export class KairosPermissionError extends KairosError {
  override name = 'KairosPermissionError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: 'KAIROS_PERMISSION' });
  }
}

/**
 * A failure that no retry can change. A handler may throw it too: the engine's executor sees
 * `retryable: false` and records the attempt as failed with no retry (failRuns: a null delay has
 * no retries), whatever retries are left.
 */
export class KairosPermanentError extends KairosError {
  override name = 'KairosPermanentError';
  readonly retryable = false;

  constructor(message: string, code: string) {
    super(message, { code });
  }
}

/** True when `error` is any {@link KairosError}. */
export function isKairosError(error: unknown): error is KairosError {
  return error instanceof KairosError;
}

/** Describe any JavaScript value for an "Expected …, got …" message without dumping huge objects. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : `Date ${value.toISOString()}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'function') return 'a function';
  return `an object`;
}
