/**
 * Row → domain mapping. Kept apart from the queries so the public shapes are defined in one place.
 */
import type { Job, Run, RunLog, NodeInfo, CatchUpPolicy, OverlapPolicy, LogStatus } from '../core/types.js';
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
const num = (v: unknown): number | null => (v == null ? null : Number(v));

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

function jobSchedule(row: Row): Job['schedule'] {
  switch (row.schedule_kind) {
    case 'cron':
      return { kind: 'cron', cron: String(row.cron), timezone: String(row.timezone) };
    case 'interval':
      return { kind: 'interval', everyMs: Number(row.interval_ms), startAt: date(row.schedule_time) ?? needed(row.created_at) };
    case 'once':
      return { kind: 'once', at: needed(row.schedule_time) };
    case 'custom':
      return { kind: 'custom' };
    default:
      return { kind: 'manual' };
  }
}

/** Map a `jobs` row. */
export function toJob(row: Row): Job {
  return {
    id: Number(row.job_id),
    name: String(row.job_name),
    type: row.job_type as Job['type'],
    command: String(row.command),
    description: (row.description as string | null) ?? null,
    schedule: jobSchedule(row),
    enabled: Boolean(row.enabled),
    nextRun: date(row.next_run),
    lastRun: date(row.last_run),
    lastStatus: (row.last_status as boolean | null) ?? null,
    lastMessage: (row.last_message as string | null) ?? null,
    endAt: date(row.end_time),
    maxRuns: num(row.max_runs),
    runCount: Number(row.run_count),
    catchUp: row.catch_up as CatchUpPolicy,
    maxLatenessMs: Number(row.max_lateness_ms),
    misfireGraceMs: num(row.misfire_grace_ms),
    overlap: row.overlap as OverlapPolicy,
    payload: row.payload,
    queue: String(row.queue),
    priority: Number(row.priority),
    retries: Number(row.max_retries),
    backoffMs: Number(row.backoff_ms),
    backoffMaxMs: Number(row.backoff_max_ms),
    timeoutMs: num(row.timeout_ms),
    exclusive: (row.lock_key as string | null) ?? null,
    maxAttempts: num(row.max_attempts),
    currentAttempts: Number(row.current_attempts),
    labels: (row.labels as string[] | null) ?? [],
    // A list only: a malformed row (a broken job) may hold any JSON here.
    exceptions: Array.isArray(row.exceptions) ? (row.exceptions as Array<{ date?: string; time?: string }>) : [],
    nodeName: (row.node_name as string | null) ?? null,
    nodeTags: (row.node_tags as string[] | null) ?? [],
    brokenAt: date(row.broken_at),
    brokenReason: (row.broken_reason as string | null | undefined) ?? null,
    createdAt: needed(row.created_at),
    updatedAt: needed(row.updated_at),
  };
}

/** Map a `runs` row (joined with the job name). */
export function toRun(row: Row): Run {
  return {
    id: Number(row.run_id),
    jobId: num(row.job_id),
    jobName: (row.job_name as string | null) ?? null,
    task: String(row.task),
    queue: String(row.queue),
    priority: Number(row.priority),
    payload: row.payload,
    key: (row.key as string | null) ?? null,
    status: row.status as Run['status'],
    scheduledAt: date(row.scheduled_at),
    runAt: date(row.run_at)!,
    expiresAt: date(row.expires_at),
    attempt: Number(row.attempt),
    retries: Number(row.max_retries),
    nodeId: (row.node_id as string | null) ?? null,
    startedAt: date(row.started_at),
    leaseUntil: date(row.lease_until),
    cancelRequested: Boolean(row.cancel_requested),
    lastError: (row.last_error as string | null) ?? null,
    createdAt: date(row.created_at)!,
  };
}

/** Map a `job_logs` row. */
export function toRunLog(row: Row): RunLog {
  return {
    id: Number(row.log_id),
    runId: Number(row.run_id),
    jobId: num(row.job_id),
    jobName: (row.job_name as string | null) ?? null,
    task: String(row.task),
    queue: String(row.queue),
    key: (row.key as string | null) ?? null,
    attempt: Number(row.attempt),
    status: row.status as LogStatus,
    scheduledAt: date(row.scheduled_at),
    startedAt: date(row.run_time),
    finishedAt: date(row.finished_at)!,
    durationMs: intervalMs(row.duration),
    message: (row.message as string | null) ?? null,
    nodeId: (row.node_id as string | null) ?? null,
    payload: row.payload,
    output: row.output ?? null,
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

/** Map a job row (with its active run counts, when selected) to what the planner needs. */
export function toDueJob(row: Row): DueJob {
  const num = (v: unknown): number | null => (v == null ? null : Number(v));
  return {
    jobId: Number(row.job_id),
    name: String(row.job_name),
    kind: row.schedule_kind as DueJob['kind'],
    cron: (row.cron as string | null) ?? null,
    timezone: String(row.timezone),
    intervalMs: num(row.interval_ms),
    scheduleTime: (row.schedule_time as Date | null) ?? null,
    createdAt: row.created_at as Date,
    endAt: (row.end_time as Date | null) ?? null,
    maxRuns: num(row.max_runs),
    runCount: Number(row.run_count),
    planned: Boolean(row.planned),
    nextRun: (row.next_run as Date | null) ?? null,
    catchUp: row.catch_up as DueJob['catchUp'],
    maxLatenessMs: Number(row.max_lateness_ms),
    misfireGraceMs: num(row.misfire_grace_ms),
    overlap: row.overlap as DueJob['overlap'],
    running: Number(row.running ?? 0),
    pending: Number(row.pending ?? 0),
    exceptions: (row.exceptions as DueJob['exceptions']) ?? [],
    type: row.job_type === undefined ? undefined : (row.job_type as string),
    command: row.command === undefined ? undefined : (row.command as string | null),
  };
}
