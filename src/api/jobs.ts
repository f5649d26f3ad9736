/**
 * Job-level operations shared by the Kairos class: upsert a schedule, enable/disable, trigger,
 * delete, and the read side (jobs, runs, history, nodes).
 */
import type { Store } from '../store/store.js';
import { inTransaction } from '../store/db.js';
import { toJob, toRun, toHistoryEntry, toNode, toDueJob } from '../store/rows.js';
import type { Job, Run, HistoryEntry, NodeInfo } from '../core/types.js';
import type { HistoryFilter, JobFilter, RunFilter } from './types.js';
import { KairosNotFoundError, KairosValidationError } from '../core/errors.js';
import { nextOccurrences } from '../core/schedule.js';
import { assertInteger, assertName, assertText, serializePayload } from '../core/validate.js';
import { firstNextRun, type JobColumns, type JobDefinition } from './schedules.js';
import type { GetJobRow } from '../store/queries.js';
import { planJob, scheduleOf, type DueJob } from '../core/planner.js';
import { checkDueJob, checkPlan } from '../core/job-checks.js';

/**
 * Insert or update a job by name; concurrent declarations of the same job are safe. The rule
 * (when the schedule counts as changed, what an unchanged one keeps) is store_job's (migration
 * 0020), which the SQL API's define_job follows too; this side computes the first next_run of a
 * new or changed schedule with its own schedule code and checks the definition.
 */
export async function upsertJob(store: Store, def: JobDefinition, now: Date | null): Promise<Job> {
  return inTransaction(store.pool, async (client) => {
    const [clock] = await store.sql.dbNow(client);
    const dbNow = now ?? clock!.db_time;
    const nextRun = firstNextRun(def, dbNow);
    // Refused before anything is written: the definition as a new (or changed) job would hold it.
    checkDefinition(def.row, nextRun, 0, dbNow);
    const { enabled, interval_ms, ...columns } = def.row;
    // `enabled` only for a new job: a redeclaration does not re-enable a job that was disabled.
    const definition = { ...columns, schedule_interval: interval_ms === null ? null : `${interval_ms} milliseconds`, if_new: { enabled } };
    const [stored] = await store.sql.storeJob({ definition: JSON.stringify(definition), first_next_run: nextRun, at: dbNow }, client);
    // An unchanged schedule kept its cursor and count: they must pass the same checks (thrown
    // here, the error rolls the definition back).
    checkDueJob({ ...toDueJob(stored!), command: stored!.command });
    return toJob(stored!);
  });
}

/**
 * Refuse a definition the ticker would quarantine (the same checks, core/job-checks.ts): e.g. an
 * interval so long that its first occurrence is after the year 9999.
 */
function checkDefinition(row: JobColumns, nextRun: Date | null, runCount: number, now: Date): void {
  // Not stored yet, so no id (NaN, as before; the checks do not read it); an interval without
  // startAt is anchored at `now` (store_job's `at`), as created_at stands for.
  checkDueJob({ ...toDueJob({ ...row, job_id: Number.NaN, next_run: nextRun, run_count: runCount, planned: true, created_at: now }), command: row.command });
}

/**
 * Enable or disable a job. Enabling resets the consecutive failures and plans the next run from now; a
 * quarantined job is checked as the ticker would check it, so that enabling one that is still
 * malformed is refused (and changes nothing) rather than quarantined again.
 */
export async function setEnabled(store: Store, name: string, enabled: boolean, now: Date | null, custom?: (after: Date) => Date | null): Promise<Job> {
  assertName(name, 'name');
  await inTransaction(store.pool, async (client) => {
    const [row] = await store.sql.lockJobByName({ job_name: name, now }, client);
    if (!row) throw new KairosNotFoundError(`No job named "${name}"`);
    let next: Date | null = null;
    if (enabled) {
      const job: DueJob = { ...toDueJob(row), planned: false, nextRun: null };
      checkDueJob(job);
      const plan = planJob(job, row.db_now, custom);
      checkPlan(job, plan);
      next = plan.nextRun;
    }
    await store.sql.setJobEnabled({ job_name: name, enabled, next_run: next }, client);
  });
  return (await getJob(store, name))!;
}

/** Run a job now, outside its schedule. Returns the new run's id. */
export async function triggerJob(store: Store, name: string, payload: unknown, now: Date | null): Promise<number> {
  assertName(name, 'name');
  const text = payload === undefined ? null : serializePayload(payload);
  try {
    const [row] = await store.sql.triggerJob({ job_name: name, payload: text, now });
    return row!.run_id;
  } catch (error) {
    if ((error as { code?: string }).code === 'P0002') throw new KairosNotFoundError(`No job named "${name}"`, { cause: error });
    throw error;
  }
}

/** Delete a job with its queued runs, occurrences and history. Returns false if there was none. */
export async function deleteJob(store: Store, name: string): Promise<boolean> {
  assertName(name, 'name');
  return (await store.sql.deleteJob({ job_name: name })).length > 0;
}

