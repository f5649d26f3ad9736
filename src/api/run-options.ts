/**
 * How a run's retry, backoff, timeout and lock settings are resolved, for enqueued runs and for
 * a schedule's runs alike: the call's option, else the task definition's, else Kairos' default.
 */
import { parseDuration } from '../core/duration.js';
import { assertInteger } from '../core/validate.js';
import type { TaskDefinition } from './tasks.js';

/** The options of a call that shape how a run is retried and bounded. */
export interface RunOptionsGiven {
  /** The retry limit: how many more attempts a failed run gets. */
  retries?: number;
  backoff?: number | string;
  maxBackoff?: number | string;
  timeout?: number | string;
}

/** The resolved settings, as the runs (and jobs) table columns name them. */
export interface RunSettings {
  max_retries: number;
  backoff_ms: number;
  backoff_max_ms: number;
  timeout_ms: number | null;
  lock_key: string | null;
}

/** Longest delay PostgreSQL's integer columns (and Node's timers) hold, in ms. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** A duration that may be absent (null), checked when given. */
export const optionalDuration = (v: unknown, field: string, minMs = 0): number | null => (v === undefined ? null : parseDuration(v, field, { minMs }));

/**
 * Resolve the settings of a run of `task`: 3 retries, a 1 s backoff doubling up to 1 h and no
 * timeout unless the call or the task says otherwise. `field` names an option in error messages
 * (batches prefix it with the item's index).
 */
export function resolveRunSettings(task: string, options: RunOptionsGiven, definition: TaskDefinition | undefined, field: (name: string) => string = (name) => name): RunSettings {
  return {
    max_retries: assertInteger(options.retries ?? definition?.retries ?? 3, field('retries'), 0, 1000),
    backoff_ms: parseDuration(options.backoff ?? definition?.backoff ?? 1000, field('backoff'), { minMs: 0, maxMs: MAX_DELAY_MS }),
    backoff_max_ms: parseDuration(options.maxBackoff ?? definition?.maxBackoff ?? 3_600_000, field('maxBackoff'), { minMs: 0, maxMs: MAX_DELAY_MS }),
    timeout_ms: optionalDuration(options.timeout ?? definition?.timeout, field('timeout'), 1),
    lock_key: lockKey(definition?.exclusive, task),
  };
}

/** The options a run is inserted with: null where neither the call nor `fallback` says (the insert fills them in). */
export type GivenRunSettings = { [K in keyof RunSettings]: RunSettings[K] | null };

/**
 * The settings of an enqueued run: only what the call gave (or, for an instance that defines the
 * task but has not published it yet, its definition), null for the rest. The insert fills each
 * null from the task registry, else from the defaults (run_options, migration 0032), so that runs
 * enqueued anywhere (SQL, an enqueue-only instance) get the task's options.
 */
export function givenRunSettings(task: string, options: RunOptionsGiven, fallback: TaskDefinition | undefined, field: (name: string) => string = (name) => name): GivenRunSettings {
  const retries = options.retries ?? fallback?.retries;
  const backoff = options.backoff ?? fallback?.backoff;
  const maxBackoff = options.maxBackoff ?? fallback?.maxBackoff;
  return {
    max_retries: retries === undefined ? null : assertInteger(retries, field('retries'), 0, 1000),
    backoff_ms: backoff === undefined ? null : parseDuration(backoff, field('backoff'), { minMs: 0, maxMs: MAX_DELAY_MS }),
    backoff_max_ms: maxBackoff === undefined ? null : parseDuration(maxBackoff, field('maxBackoff'), { minMs: 0, maxMs: MAX_DELAY_MS }),
    timeout_ms: optionalDuration(options.timeout ?? fallback?.timeout, field('timeout'), 1),
    lock_key: lockKey(fallback?.exclusive, task),
  };
}

/** A task's row in the registry (migration 0032): what its definition says, null for the rest. */
export interface TaskRegistryRow extends GivenRunSettings {
  task: string;
  queue: string | null;
  priority: number | null;
}

/** The registry row of a defined task (its definition was checked when it was defined). */
export function registryRow(task: string, definition: TaskDefinition): TaskRegistryRow {
  return {
    task,
    queue: definition.queue ?? null,
    priority: definition.priority ?? null,
    ...givenRunSettings(task, {}, definition),
  };
}

/** The advisory lock name of an exclusive task, or null. */
export function lockKey(exclusive: boolean | string | undefined, task: string): string | null {
  if (exclusive === undefined || exclusive === false) return null;
  return exclusive === true ? `task:${task}` : `lock:${exclusive}`;
}
