/**
 * The ticker's decisions for one due job, as a pure function: which occurrences fire, which are
 * skipped by the overlap policy, where the job's cursor (next_run) moves, and whether running
 * runs must be replaced. No I/O: the ticker feeds it a locked job row and writes the result.
 */
import { compileSchedule, planCatchUp, MISSED_COUNT_CAP, type CatchUpPlan, type Schedule } from './schedule.js';
import { formatDuration } from './duration.js';
import type { CatchUpPolicy, OverlapPolicy } from './types.js';
import { isException, type CalendarException } from './calendar.js';

/** What the planner needs to know about a job (read under its row lock). */
export interface DueJob {
  jobId: number;
  name: string;
  kind: 'cron' | 'interval' | 'once' | 'custom' | 'manual';
  cron: string | null;
  timezone: string;
  intervalMs: number | null;
  /** Interval anchor, or the one-time timestamp. */
  scheduleTime: Date | null;
  createdAt?: Date;
  endAt: Date | null;
  maxRuns: number | null;
  runCount: number;
  planned: boolean;
  nextRun: Date | null;
  catchUp: CatchUpPolicy;
  maxLatenessMs: number;
  misfireGraceMs: number | null;
  overlap: OverlapPolicy;
  running: number;
  pending: number;
  /** Dates and times on which the schedule does not fire. */
  exceptions?: CalendarException[];
  /** The job type and command its runs copy (checked before planning, see core/job-checks.ts). */
  type?: string;
  command?: string | null;
}

/** The planner's output for one job. */
export interface JobPlan {
  jobId: number;
  /** The new cursor: the first occurrence not yet handled; null when the schedule is finished. */
  nextRun: Date | null;
  /** How many occurrences fire (counted towards maxRuns). */
  fired: number;
  occurrences: Array<{ scheduledAt: Date; outcome: 'run' | 'skipped' }>;
  /** True when the job's active runs must make way (overlap policy 'replace'). */
  replace: boolean;
  /** Due occurrences dropped by the catch-up policy. */
  missed: number;
  /** Occurrences skipped because a run of the job was still active (overlap policy). */
  overlapSkipped: number;
  /**
   * History entries for the occurrences that do not run: 'missed' (dropped by the catch-up policy)
   * and 'skipped' (by the overlap policy), one each up to {@link NOT_RUN_ENTRIES_CAP} of a kind,
   * else one entry for all of that kind (its count and range, at the first one's time).
   */
  history: NotRunEntry[];
}

/** A history entry of an occurrence (or of a range of them) that does not run. */
export interface NotRunEntry {
  scheduledAt: Date;
  status: 'missed' | 'skipped';
  message: string;
}

/**
 * Above this many missed (or skipped) occurrences in one pass, a job gets one history entry for
 * them all instead of one each: a per-minute job down for a week misses 10 000.
 */
export const NOT_RUN_ENTRIES_CAP = 10;

/** How far 'skip' tolerates lateness when the job sets no misfire grace. */
export const DEFAULT_SKIP_GRACE_MS = 60_000;
/** Occurrences materialised per job per pass under catch-up 'all'. */
export const CATCH_UP_BATCH = 500;

/** Compiled cron schedules by "timezone\ncron": parsing costs ~0.2 ms, a tick may plan hundreds. */
const cronCache = new Map<string, Schedule>();
const CRON_CACHE_SIZE = 10_000;

function cachedCron(cron: string, timezone: string): Schedule {
  const key = `${timezone}\n${cron}`;
  let schedule = cronCache.get(key);
  if (!schedule) {
    schedule = cronUnion(cron, timezone);
    if (cronCache.size >= CRON_CACHE_SIZE) cronCache.clear();
    cronCache.set(key, schedule);
  }
  return schedule;
}

/**
 * A job's cron may hold several crontab lines (elephant_worker's schedule arrays, written through
 * the SQL API): it fires at the earliest next time of any line, as the SQL cron_next does.
 */
function cronUnion(cron: string, timezone: string): Schedule {
  const lines = cron.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length <= 1) return compileSchedule({ kind: 'cron', cron: lines[0] ?? cron, timezone });
  const parts = lines.map((line) => compileSchedule({ kind: 'cron', cron: line, timezone }));
  const pick = (dates: Array<Date | null>, better: (a: Date, b: Date) => boolean): Date | null =>
    dates.reduce<Date | null>((best, d) => (d && (!best || better(d, best)) ? d : best), null);
  return {
    spec: parts[0]!.spec,
    next: (after) => pick(parts.map((p) => p.next(after)), (a, b) => a < b),
    previous: (at) => pick(parts.map((p) => p.previous(at)), (a, b) => a > b),
  };
}

