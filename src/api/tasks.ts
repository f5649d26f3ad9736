/**
 * Task definitions: a named handler plus its defaults. The payload type given to `defineTask`
 * flows through `Kairos<Tasks>` to `enqueue`, so a wrong payload is a compile error.
 */
import type { TaskDefinition, TaskHandler, TaskOptions } from '../core/contracts.js';
import { KairosValidationError, describeValue } from '../core/errors.js';
import { assertKnownKeys, assertText } from '../core/validate.js';

/** The task contracts, defined in core so that the engine and the executors need not import api/. */
export type { TaskContext, TaskHandler, TaskOptions, TaskDefinition } from '../core/contracts.js';

/** A map of task names to definitions or bare handlers: the type parameter of `Kairos`. */
export type TaskMap = Record<string, TaskDefinition<any> | TaskHandler<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The payload type of a task definition or handler. */
export type PayloadOf<T> = T extends TaskDefinition<infer P> ? P : T extends TaskHandler<infer P> ? P : unknown;

/**
 * The keys of {@link TaskOptions}, the one list defineTask() accepts (a key missing here, or here
 * and not in the interface, fails the type-check).
 */
export const TASK_OPTION_KEYS = {
  retries: true, backoff: true, maxBackoff: true, timeout: true, queue: true, priority: true, exclusive: true, validate: true,
} as const satisfies Record<keyof TaskOptions, true>;

/** The keys of a {@link TaskDefinition}: the task options and `handler`. */
export const TASK_DEFINITION_KEYS = { ...TASK_OPTION_KEYS, handler: true } as const satisfies Record<keyof TaskDefinition, true>;

/** Define a task with a typed payload. */
export function defineTask<P = unknown>(handler: TaskHandler<P>, options: TaskOptions<P> = {}): TaskDefinition<P> {
  if (typeof handler !== 'function') {
    throw new KairosValidationError('handler', `Expected \`handler\` to be a function, got ${describeValue(handler)}`);
  }
  if (options === null || typeof options !== 'object') throw new KairosValidationError('options', `Expected the options of defineTask() to be an object, got ${describeValue(options)}`);
  assertKnownKeys(options, TASK_OPTION_KEYS, 'defineTask()');
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
    assertKnownKeys(value, TASK_DEFINITION_KEYS, `the definition of task \`${name}\``, `tasks.${name}.`);
    checkExclusive(value.exclusive, `tasks.${name}.exclusive`);
    return value;
  }
  throw new KairosValidationError(`tasks.${name}`, `Expected task \`${name}\` to be a function or defineTask(...), got ${describeValue(value)}`);
}