/** One job by name, or null. */
export async function getJob(store: Store, name: string): Promise<(Job & { running: number; pending: number }) | null> {
  assertName(name, 'name');
  const [row] = await store.sql.getJob({ job_name: name });
  return row ? { ...toJob(row), running: row.running, pending: row.pending } : null;
}

/** A filter value as sent to the database: a string gets the checks of every identifying string. */
function filterText<V>(value: V, field: string): NonNullable<V> | null {
  if (typeof value === 'string') assertText(value, field);
  return value ?? null;
}

/** Jobs, soonest next run first. */
export async function listJobs(store: Store, filter: JobFilter = {}): Promise<Job[]> {
  const limit = assertInteger(filter.limit ?? 1000, 'limit', 1, 100_000);
  return (await store.sql.listJobs({ enabled: filter.enabled ?? null, task: filterText(filter.task, 'task'), search: filterText(filter.search, 'search'), limit, label: filterText(filter.label, 'label'), job_type: filterText(filter.type, 'type') })).map(toJob);
}

/** A run by id: live (pending/running) or, once finished, its last history entry. */
export async function getRun(store: Store, id: number): Promise<{ live: Run | null; last: HistoryEntry | null }> {
  assertInteger(id, 'runId', 1, Number.MAX_SAFE_INTEGER);
  const [live] = await store.sql.getRun({ run_id: id });
  const [last] = await store.sql.lastHistoryOfRun({ run_id: id });
  return { live: live ? toRun(live) : null, last: last ? toHistoryEntry(last) : null };
}

/** Live runs (pending and running), soonest first. */
export async function listRuns(store: Store, filter: RunFilter = {}): Promise<Run[]> {
  const limit = assertInteger(filter.limit ?? 1000, 'limit', 1, 100_000);
  return (await store.sql.listRuns({ status: filterText(filter.status, 'status'), task: filterText(filter.task, 'task'), queue: filterText(filter.queue, 'queue'), job_name: filterText(filter.job, 'job'), max_rows: limit })).map(toRun);
}

/** The history (one entry per finished attempt), newest first. */
export async function history(store: Store, filter: HistoryFilter = {}): Promise<HistoryEntry[]> {
  const limit = assertInteger(filter.limit ?? 100, 'limit', 1, 100_000);
  return (await store.sql.listHistory({ job_name: filterText(filter.job, 'job'), run_id: filter.runId ?? null, status: filterText(filter.status, 'status'), task: filterText(filter.task, 'task'), max_rows: limit })).map(toHistoryEntry);
}

/** Registered nodes, newest first. */
export async function listNodes(store: Store): Promise<NodeInfo[]> {
  return (await store.sql.listNodes()).map(toNode);
}

/** Most occurrences one backfill call may create. */
export const MAX_BACKFILL = 100_000;

/**
 * Create runs for every occurrence of a job's schedule in [from, to] that was never materialised
 * (existing occurrences are left alone: the occurrences key makes it idempotent). Calls
 * `onProgress(done, total)` after each batch. Returns how many runs were created.
 */
export async function backfillJob(store: Store, name: string, from: Date, to: Date, options: { nodeId: string; now: Date | null; custom?: (after: Date) => Date | null; onProgress?: (done: number, total: number) => void }): Promise<number> {
  const job = await getJob(store, name);
  if (!job) throw new KairosNotFoundError(`No job named "${name}"`);
  if (to < from) throw new KairosValidationError('to', `Expected \`to\` (${to.toISOString()}) to be after \`from\` (${from.toISOString()})`);
  const schedule = scheduleOf({ ...toDueJob(await rawJob(store, name)), planned: true }, options.custom);
  if (!schedule) throw new KairosValidationError('name', `Job "${name}" has no schedule to backfill (it runs only when triggered)`);
  const times = nextOccurrences(schedule, new Date(from.getTime() - 1), MAX_BACKFILL + 1).filter((t) => t <= to);
  if (times.length > MAX_BACKFILL) throw new KairosValidationError('from', `Expected at most ${MAX_BACKFILL} occurrences in a backfill, got more; narrow the range`);
  let created = 0;
  for (let i = 0; i < times.length; i += 1000) {
    const batch = times.slice(i, i + 1000).map((t) => ({ job_id: job.id, scheduled_at: t, outcome: 'run' }));
    const rows = await store.sql.applyPlans({ cursors: '[]', occurrences: JSON.stringify(batch), replace_job_ids: [], node_id: options.nodeId, now: options.now });
    created += rows.length;
    options.onProgress?.(Math.min(i + 1000, times.length), times.length);
  }
  return created;
}

async function rawJob(store: Store, name: string): Promise<GetJobRow> {
  const [row] = await store.sql.getJob({ job_name: name });
  return row!;
}
