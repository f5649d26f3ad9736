/**
 * `kairos-scheduler/testing`: helpers for testing code that uses Kairos, against a real PostgreSQL.
 * - createTestSchema: an isolated, migrated schema per test file (dropped afterwards).
 * - runTask: call a task handler directly with a realistic context, no database needed.
 * - waitForStatus / waitForRun: wait for an event with a bound instead of sleeping.
 * - drain: run everything due now, here, and wait until it is recorded.
 * - fireSchedules: fire the schedules due now, without waiting for the ticker.
 * - TestClock: pin "now" for the database queries.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../store/migrate.js';
import { KAIROS_TYPES } from '../store/db.js';
import { quoteIdent } from '../store/sql.js';
import { silentLogger } from '../core/logger.js';
import { toDefinition, type TaskContext, type TaskDefinition, type TaskHandler } from '../api/tasks.js';
import type { Kairos } from '../api/kairos.js';
import { internals } from '../api/internals.js';

/** Any Kairos instance, whatever its task map. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKairos = Kairos<any>;
import type { StatusChange } from '../core/types.js';
import { KairosTimeoutError, KairosValidationError } from '../core/errors.js';
import { assertKnownKeys } from '../core/validate.js';

export { TestClock } from '../core/clock.js';
export { silentLogger } from '../core/logger.js';

/** An isolated schema for one test file or test. */
export interface TestSchema {
  schema: string;
  connectionString: string;
  /** A small pool on the test database (for assertions with plain SQL); reads bigints as numbers, as Kairos does. */
  pool: pg.Pool;
  /** Drop the schema and end the pool. */
  drop(): Promise<void>;
}

/** Create and migrate a uniquely named schema (`test_xxxxxxxx`) on `connectionString`. */
export async function createTestSchema(connectionString = process.env.DATABASE_URL, prefix = 'test'): Promise<TestSchema> {
  if (!connectionString) throw new KairosValidationError('connectionString', 'createTestSchema needs a connection string (or DATABASE_URL)');
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  const pool = new pg.Pool({ connectionString, max: 5, types: KAIROS_TYPES });
  await migrate(pool, schema);
  return {
    schema,
    connectionString,
    pool,
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await pool.end();
    },
  };
}

/** The keys of a {@link TaskContext} that runTask() may be given (a key missing here, or here and not in the interface, fails the type-check). */
const CONTEXT_KEYS = {
  runId: true, attempt: true, retries: true, task: true, jobName: true, key: true, queue: true, priority: true,
  scheduledAt: true, dueAt: true, startedAt: true, latenessMs: true, signal: true, logger: true,
} as const satisfies Record<keyof TaskContext, true>;

/** Call a task handler as Kairos would, with a context you can override. Resolves to its output. */
export async function runTask<P>(task: TaskHandler<P> | TaskDefinition<P>, payload: P, context: Partial<TaskContext> = {}): Promise<unknown> {
  assertKnownKeys(context, CONTEXT_KEYS, 'runTask() context');
  const definition = toDefinition(task as TaskHandler, 'task') as TaskDefinition<P>;
  const now = new Date();
  const checked = definition.validate ? definition.validate(payload) : payload;
  return await definition.handler(checked, {
    runId: 1,
    attempt: 1,
    retries: 0,
    task: 'task',
    jobName: null,
    key: null,
    queue: 'default',
    priority: 5,
    scheduledAt: null,
    dueAt: now,
    startedAt: now,
    latenessMs: 0,
    signal: new AbortController().signal,
    logger: silentLogger,
    ...context,
  });
}

/**
 * Wait (at most `timeoutMs`) for a status change matching `predicate`. It sees only changes made
 * from the moment it is called (a change is a moment, not a state the database keeps): call it
 * before the action whose change it waits for, and await it after. For "this run has finished",
 * which the history keeps, use waitForRun, which also finds a run that finished before the call.
 */
