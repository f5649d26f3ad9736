/**
 * The public types of enqueue and schedule options, enqueue results and the read filters, in a module of their
 * own: the modules that implement them (enqueue.ts, jobs.ts, schedules.ts) take the query layer
 * and its rows, and the declarations the package root reaches should show neither (issue #13).
 */
import type { Queryable } from '../store/db.js';
import type { CatchUpPolicy, ConflictPolicy, HistoryStatus, OverlapPolicy, RunStatus } from '../core/types.js';
import type { CalendarException } from '../core/calendar.js';

/** Options of one enqueued run. */
export interface EnqueueOptions {
  /** Run at this time (by the database clock). @default now */
  runAt?: Date | string;
  /** Run this long from now (ms or '10m'); added to `runAt` when both are given. */
  delay?: number | string;
  /** Lower runs first. @default the task's, else 5 */
  priority?: number;
  /** @default the task's, else 'default' */
  queue?: string;
  /** Deduplication key: at most one pending or running run per (task, key). */
  key?: string;
  /** What to do when `key` is taken. @default 'raise' */
  conflict?: ConflictPolicy;
  /** The retry limit: how many more attempts a failed run gets. @default the task's, else 3 */
  retries?: number;
  /** First retry delay; doubles each retry with jitter. @default the task's, else '1s' */
  backoff?: number | string;
  /** Longest retry delay. @default the task's, else '1h' */
  maxBackoff?: number | string;
  /** Abort an attempt after this long. @default the task's, else none */
  timeout?: number | string;
  /** Expire the run if not started within this long after it is due. @default never */
  misfireGrace?: number | string;
  /** Run the INSERT on this client (inside the caller's transaction). */
  client?: Queryable;
}

/** One item of `enqueueMany`. */
export interface EnqueueItem<N extends string = string, P = unknown> extends Omit<EnqueueOptions, 'client'> {
  task: N;
  payload: P;
}

/** What enqueue returns for each run. */
export interface EnqueueResult {
  /** The run's id (the existing run's under conflict 'ignore'). */
  id: number;
  /** False when conflict 'ignore' kept an existing run. */
  inserted: boolean;
  /** When the run is due. */
  runAt: Date;
}

/** Filters of listJobs. */
export interface JobFilter {
  enabled?: boolean;
  task?: string;
  search?: string;
  /** Only jobs carrying this label (pgAgent's job class). */
  label?: string;
  type?: 'task' | 'sql' | 'shell' | 'steps';
  limit?: number;
}

/** Filters of listRuns. */
export interface RunFilter {
  status?: RunStatus;
  task?: string;
  queue?: string;
  job?: string;
  limit?: number;
}

/** Filters of history. */
export interface HistoryFilter {
  job?: string;
  runId?: number;
  status?: HistoryStatus;
  task?: string;
  limit?: number;
}

/** Options of `schedule()`. Give one of `cron`, `every`, `at` or `nextRun`; none makes a manual job. */
export interface ScheduleOptions<N extends string = string, P = unknown> {
  /** Unique name of the schedule: schedule() upserts by it. */
  name: string;
  /** The task that runs. */
  task: N;
  /** Payload of every run. @default {} */
  payload?: P;
  /** Cron expression (5 or 6 fields, names, L, W, #, @daily…). */
  cron?: string;
  /** IANA time zone of `cron`. @default 'UTC' */
  timezone?: string;
  /** Fixed interval (ms or '15m'), on a grid anchored at `startAt`; never drifts with run time. */
  every?: number | string;
  /** Anchor of `every`; for cron, no occurrence before it. @default now (intervals) */
  startAt?: Date | string;
  /** One-time schedule at this timestamp. */
  at?: Date | string;
  /** Custom next-run function: the first occurrence strictly after `after`, or null when done. */
  nextRun?: (after: Date) => Date | null;
  /** No occurrence after this time. */
  endAt?: Date | string;
  /** Stop after this many runs. */
  maxRuns?: number;
  /** Occurrences missed while no node ran: 'skip', 'latest' (one run) or 'all'. @default 'latest' */
  catchUp?: CatchUpPolicy;
  /** With catchUp 'all': occurrences later than this are dropped. @default '1d' */
  maxLateness?: number | string;
  /** A run not started this long after its occurrence expires; also the lateness 'skip' tolerates. @default none ('skip' tolerates 1m) */
  misfireGrace?: number | string;
  /** When an occurrence fires while the previous run is active. @default 'skip' */
  overlap?: OverlapPolicy;
  /** Fire the first occurrence now, then follow the schedule. @default false */
  runImmediately?: boolean;
  /** The failure limit: disable the job after this many consecutive failed attempts (column `max_attempts`). @default never */
  disableAfterFailures?: number;
  /** @default true */
  enabled?: boolean;
  queue?: string;
  priority?: number;
  /** The retry limit: how many more attempts a failed run gets (before the next occurrence). @default 0 */
  retries?: number;
  backoff?: number | string;
  maxBackoff?: number | string;
  timeout?: number | string;
  description?: string;
  labels?: string[];
  /** Dates and/or times (in `timezone`) on which the schedule does not fire: [{ date: '2025-12-25' }, { time: '02:00' }]. */
  exceptions?: CalendarException[];
  /** Only the node with this name runs it (pgAgent's host agent). */
  nodeName?: string;
  /** Only nodes with all these tags run it. */
  nodeTags?: string[];
}
