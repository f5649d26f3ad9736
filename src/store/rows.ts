/**
 * Row → domain mapping. Kept apart from the queries so the public shapes are defined in one place.
 */
import type { Job, Run, HistoryEntry, NodeInfo, CatchUpPolicy, OverlapPolicy, HistoryStatus } from '../core/types.js';
import type { DueJob } from '../core/planner.js';
import type { ListNodesRow } from './queries.js';

/** A PostgreSQL interval as node-postgres returns it: only the units that are not zero are set. */
export interface Interval {
  years?: number;
  months?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
  milliseconds?: number;
}

/** A raw row as node-postgres returns it. */
export type Row = Record<string, unknown>;

/** A time, or null; a value no Date can hold (±infinity, beyond year 275760) is null too: a malformed row must not break its readers. */
const date = (v: unknown): Date | null => {
  const d = v instanceof Date ? v : v == null ? null : new Date(String(v));
  return d === null || Number.isNaN(d.getTime()) ? null : d;
};
/** A time the schedule needs; an Invalid Date (shown as such) when the row does not hold one. */
const needed = (v: unknown): Date => date(v) ?? new Date(Number.NaN);

/** Parse a PostgreSQL interval as node-postgres returns it (an object) into milliseconds. */
export function intervalMs(v: unknown): number | null {
  if (v == null) return null;
  if (typeof v === 'object') {
    const i = v as Record<string, number | undefined>;
    return (
      ((i.days ?? 0) * 86400 + (i.hours ?? 0) * 3600 + (i.minutes ?? 0) * 60 + (i.seconds ?? 0)) * 1000 +
      (i.milliseconds ?? 0)
    );
  }
  return null;
}

/**
 * The columns of a `jobs` row that {@link toJob} reads: `j.*` plus `interval_ms` (the interval in
 * milliseconds), as every query selecting whole jobs returns them.
 */
