/**
 * The domain types of the public API: what a job, a run and an attempt record look like to users.
 */

/** Lower numbers run first. */
export const Priority = {
  CRITICAL: 1,
  HIGH: 3,
  NORMAL: 5,
  LOW: 8,
} as const;

/** What happens to occurrences missed while no node was running. */
export type CatchUpPolicy = 'skip' | 'latest' | 'all';
/** What happens when an occurrence fires while the previous run of the same job is still active. */
export type OverlapPolicy = 'allow' | 'skip' | 'queue' | 'replace';
/** What happens when an enqueued run's key is already taken by a pending or running run. */
export type ConflictPolicy = 'raise' | 'ignore' | 'replace';
/** A live run's state. */
export type RunStatus = 'pending' | 'running';
/**
 * How a finished attempt ended, as recorded in its history entry; or, for an occurrence of a
 * schedule that did not run, why: 'missed' (dropped by the catch-up policy) or 'skipped' (by the
 * overlap policy). Those two have attempt 0 and a run id that names no run.
 */
export type HistoryStatus = 'completed' | 'failed' | 'retrying' | 'cancelled' | 'expired' | 'rescued' | 'released' | 'missed' | 'skipped';
/** @deprecated Use {@link HistoryStatus}; this alias stays for compatibility. */
export type LogStatus = HistoryStatus;
/** Every state a run moves through, as reported by status-change events. */
export type RunState = '' | RunStatus | 'completed' | 'failed' | 'cancelled' | 'expired';

/** A job definition as stored. */
export interface Job {
  id: number;
  name: string;
  type: 'task' | 'sql' | 'shell' | 'steps';
  /** The task name for task jobs; the SQL or shell command otherwise. */
  command: string;
  description: string | null;
  schedule:
    | { kind: 'cron'; cron: string; timezone: string }
    | { kind: 'interval'; everyMs: number; startAt: Date }
    | { kind: 'once'; at: Date }
    | { kind: 'custom' }
    | { kind: 'manual' };
  enabled: boolean;
  nextRun: Date | null;
  lastRun: Date | null;
  lastStatus: boolean | null;
  lastMessage: string | null;
  endAt: Date | null;
  maxRuns: number | null;
  runCount: number;
  catchUp: CatchUpPolicy;
  maxLatenessMs: number;
  misfireGraceMs: number | null;
  overlap: OverlapPolicy;
  payload: unknown;
  queue: string;
  priority: number;
  /** The retry limit: how many more attempts a failed run gets (column `max_retries`). */
  retries: number;
  backoffMs: number;
  backoffMaxMs: number;
  timeoutMs: number | null;
  exclusive: string | null;
  /** The failure limit: consecutive failed attempts after which the job disables itself; null = never (column `max_attempts`). */
  disableAfterFailures: number | null;
  /** Consecutive failed attempts so far; reset by a success or by enabling the job (column `current_attempts`). */
  consecutiveFailures: number;
  /** @deprecated Use {@link Job.disableAfterFailures} (the same value); kept for compatibility. */
  maxAttempts: number | null;
  /** @deprecated Use {@link Job.consecutiveFailures} (the same value); kept for compatibility. */
  currentAttempts: number;
  labels: string[];
  exceptions: Array<{ date?: string; time?: string }>;
  nodeName: string | null;
  nodeTags: string[];
  /** When the ticker quarantined the job (its row could not be planned); null when healthy. */
  brokenAt: Date | null;
  /** Why it is quarantined: the column and value, or the database's refusal of its plan. */
  brokenReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A live run (pending or running). */
export interface Run {
  id: number;
  jobId: number | null;
  jobName: string | null;
  task: string;
  queue: string;
  priority: number;
  payload: unknown;
  key: string | null;
  status: RunStatus;
  scheduledAt: Date | null;
  runAt: Date;
  expiresAt: Date | null;
  attempt: number;
  /** The retry limit: how many more attempts a failed run gets, in all (a limit, not the retries left; column `max_retries`). */
  retries: number;
  nodeId: string | null;
  startedAt: Date | null;
  leaseUntil: Date | null;
  cancelRequested: boolean;
  lastError: string | null;
  createdAt: Date;
}

/** One history entry: the record of one finished attempt (a row of the history table, `job_logs`). */
export interface HistoryEntry {
  id: number;
  runId: number;
  jobId: number | null;
  jobName: string | null;
  task: string;
  queue: string;
  key: string | null;
  attempt: number;
  status: HistoryStatus;
  scheduledAt: Date | null;
  /** When the attempt started (column `run_time`, pg_scheduler's name). */
  startedAt: Date | null;
  finishedAt: Date;
  durationMs: number | null;
  message: string | null;
  nodeId: string | null;
  payload: unknown;
  output: unknown;
  /**
   * SQL jobs: PostgreSQL's SQLSTATE of the attempt, '00000' when it succeeded (seed 003's
   * job_sqlstate); null for other job types and for attempts that never reached PostgreSQL.
   */
  sqlstate: string | null;
  /** SQL jobs: the failed statement's DETAIL, HINT and CONTEXT (PostgreSQL's fields), when it said any. */
  detail: string | null;
  hint: string | null;
  context: string | null;
}

/** @deprecated Use {@link HistoryEntry}; this alias stays for compatibility. */
export type RunLog = HistoryEntry;

/** A registered node. */
export interface NodeInfo {
  id: string;
  name: string;
  host: string;
  pid: number;
  tags: string[];
  queues: string[];
  concurrency: number;
  version: string;
  startedAt: Date;
  lastHeartbeat: Date;
  stoppedAt: Date | null;
  running: number;
}

/** A status change of a run, as delivered to `on('status')` listeners. */
export interface StatusChange {
  runId: number;
  /**
   * The job's name where the publishing node has it at hand (a run it claimed, ran or completed);
   * the task name for runs without a job and for changes published straight from a row (a run
   * planned, rescued, expired, or cancelled while pending).
   */
  job: string;
  task: string;
  key: string | null;
  previous: RunState;
  next: RunState;
}

/** The columns of a run a status change names: a claimed run, or {@link runNames} of a row. */
export interface RunNames {
  run_id: number;
  task: string;
  key: string | null;
  /** Absent or null: the task name stands in (see {@link StatusChange.job}). */
  job_name?: string | null;
}

/** The status change of `run` from `previous` to `next`, built in one place so every publisher agrees. */
export function statusChange(run: RunNames, previous: RunState, next: RunState): StatusChange {
  return { runId: run.run_id, job: run.job_name ?? run.task, task: run.task, key: run.key, previous, next };
}

/** The names of a run read back from SQL (`run_id`, `task`, `key`); its job name is not read. */
export function runNames(row: { run_id: number; task: string; key: string | null }): RunNames {
  return { run_id: row.run_id, task: row.task, key: row.key };
}
