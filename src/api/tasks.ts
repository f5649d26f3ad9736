/**
 * Task definitions: a named handler plus its defaults. The payload type given to `defineTask`
 * flows through `Kairos<Tasks>` to `enqueue`, so a wrong payload is a compile error.
 */
import type { Logger } from '../core/logger.js';
import { KairosValidationError, describeValue } from '../core/errors.js';
import { assertText } from '../core/validate.js';

/** What a handler is told about the attempt it runs. */
export interface TaskContext {
  /** The run's id: stable across retries; use it to make side effects idempotent. */
  runId: number;
  /** 1 for the first attempt, 2 for the first retry… Also the run's fencing token. */
  attempt: number;
  /** How many retries the run has in all. */
  retries: number;
  /** The task name. */
  task: string;
  /** The schedule (job) name for scheduled runs, else null. */
  jobName: string | null;
  /** The run's dedup key, if any. */
  key: string | null;
  queue: string;
  priority: number;
  /** The occurrence this run is for (scheduled runs), else null. */
  scheduledAt: Date | null;
  /** The time the run was due (its occurrence time, or its enqueue/retry time). */
  dueAt: Date;
  /** When this attempt started, by the database clock. */
  startedAt: Date;
  /** How late this attempt started after it was due, in ms (database clock). */
  latenessMs: number;
  /** Aborted on timeout, cancellation or shutdown; `signal.reason` says which. */
  signal: AbortSignal;
  /** A logger bound to this run. */
  logger: Logger;
}

/** A task handler: resolve to succeed (the value is recorded as output), throw to fail. */
export type TaskHandler<P = unknown> = (payload: P, context: TaskContext) => unknown;

/** Per-task defaults; enqueue options override them. */
export interface TaskOptions<P = unknown> {
  /** Retries after a failed attempt. @default 3 */
  retries?: number;
  /** First retry delay (ms or a duration string); doubles each retry, with jitter. @default '1s' */
  backoff?: number | string;
  /** Longest retry delay. @default '1h' */
  maxBackoff?: number | string;
  /** Abort an attempt after this long (ms or duration string). @default no timeout */
  timeout?: number | string;
  /** Queue for runs of this task. @default 'default' */
  queue?: string;
  /** Priority (lower runs first). @default 5 (Priority.NORMAL) */
  priority?: number;
  /**
   * Never run two runs of this task at once anywhere in the cluster (a PostgreSQL advisory lock):
   * `true` locks on the task name, a string on that lock name (shared by several tasks).
   * @default false
   */
  exclusive?: boolean | string;
  /** Check payloads at enqueue and before running: return the payload or throw. (A zod schema's `parse` fits.) */
  validate?: (payload: unknown) => P;
}

/** A handler with its options, as registered. */
export interface TaskDefinition<P = unknown> extends TaskOptions<P> {
  handler: TaskHandler<P>;
}

/** A map of task names to definitions or bare handlers: the type parameter of `Kairos`. */
export type TaskMap = Record<string, TaskDefinition<any> | TaskHandler<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The payload type of a task definition or handler. */
export type PayloadOf<T> = T extends TaskDefinition<infer P> ? P : T extends TaskHandler<infer P> ? P : unknown;

/** Define a task with a typed payload. */
export function defineTask<P = unknown>(handler: TaskHandler<P>, options: TaskOptions<P> = {}): TaskDefinition<P> {
  if (typeof handler !== 'function') {
    throw new KairosValidationError('handler', `Expected \`handler\` to be a function, got ${describeValue(handler)}`);
  }
  return { ...options, handler };
}

/**
 * Check `exclusive`: true, false or a lock name. The name becomes the runs' lock_key, so it gets
 * the checks of every identifying string (a lone surrogate would merge two locks into one).
 */
function checkExclusive(value: unknown, field: string): void {
  if (value === undefined || typeof value === 'boolean') return;
  if (typeof value !== 'string' || value.length === 0 || value.length > 500) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be true, false or a lock name of 1-500 characters, got ${describeValue(value)}`);
  }
  assertText(value, field);
}

/** Accept either a bare handler or a definition. */
export function toDefinition(value: TaskHandler | TaskDefinition, name: string): TaskDefinition {
  if (typeof value === 'function') return { handler: value };
  if (value && typeof value === 'object' && typeof value.handler === 'function') {
    checkExclusive(value.exclusive, `tasks.${name}.exclusive`);
    return value;
  }
  throw new KairosValidationError(`tasks.${name}`, `Expected task \`${name}\` to be a function or defineTask(...), got ${describeValue(value)}`);
}