export interface JobRow {
  job_id: number;
  job_name: string;
  job_type: string;
  command: string;
  description: string | null;
  schedule_kind: string;
  cron: string | null;
  timezone: string;
  interval_ms: number | null;
  schedule_time: Date | null;
  end_time: Date | null;
  max_runs: number | null;
  run_count: number;
  enabled: boolean;
  next_run: Date | null;
  last_run: Date | null;
  last_status: boolean | null;
  last_message: string | null;
  catch_up: string;
  max_lateness_ms: number;
  misfire_grace_ms: number | null;
  overlap: string;
  payload: unknown;
  queue: string;
  priority: number;
  max_retries: number;
  backoff_ms: number;
  backoff_max_ms: number;
  timeout_ms: number | null;
  lock_key: string | null;
  max_attempts: number | null;
  current_attempts: number;
  labels: string[];
  exceptions: unknown;
  node_name: string | null;
  node_tags: string[];
  broken_at: Date | null;
  broken_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

// Times go through date()/needed() although the row types say Date: a malformed row may hold
// ±infinity, which the timestamptz parser returns as a number, not a Date.
function jobSchedule(row: JobRow): Job['schedule'] {
  switch (row.schedule_kind) {
    // The table's checks: a cron job has a cron, an interval job an interval (broken or not).
    case 'cron':
      return { kind: 'cron', cron: row.cron!, timezone: row.timezone };
    case 'interval':
      return { kind: 'interval', everyMs: row.interval_ms!, startAt: date(row.schedule_time) ?? needed(row.created_at) };
    case 'once':
      return { kind: 'once', at: needed(row.schedule_time) };
    case 'custom':
      return { kind: 'custom' };
    default:
      return { kind: 'manual' };
  }
}

/** Map a `jobs` row. */
export function toJob(row: JobRow): Job {
  return {
    id: row.job_id,
    name: row.job_name,
    // The table's check constraints keep job_type, catch_up and overlap to these unions.
    type: row.job_type as Job['type'],
    command: row.command,
    description: row.description,
    schedule: jobSchedule(row),
    enabled: row.enabled,
    nextRun: date(row.next_run),
    lastRun: date(row.last_run),
    lastStatus: row.last_status,
    lastMessage: row.last_message,
    endAt: date(row.end_time),
    maxRuns: row.max_runs,
    runCount: row.run_count,
    catchUp: row.catch_up as CatchUpPolicy,
    maxLatenessMs: row.max_lateness_ms,
    misfireGraceMs: row.misfire_grace_ms,
    overlap: row.overlap as OverlapPolicy,
    payload: row.payload,
    queue: row.queue,
    priority: row.priority,
    retries: row.max_retries,
    backoffMs: row.backoff_ms,
    backoffMaxMs: row.backoff_max_ms,
    timeoutMs: row.timeout_ms,
    exclusive: row.lock_key,
    disableAfterFailures: row.max_attempts,
    consecutiveFailures: row.current_attempts,
    // Deprecated aliases of the two above (the same values), kept for compatibility.
    maxAttempts: row.max_attempts,
    currentAttempts: row.current_attempts,
    labels: row.labels,
    // A list only: a malformed row (a broken job) may hold any JSON here (jsonb of unknown shape).
    exceptions: Array.isArray(row.exceptions) ? (row.exceptions as Array<{ date?: string; time?: string }>) : [],
    nodeName: row.node_name,
    nodeTags: row.node_tags,
    brokenAt: date(row.broken_at),
    brokenReason: row.broken_reason,
    createdAt: needed(row.created_at),
    updatedAt: needed(row.updated_at),
  };
}

/** The columns of a `runs` row (joined with its job's name) that {@link toRun} reads. */
export interface RunRow {
  run_id: number;
  job_id: number | null;
  job_name: string | null;
  task: string;
  queue: string;
  priority: number;
  payload: unknown;
  key: string | null;
  status: string;
  scheduled_at: Date | null;
  run_at: Date;
  expires_at: Date | null;
  attempt: number;
  max_retries: number;
  node_id: string | null;
  started_at: Date | null;
  lease_until: Date | null;
  cancel_requested: boolean;
  last_error: string | null;
  created_at: Date;
}

/** Map a `runs` row (joined with the job name). Times go through date(), as in toNode. */
export function toRun(row: RunRow): Run {
  return {
    id: row.run_id,
    jobId: row.job_id,
    jobName: row.job_name,
    task: row.task,
    queue: row.queue,
    priority: row.priority,
    payload: row.payload,
    key: row.key,
    // The table's check constraint keeps it to the statuses a live run can have.
    status: row.status as Run['status'],
    scheduledAt: date(row.scheduled_at),
    runAt: date(row.run_at)!,
    expiresAt: date(row.expires_at),
    attempt: row.attempt,
    retries: row.max_retries,
    nodeId: row.node_id,
    startedAt: date(row.started_at),
    leaseUntil: date(row.lease_until),
    cancelRequested: row.cancel_requested,
    lastError: row.last_error,
    createdAt: date(row.created_at)!,
  };
}

/** The columns of a history row (table `job_logs`, joined with its job's name) that {@link toHistoryEntry} reads. */
export interface HistoryRow {
  log_id: number;
  run_id: number;
  job_id: number | null;
  job_name: string | null;
  task: string;
  queue: string;
  key: string | null;
  attempt: number;
  status: string;
  scheduled_at: Date | null;
  run_time: Date | null;
  finished_at: Date;
  duration: Interval | null;
  message: string | null;
  node_id: string | null;
  payload: unknown;
  output: unknown;
  sqlstate: string | null;
  detail: string | null;
  hint: string | null;
  context: string | null;
}

/** Map a history row (table `job_logs`) to a history entry. */
export function toHistoryEntry(row: HistoryRow): HistoryEntry {
  return {
    id: row.log_id,
    runId: row.run_id,
    jobId: row.job_id,
    jobName: row.job_name,
    task: row.task,
    queue: row.queue,
    key: row.key,
    attempt: row.attempt,
    // The table's check constraint keeps it to the statuses of a recorded attempt.
    status: row.status as HistoryStatus,
    scheduledAt: date(row.scheduled_at),
    startedAt: date(row.run_time),
    finishedAt: date(row.finished_at)!,
    durationMs: intervalMs(row.duration),
    message: row.message,
    nodeId: row.node_id,
    payload: row.payload,
    output: row.output ?? null,
    sqlstate: row.sqlstate ?? null,
    detail: row.detail ?? null,
    hint: row.hint ?? null,
    context: row.context ?? null,
  };
}

/**
 * Map a `nodes` row (listNodes). The times still go through date(): the timestamptz parser gives
 * ±Infinity (a number) for PostgreSQL's ±infinity, which the row type's Date does not say.
 */
export function toNode(row: Omit<ListNodesRow, 'heartbeat_age'>): NodeInfo {
  return {
    id: row.node_id,
    name: row.name,
    host: row.host,
    pid: row.pid,
    tags: row.tags,
    queues: row.queues,
    concurrency: row.concurrency,
    version: row.version,
    startedAt: date(row.started_at)!,
    lastHeartbeat: date(row.last_heartbeat)!,
    stoppedAt: date(row.stopped_at),
    running: row.running,
  };
}

/**
 * The columns of a job row that {@link toDueJob} reads: those of the schedule, plus the active run
 * counts and the type and command when the query selects them.
 */
export interface DueJobRow {
  job_id: number;
  job_name: string;
  schedule_kind: string;
  cron: string | null;
  timezone: string;
  interval_ms: number | null;
  schedule_time: Date | null;
  created_at: Date;
  end_time: Date | null;
  max_runs: number | null;
  run_count: number;
  planned: boolean;
  next_run: Date | null;
  catch_up: string;
  max_lateness_ms: number;
  misfire_grace_ms: number | null;
  overlap: string;
  exceptions: unknown;
  running?: number | null;
  pending?: number | null;
  job_type?: string;
  command?: string | null;
}

/** Map a job row (with its active run counts, when selected) to what the planner needs. */
export function toDueJob(row: DueJobRow): DueJob {
  return {
    jobId: row.job_id,
    name: row.job_name,
    // The table's check constraints keep schedule_kind, catch_up and overlap to these unions.
    kind: row.schedule_kind as DueJob['kind'],
    cron: row.cron,
    timezone: row.timezone,
    intervalMs: row.interval_ms,
    scheduleTime: row.schedule_time,
    createdAt: row.created_at,
    endAt: row.end_time,
    maxRuns: row.max_runs,
    runCount: row.run_count,
    planned: row.planned,
    nextRun: row.next_run,
    catchUp: row.catch_up as DueJob['catchUp'],
    maxLatenessMs: row.max_lateness_ms,
    misfireGraceMs: row.misfire_grace_ms,
    overlap: row.overlap as DueJob['overlap'],
    running: row.running ?? 0,
    pending: row.pending ?? 0,
    // jsonb of unknown shape: a malformed row may hold anything, which checkDueJob refuses.
    exceptions: (row.exceptions as DueJob['exceptions']) ?? [],
    type: row.job_type,
    command: row.command,
  };
}
