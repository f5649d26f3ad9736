/**
 * Turning enqueue calls into rows: options checked and merged with the task's defaults, payloads
 * checked to survive jsonb, then one INSERT for the whole batch.
 */
import type { Queryable } from '../store/db.js';
import type { NewRun, Store } from '../store/store.js';
import { KairosConflictError, KairosValidationError, describeValue } from '../core/errors.js';
import { assertDate, assertInteger, assertKey, assertName, assertOneOf, serializePayload } from '../core/validate.js';
import type { ConflictPolicy } from '../core/types.js';
import type { TaskDefinition } from './tasks.js';
import { givenRunSettings, optionalDuration } from './run-options.js';
import type { EnqueueItem, EnqueueOptions, EnqueueResult } from './types.js';

/**
 * The keys of {@link EnqueueOptions}, the one list enqueue() accepts (a key missing here, or here
 * and not in the interface, fails the type-check).
 */
export const ENQUEUE_OPTION_KEYS = {
  runAt: true, delay: true, priority: true, queue: true, key: true, conflict: true, retries: true, backoff: true,
  maxBackoff: true, timeout: true, misfireGrace: true, client: true,
} as const satisfies Record<keyof EnqueueOptions, true>;

/** The keys of an {@link EnqueueItem} of enqueueMany(): the run options without `client`, plus `task` and `payload`. */
export const ENQUEUE_ITEM_KEYS = (({ client: _client, ...run }) => ({ ...run, task: true, payload: true }) as const)(ENQUEUE_OPTION_KEYS) satisfies Record<keyof EnqueueItem, true>;

/** The keys of enqueueMany()'s second argument. */
export const ENQUEUE_MANY_OPTION_KEYS = { client: true, conflict: true } as const satisfies Record<keyof EnqueueManyOptions, true>;

/** Options of enqueueMany() as a whole. */
export type EnqueueManyOptions = Pick<EnqueueOptions, 'client' | 'conflict'>;

/**
 * Build the row of one run, checking everything. `field` prefixes error fields in batches. Run
 * options the call does not give are left null, for the insert to take from the task registry
 * (explicit option > registry > default, run_options in migration 0032); `unpublished` is the
 * local definition of a task this instance has not published yet, used in the registry's stead.
 * `definition` validates the payload.
 */
export function buildRun(task: string, payload: unknown, options: Omit<EnqueueOptions, 'client'>, definition: TaskDefinition | undefined, field = '', unpublished?: TaskDefinition): NewRun {
  const f = (name: string): string => (field ? `${field}.${name}` : name);
  assertName(task, f('task'));
  if (options === null || typeof options !== 'object') throw new KairosValidationError(f('options'), `Expected options to be an object, got ${describeValue(options)}`);
  const checked = definition?.validate ? validatePayload(definition, payload, f('payload')) : payload;
  const text = serializePayload(checked === undefined ? null : checked, f('payload'));
  return {
    task,
    queue: optional(options.queue ?? unpublished?.queue, (q) => assertName(q, f('queue'))),
    priority: optional(options.priority ?? unpublished?.priority, (p) => assertInteger(p, f('priority'), -1000, 1000)),
    payload_json: text,
    key: assertKey(options.key, f('key')),
    run_at: options.runAt === undefined ? null : assertDate(options.runAt, f('runAt')).toISOString(),
    delay_ms: optionalDuration(options.delay, f('delay')),
    grace_ms: optionalDuration(options.misfireGrace, f('misfireGrace')),
    ...givenRunSettings(task, options, unpublished, f),
  };
}

const optional = <T, R>(value: T | undefined, check: (value: T) => R): R | null => (value === undefined ? null : check(value));

function validatePayload(definition: TaskDefinition, payload: unknown, field: string): unknown {
  try {
    return definition.validate!(payload);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new KairosValidationError(field, `Expected \`${field}\` to pass the task's validation: ${detail}`, { cause: error });
  }
}

/** Insert runs; all share one conflict policy. Returns results in input order. */
export async function insertRuns(store: Store, runs: NewRun[], conflict: ConflictPolicy, now: Date | null, client?: Queryable, handoff = false): Promise<EnqueueResult[]> {
  assertOneOf(conflict, 'conflict', ['raise', 'ignore', 'replace'] as const);
  if (runs.length === 0) return [];
  if (conflict === 'replace' && runs.some((r) => r.key === null)) {
    throw new KairosValidationError('conflict', "Expected a `key` with conflict 'replace' (it replaces the pending run with the same key), got none");
  }
  try {
    const rows = await store.insertRuns(runs, conflict, now, client, handoff);
    // One row per run, in order. A run id is missing only under 'replace' (the run is running) or
    // 'ignore' (the run holding the key left the queue between the insert and the look-up).
    return rows.map((row, i) => {
      if (row.run_id === null || row.run_at_ms === null) {
        const busy = runs[i]!;
        throw new KairosConflictError(conflict === 'replace'
          ? `A run of task "${busy.task}" with key "${busy.key}" is already running; 'replace' only replaces pending runs`
          : `A run of task "${busy.task}" with key "${busy.key}" held the key but is gone; enqueue it again`);
      }
      return { id: row.run_id, inserted: row.inserted ?? true, runAt: new Date(row.run_at_ms) };
    });
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      const detail = (error as { detail?: string }).detail ?? '';
      throw new KairosConflictError(`A pending or running run already has this task and key ${detail.replace(/^Key /, '')} (use conflict 'ignore' or 'replace')`, { cause: error });
    }
    throw error;
  }
}