export function waitForStatus(kairos: AnyKairos, predicate: (change: StatusChange) => boolean, timeoutMs = 10_000): Promise<StatusChange> {
  return subscribe(kairos, predicate, timeoutMs, `No matching status change within ${timeoutMs} ms`).promise;
}

/** A wait for a matching change, listening from now on; `settle` ends it early (listener removed). */
function subscribe(kairos: AnyKairos, predicate: (change: StatusChange) => boolean, timeoutMs: number, timeoutMessage: string) {
  let settle!: (outcome: { change: StatusChange } | { error: unknown }) => void;
  const promise = new Promise<StatusChange>((resolve, reject) => {
    const listener = (change: StatusChange): void => {
      if (predicate(change)) settle({ change });
    };
    const timer = setTimeout(() => settle({ error: new KairosTimeoutError(timeoutMessage) }), timeoutMs);
    settle = (outcome) => {
      clearTimeout(timer);
      kairos.off('status', listener);
      if ('change' in outcome) resolve(outcome.change);
      else reject(outcome.error);
    };
    kairos.on('status', listener);
  });
  return { promise, settle };
}

const FINAL = new Set(['completed', 'failed', 'cancelled', 'expired']);

/**
 * Wait (at most `timeoutMs`) for run `runId` to reach a final state (completed, failed, cancelled,
 * expired); resolves with the change that got it there. A run that finished before the call is
 * found in the history (its last entry, once the run has left the queue), so `await
 * kairos.enqueue(…)` then `await waitForRun(kairos, id)` never misses a quick run. The wait listens
 * first and looks second, so a run that finishes between the two is caught by one or the other.
 * A run finished on another node is found in the history; one finishing later on another node
 * is seen only with `clusterEvents: true` on this instance.
 */
export function waitForRun(kairos: AnyKairos, runId: number, timeoutMs = 10_000): Promise<StatusChange> {
  const wait = subscribe(kairos, (c) => c.runId === runId && FINAL.has(c.next), timeoutMs, `Run ${runId} did not reach a final state within ${timeoutMs} ms`);
  kairos.getRun(runId).then(({ live, last }) => {
    // Still in the queue (pending, running, or waiting for a retry): the listener hears the end.
    if (live || !last || !FINAL.has(last.status)) return;
    const previous = last.startedAt === null ? 'pending' : 'running';
    wait.settle({ change: { runId, job: last.jobName ?? last.task, task: last.task, key: last.key, previous, next: last.status as StatusChange['next'] } });
  }, (error: unknown) => wait.settle({ error }));
  return wait.promise;
}

/**
 * Run every run that is due now on this instance (which need not be started) until none is left,
 * and wait until each result is recorded. Returns how many attempts ran.
 */
export async function drain(kairos: AnyKairos, options: { timeoutMs?: number } = {}): Promise<number> {
  assertKnownKeys(options, { timeoutMs: true } satisfies Record<keyof typeof options, true>, 'drain()');
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const { producer, executor, completer } = internals(kairos).services;
  let attempts = 0;
  const count = (change: StatusChange): void => {
    if (change.previous === 'pending' && change.next === 'running') attempts++;
  };
  kairos.on('status', count);
  try {
    for (;;) {
      const before = attempts;
      await producer.runOnce();
      const idle = await executor.waitForIdle(Math.max(0, deadline - Date.now()));
      await completer.drain();
      if (!idle) throw new KairosTimeoutError('drain(): runs still executing at the deadline');
      if (attempts === before) return attempts;
    }
  } finally {
    kairos.off('status', count);
  }
}

/**
 * Fire the schedules due now on this instance (which need not be started), as its ticker would when
 * their time comes: one batch of due jobs (up to 100) gets its runs. Returns how many jobs it
 * handled. With a TestClock, advance the clock first; then drain() runs what it created. (The
 * engine services are internal: this is how a test moves a schedule along without waiting.)
 */
export function fireSchedules(kairos: AnyKairos): Promise<number> {
  return internals(kairos).services.ticker.materialise();
}
