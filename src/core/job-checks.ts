/**
 * What a job row must hold to be planned or run. A row may come from the API, from plain SQL (a
 * tenant granted job_scheduler writes `jobs` directly), from a superuser or from an older version,
 * so the engine checks the row it reads, not only the input the API took. One owner for the rule:
 * the ticker quarantines a row that fails these checks (src/engine/ticker.ts), schedule() and
 * enable() refuse to write a definition that would (src/api/jobs.ts), and the executors fail a
 * run whose job row fails them when the attempt starts.
 *
 * Every check throws a KairosValidationError whose message starts with the column and its value,
 * e.g. `next_run -infinity is not a time between the years 1 and 9999`: it becomes the job's
 * broken_reason and the alert's message.
 */
import { KairosValidationError, describeValue } from './errors.js';
import { assertTimeZone } from './timezone.js';
import { assertExceptions } from './calendar.js';
import type { DueJob, JobPlan } from './planner.js';

/** The largest run_count a job may hold: a million below the integer limit (a pass adds its fires). Migration 0016 checks the same. */
export const MAX_RUN_COUNT = 2_146_483_647;
const INT_MAX = 2_147_483_647;
/** Times a job may hold: the years 1 to 9999, as the API takes them (and as every reader can show them). */
const FIRST_MS = Date.parse('0001-01-01T00:00:00Z');
const END_MS = Date.parse('+010000-01-01T00:00:00Z');
const KINDS = ['cron', 'interval', 'once', 'custom', 'manual'];
/** The job types the engine knows (an executor each). */
export const JOB_TYPES: readonly string[] = ['task', 'sql', 'shell', 'steps'];
const CATCH_UP = ['skip', 'latest', 'all'];
const OVERLAP = ['allow', 'skip', 'queue', 'replace'];

/** A value as a message shows it: times as ISO text, infinities as PostgreSQL writes them. */
function shown(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid date' : value.toISOString();
  if (value === Infinity) return 'infinity';
  if (value === -Infinity) return '-infinity';
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') return String(value);
  return describeValue(value);
}

function fail(column: string, value: unknown, detail: string): never {
  throw new KairosValidationError(column, `${column} ${shown(value)} ${detail}`);
}