/** Build the schedule of a job row; custom schedules come from code (`custom`). */
export function scheduleOf(job: DueJob, custom?: (after: Date) => Date | null): Pick<Schedule, 'next'> & Partial<Pick<Schedule, 'previous'>> | null {
  switch (job.kind) {
    case 'cron':
      return cachedCron(job.cron ?? '', job.timezone);
    case 'interval':
      return compileSchedule({ kind: 'interval', everyMs: job.intervalMs ?? 0, anchor: job.scheduleTime ?? job.createdAt ?? new Date(0) });
    case 'once':
      return compileSchedule({ kind: 'once', at: job.scheduleTime ?? new Date(0) });
    case 'custom':
      return custom ? { next: custom } : null;
    default:
      return null;
  }
}

/** The first occurrence at or after `now` (used when a job is planned for the first time). */
export function firstOccurrence(schedule: Pick<Schedule, 'next'>, job: DueJob, now: Date): Date | null {
  if (job.kind === 'once') return job.runCount > 0 ? null : job.scheduleTime;
  const first = schedule.next(new Date(now.getTime() - 1));
  if (first && job.endAt && first > job.endAt) return null;
  return first;
}

/**
 * Decide what a due (or unplanned) job does at `now`. With a `horizon` after `now`, occurrences
 * due by the horizon are materialised ahead of time (see {@link planAhead}).
 */
export function planJob(job: DueJob, now: Date, custom?: (after: Date) => Date | null, horizon: Date = now): JobPlan {
  const empty: JobPlan = { jobId: job.jobId, nextRun: null, fired: 0, occurrences: [], replace: false, missed: 0, overlapSkipped: 0, history: [] };
  const schedule = scheduleOf(job, custom);
  if (!schedule) return empty;
  const remainingRuns = job.maxRuns === null ? null : Math.max(0, job.maxRuns - job.runCount);
  if (!job.planned || !job.nextRun) {
    // Planning only: SQL-written rows and re-enabled jobs get their first cursor; nothing fires.
    return { ...empty, nextRun: remainingRuns === 0 ? null : firstOccurrence(schedule, job, now) };
  }
  const plan = planCatchUp({
    schedule,
    cursor: job.nextRun,
    now,
    policy: job.catchUp,
    graceMs: job.misfireGraceMs ?? DEFAULT_SKIP_GRACE_MS,
    maxLatenessMs: job.maxLatenessMs,
    limit: CATCH_UP_BATCH,
    endAt: job.endAt,
    remainingRuns,
  });
  const overlapped = applyOverlap(job, plan.fire);
  const decided = planAhead(job, schedule, overlapped, plan.next, now, horizon, remainingRuns);
  const overlapSkipped = decided.occurrences.filter((o) => o.outcome === 'skipped').length;
  const history = [
    ...missedEntries(job, schedule, plan, now),
    ...skippedEntries(job, overlapped.occurrences.filter((o) => o.outcome === 'skipped').map((o) => o.scheduledAt)),
  ];
  // Calendar exceptions: the occurrence is recorded as skipped and does not count as a run.
  for (const occurrence of decided.occurrences) {
    if (occurrence.outcome === 'run' && isException(occurrence.scheduledAt, job.timezone, job.exceptions ?? [])) {
      occurrence.outcome = 'skipped';
      decided.fired--;
    }
  }
  return { ...decided, jobId: job.jobId, missed: plan.missed, overlapSkipped, history };
}

/**
 * The entries of the occurrences the catch-up policy dropped. They are the first `plan.missed`
 * due occurrences from the cursor (whatever fires comes after them), so the few are listed with
 * next() from the cursor; for many, the last one comes from previous() when the schedule has it.
 */
function missedEntries(job: DueJob, schedule: Pick<Schedule, 'next'> & Partial<Pick<Schedule, 'previous'>>, plan: CatchUpPlan, now: Date): NotRunEntry[] {
  if (plan.missed <= 0 || !job.nextRun) return [];
  const firstFired = plan.fire[0] ?? null;
  let why: string;
  // The bound the missed ones lie before: the first that fires, or the oldest still on time.
  let before: Date;
  if (job.catchUp === 'all') {
    why = `later than the max lateness of ${formatDuration(job.maxLatenessMs)}`;
    before = new Date(now.getTime() - job.maxLatenessMs);
  } else if (job.catchUp === 'latest') {
    why = 'catch-up policy latest: only the latest missed occurrence runs';
    before = firstFired ?? new Date(now.getTime() + 1);
  } else if (firstFired) {
    why = 'catch-up policy skip: missed occurrences are dropped, the next one runs';
    before = firstFired;
  } else {
    why = `catch-up policy skip: more than the misfire grace of ${formatDuration(job.misfireGraceMs ?? DEFAULT_SKIP_GRACE_MS)} late`;
    before = new Date(Math.min(now.getTime(), job.endAt?.getTime() ?? Infinity) + 1);
  }
  if (plan.missed <= NOT_RUN_ENTRIES_CAP) {
    return listFrom(schedule, job.nextRun, plan.missed, before).map((scheduledAt) => ({ scheduledAt, status: 'missed', message: `missed: ${why}` }));
  }
  const count = plan.missed >= MISSED_COUNT_CAP ? `at least ${plan.missed}` : String(plan.missed);
  const last = schedule.previous?.(new Date(before.getTime() - 1)) ?? null;
  const range = last && last >= job.nextRun
    ? `between ${job.nextRun.toISOString()} and ${last.toISOString()}`
    : `from ${job.nextRun.toISOString()} until before ${before.toISOString()}`;
  return [{ scheduledAt: job.nextRun, status: 'missed', message: `${count} occurrences missed ${range}: ${why}` }];
}