/** Run a check of the API's own; its refusal becomes the column's reason. */
function refusedBy(column: string, value: unknown, check: () => unknown): void {
  try {
    check();
  } catch (error) {
    fail(column, value, `is refused: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function checkTime(column: string, value: unknown, required: boolean): void {
  if (value === null || value === undefined) {
    if (required) fail(column, value, 'is missing: the schedule needs it');
    return;
  }
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (!(ms >= FIRST_MS && ms < END_MS)) fail(column, value, 'is not a time between the years 1 and 9999');
}

function checkMs(column: string, value: unknown, nullable: boolean): void {
  if (value === null && nullable) return;
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
    fail(column, value, `is not a whole number of milliseconds from 0 to ${Number.MAX_SAFE_INTEGER}`);
  }
}

function checkOneOf(column: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value !== 'string' || !allowed.includes(value)) fail(column, value, `is not one of ${allowed.join(', ')}`);
}

/** The schedule's own columns: those of its kind must be there and hold what the planner can use. */
function checkSchedule(job: DueJob): void {
  checkOneOf('schedule_kind', job.kind, KINDS);
  refusedBy('timezone', job.timezone, () => assertTimeZone(job.timezone));
  if (job.kind === 'cron' && (typeof job.cron !== 'string' || job.cron.trim() === '')) fail('cron', job.cron, 'is empty: a cron job needs an expression');
  if (job.kind === 'interval') {
    const ms = job.intervalMs;
    if (!(typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 1000)) {
      const value = ms === null ? 'NULL' : `of ${shown(ms)} ms`;
      throw new KairosValidationError('schedule_interval', `schedule_interval ${value} is not a whole number of milliseconds from 1000 to ${Number.MAX_SAFE_INTEGER}`);
    }
    // The grid's anchor: schedule_time, or the row's creation time when it has none.
    if (job.scheduleTime === null && job.createdAt !== undefined) checkTime('created_at', job.createdAt, true);
    else checkTime('schedule_time', job.scheduleTime, true);
  }
  if (job.kind === 'once') checkTime('schedule_time', job.scheduleTime, true);
}

/**
 * Check a job row before it is planned.
 * @throws {KairosValidationError} Naming the first column whose value cannot be planned.
 */
export function checkDueJob(job: DueJob): void {
  if (job.type !== undefined) checkOneOf('job_type', job.type, JOB_TYPES);
  if (job.command !== undefined && (typeof job.command !== 'string' || job.command === '')) fail('command', job.command, 'is empty: a run needs a command (the task name of a task job)');
  checkSchedule(job);
  checkTime('next_run', job.nextRun, false);
  checkTime('end_time', job.endAt, false);
  if (job.maxRuns !== null && !(Number.isInteger(job.maxRuns) && job.maxRuns >= 1)) fail('max_runs', job.maxRuns, 'is not a whole number of at least 1');
  if (!(Number.isInteger(job.runCount) && job.runCount >= 0 && job.runCount <= MAX_RUN_COUNT)) {
    fail('run_count', job.runCount, `is not from 0 to ${MAX_RUN_COUNT} (a million below the integer limit, so that planning can count its fires)`);
  }
  checkOneOf('catch_up', job.catchUp, CATCH_UP);
  checkOneOf('overlap', job.overlap, OVERLAP);
  checkMs('max_lateness_ms', job.maxLatenessMs, false);
  checkMs('misfire_grace_ms', job.misfireGraceMs, true);
  refusedBy('exceptions', job.exceptions, () => assertExceptions(job.exceptions));
}

/**
 * Check a plan before it is written: every time it holds within the years 1 to 9999, and the run
 * count within its type.
 * @throws {KairosValidationError} When the schedule leads out of range (e.g. an interval of centuries).
 */
export function checkPlan(job: DueJob, plan: JobPlan): void {
  if (plan.nextRun !== null) checkTime('next_run', plan.nextRun, false);
  for (const occurrence of plan.occurrences) checkTime('next_run', occurrence.scheduledAt, false);
  if (job.runCount + plan.fired > INT_MAX) fail('run_count', job.runCount, `cannot count ${plan.fired} more fires`);
}

/**
 * Check the job row an in-database run (SQL, shell, steps) starts from, read when the attempt
 * starts: the job may have been changed since the run was queued.
 * @throws {KairosValidationError} Naming the job and the column, e.g. a NULL command.
 */
export function checkRunJob(row: Record<'job_name' | 'job_type' | 'command' | 'owner' | 'options', unknown>, run: { run_id: number; job_type: string }): void {
  const name = String(row.job_name);
  const refuse = (column: string, detail: string): never => {
    throw new KairosValidationError(column, `job "${name}" cannot run: ${detail}`);
  };
  if (typeof row.job_type !== 'string' || !JOB_TYPES.includes(row.job_type)) refuse('job_type', `job_type ${shown(row.job_type)} is not one of ${JOB_TYPES.join(', ')}`);
  if (row.job_type !== run.job_type) refuse('job_type', `it is now a ${String(row.job_type)} job; run ${run.run_id} was made for a ${run.job_type} job`);
  if (row.job_type !== 'steps' && (typeof row.command !== 'string' || row.command.trim() === '')) refuse('command', `command ${shown(row.command)} is empty`);
  if (typeof row.owner !== 'string' || row.owner === '') refuse('owner', `owner ${shown(row.owner)} is not a role`);
  if (row.options !== null && row.options !== undefined && (typeof row.options !== 'object' || Array.isArray(row.options))) {
    refuse('options', `options ${shown(row.options)} is not a JSON object`);
  }
}