/** The entries of the occurrences the overlap policy skipped (ascending). */
function skippedEntries(job: DueJob, skipped: Date[]): NotRunEntry[] {
  if (skipped.length === 0) return [];
  const why = job.overlap === 'queue'
    ? 'a run of the job was already waiting (overlap policy queue)'
    : 'a run of the job was still active (overlap policy skip)';
  if (skipped.length <= NOT_RUN_ENTRIES_CAP) return skipped.map((scheduledAt) => ({ scheduledAt, status: 'skipped', message: `skipped: ${why}` }));
  const first = skipped[0]!;
  const last = skipped[skipped.length - 1]!;
  return [{ scheduledAt: first, status: 'skipped', message: `${skipped.length} occurrences skipped between ${first.toISOString()} and ${last.toISOString()}: ${why}` }];
}

/** Up to `count` occurrences from `first` (inclusive) and before `before`. */
function listFrom(schedule: Pick<Schedule, 'next'>, first: Date, count: number, before: Date): Date[] {
  const found: Date[] = [];
  let occurrence: Date | null = first;
  while (occurrence !== null && found.length < count && occurrence < before) {
    found.push(occurrence);
    const next: Date | null = schedule.next(occurrence);
    if (next !== null && next <= occurrence) break;
    occurrence = next;
  }
  return found;
}

type Decided = Pick<JobPlan, 'occurrences' | 'fired' | 'replace' | 'nextRun'>;

/**
 * Add the occurrences in (now, horizon] to a plan: they are on time by definition, so no catch-up
 * policy applies. A job whose overlap policy is not 'allow' plans ahead only while it has no
 * active run and fires nothing now, and one occurrence at a time: its policy is then decided on a
 * free job, and the serial claim keeps a manual run and this one apart.
 */
function planAhead(job: DueJob, schedule: Pick<Schedule, 'next'>, decided: Omit<Decided, 'nextRun'>, next: Date | null, now: Date, horizon: Date, remainingRuns: number | null): Decided {
  const plan: Decided = { ...decided, occurrences: [...decided.occurrences], nextRun: next };
  if (horizon <= now || next === null || next <= now) return plan;
  const serial = job.overlap !== 'allow';
  if (serial && (job.running + job.pending > 0 || plan.occurrences.length > 0)) return plan;
  const limit = serial ? 1 : CATCH_UP_BATCH;
  let added = 0;
  let cursor: Date | null = next;
  while (cursor !== null && cursor <= horizon && added < limit && (job.endAt === null || cursor <= job.endAt)) {
    if (remainingRuns !== null && plan.fired >= remainingRuns) break;
    plan.occurrences.push({ scheduledAt: cursor, outcome: 'run' });
    plan.fired++;
    added++;
    cursor = schedule.next(cursor);
  }
  const finished = (remainingRuns !== null && plan.fired >= remainingRuns) || cursor === null || (job.endAt !== null && cursor > job.endAt);
  plan.nextRun = finished ? null : cursor;
  return plan;
}

/** Apply the overlap policy to the occurrences that fire. */
function applyOverlap(job: DueJob, fire: Date[]): Pick<JobPlan, 'occurrences' | 'fired' | 'replace'> {
  const active = job.running + job.pending;
  let outcome: 'run' | 'skipped' = 'run';
  if (job.overlap === 'skip' && active > 0) outcome = 'skipped';
  // 'queue' buffers one: a pending run already waiting means later occurrences are skipped.
  if (job.overlap === 'queue' && job.pending > 0) outcome = 'skipped';
  return {
    occurrences: fire.map((scheduledAt) => ({ scheduledAt, outcome })),
    fired: outcome === 'run' ? fire.length : 0,
    replace: job.overlap === 'replace' && active > 0 && fire.length > 0,
  };
}
