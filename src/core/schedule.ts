/**
 * Schedules as pure functions of time: cron, fixed intervals and one-off instants compiled to
 * `next`/`previous`, and the catch-up decision for occurrences that came due while no worker
 * was looking. No I/O here; the engine feeds in database time.
 */

import { parseCron } from './cron.js';
import { KairosValidationError, describeValue } from './errors.js';

/** What a job's schedule is, as stored. */
export type ScheduleSpec =
  | { kind: 'cron'; cron: string; timezone: string }
  /** Fires at anchor + k*everyMs for integer k >= 0; never drifts. */
  | { kind: 'interval'; everyMs: number; anchor: Date }
  | { kind: 'once'; at: Date };

/** A compiled schedule: next(after) is the first occurrence strictly after `after`; previous(at) the last at or before `at`. */
export interface Schedule {
  readonly spec: ScheduleSpec;
  next(after: Date): Date | null;
  previous(at: Date): Date | null;
}

/** How occurrences that came due while nothing ran are handled. */
export type CatchUpPolicy = 'skip' | 'latest' | 'all';

/** Everything {@link planCatchUp} needs to decide; all times are database time. */
export interface CatchUpInput {
  /** Custom user schedules may only have next(). */
  schedule: Pick<Schedule, 'next'> & Partial<Pick<Schedule, 'previous'>>;
  /** The stored next_run: the first occurrence not yet materialised (it IS an occurrence). */
  cursor: Date;
  now: Date;
  policy: CatchUpPolicy;
  /** For 'skip': an occurrence later than this is missed. */
  graceMs: number;
  /** For 'all': occurrences later than this are dropped. */
  maxLatenessMs: number;
  /** Max occurrences fired in one call (for 'all'). */
  limit: number;
  /** Occurrences after endAt never fire (an occurrence exactly at endAt does). */
  endAt?: Date | null;
  /** maxRuns minus runs so far; null = unlimited. */
  remainingRuns?: number | null;
}

/** The outcome of {@link planCatchUp}. */
export interface CatchUpPlan {
  /** Occurrences to run now, ascending. */
  fire: Date[];
  /** Due occurrences not fired (exact up to 10000, then capped at 10000). */
  missed: number;
  /** The new cursor: the first occurrence not handled by this call (null = schedule finished). */
  next: Date | null;
}

/** `missed` is counted exactly up to this; counting costs one next() per occurrence. */
export const MISSED_COUNT_CAP = 10_000;
const MIN_INTERVAL_MS = 1000;
const POLICIES: readonly CatchUpPolicy[] = ['skip', 'latest', 'all'];

type Occurrences = CatchUpInput['schedule'];

/**
 * Validate a spec (interval of at least 1000 ms, valid Dates, valid cron and time zone) and
 * compile it. The compiled schedule keeps its own copies of the spec's Dates.
 *
 * @throws {KairosValidationError} When the spec is invalid.
 */
export function compileSchedule(spec: ScheduleSpec): Schedule {
  const kind: unknown = (spec as { kind?: unknown } | null)?.kind;
  if (kind === 'cron') return compileCron(spec as Extract<ScheduleSpec, { kind: 'cron' }>);
  if (kind === 'interval') return compileInterval(spec as Extract<ScheduleSpec, { kind: 'interval' }>);
  if (kind === 'once') return compileOnce(spec as Extract<ScheduleSpec, { kind: 'once' }>);
  throw new KairosValidationError('kind', `Expected \`kind\` to be "cron", "interval" or "once", got ${describeValue(kind)}.`);
}

/**
 * The next `count` occurrences strictly after `after` (for previews), stopping early when the
 * schedule has no more.
 */
export function nextOccurrences(schedule: Pick<Schedule, 'next'>, after: Date, count: number): Date[] {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new KairosValidationError('count', `Expected \`count\` to be a whole number of at least 0, got ${describeValue(count)}.`);
  }
  const found: Date[] = [];
  let cursor = instant(after, 'after');
  while (found.length < count) {
    const next = nextAfter(schedule, cursor);
    if (next === null) break;
    found.push(new Date(next));
    cursor = next;
  }
  return found;
}

/**
 * Decide which due occurrences (cursor <= o <= now, and o <= endAt) fire now.
 *
 * - cursor > now: nothing fires and the cursor stays.
 * - 'latest': only the last due occurrence fires.
 * - 'skip': the last due occurrence fires only if it is at most `graceMs` late.
 * - 'all': every due occurrence at most `maxLatenessMs` late fires, oldest first, at most
 *   `limit` per call; when more remain, `next` is the first unfired one so the caller continues.
 * `endAt` and `remainingRuns` bound everything; once they are exhausted `next` is null.
 *
 * Costs O(limit) schedule calls plus at most ~10,000 for counting `missed` (arithmetic for
 * intervals), however long the job was down: the last due occurrence comes from previous(),
 * or from bisection on next() when a custom schedule has no previous().
 *
 * @throws {KairosValidationError} On invalid input, or a schedule whose next() goes backwards.
 */
export function planCatchUp(input: CatchUpInput): CatchUpPlan {
  const { cursorMs, nowMs, endMs, remaining } = checkCatchUpInput(input);
  if (remaining <= 0 || cursorMs > endMs) return { fire: [], missed: 0, next: null };
  if (cursorMs > nowMs) return { fire: [], missed: 0, next: new Date(cursorMs) };
  const horizon = Math.min(nowMs, endMs);
  if (input.policy === 'all') return planAll(input, cursorMs, horizon, remaining);
  const schedule = input.schedule;
  const last = lastDue(schedule, cursorMs, horizon);
  const fires = input.policy === 'latest' || nowMs - last <= input.graceMs;
  const due = countDue(schedule, cursorMs, horizon, MISSED_COUNT_CAP + 1);
  const finished = fires && remaining === 1;
  return {
    fire: fires ? [new Date(last)] : [],
    missed: Math.min(MISSED_COUNT_CAP, fires ? due - 1 : due),
    next: finished ? null : bounded(nextAfter(schedule, horizon), endMs),
  };
}

/** 'all': drop what is too late, fire the rest oldest first up to the limit and the runs left. */
function planAll(input: CatchUpInput, cursorMs: number, horizon: number, remaining: number): CatchUpPlan {
  const { schedule } = input;
  // An occurrence o is on time when now - o <= maxLatenessMs, i.e. o >= oldest.
  const oldest = input.now.getTime() - input.maxLatenessMs;
  const missed = cursorMs < oldest ? countDue(schedule, cursorMs, Math.min(oldest - 1, horizon), MISSED_COUNT_CAP) : 0;
  const cap = Math.min(input.limit, remaining);
  const fire: Date[] = [];
  let occurrence = cursorMs >= oldest ? cursorMs : nextAfter(schedule, oldest - 1);
  while (occurrence !== null && occurrence <= horizon && fire.length < cap) {
    fire.push(new Date(occurrence));
    occurrence = nextAfter(schedule, occurrence);
  }
  if (fire.length === remaining) return { fire, missed, next: null };
  return { fire, missed, next: bounded(occurrence, input.endAt?.getTime() ?? Infinity) };
}

/** The last occurrence in [cursorMs, horizon]; the cursor itself counts as one. */
function lastDue(schedule: Occurrences, cursorMs: number, horizon: number): number {
  if (schedule.previous) {
    const previous = schedule.previous(new Date(horizon));
    return previous !== null && previous.getTime() >= cursorMs ? previous.getTime() : cursorMs;
  }
  // With next() only: next(x) > horizon holds exactly for x >= the last occurrence and is
  // monotonic in x, so bisection finds it in ~35 calls for a year of milliseconds.
  let low = cursorMs;
  let high = horizon;
  while (low < high) {
    const middle = low + Math.floor((high - low) / 2);
    const next = nextAfter(schedule, middle);
    if (next === null || next > horizon) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** Occurrences in [fromMs, toMs], counting fromMs as one, but no more than `cap`. */
function countDue(schedule: Occurrences, fromMs: number, toMs: number, cap: number): number {
  if (toMs < fromMs) return 0;
  const spec = (schedule as Partial<Schedule>).spec;
  if (spec?.kind === 'interval') {
    const index = (ms: number) => Math.floor((ms - spec.anchor.getTime()) / spec.everyMs);
    return Math.min(cap, 1 + index(toMs) - index(fromMs));
  }
  let count = 1;
  for (let at = nextAfter(schedule, fromMs); at !== null && at <= toMs && count < cap; at = nextAfter(schedule, at)) count++;
  return count;
}

function compileCron(spec: Extract<ScheduleSpec, { kind: 'cron' }>): Schedule {
  const cron = parseCron(spec.cron, spec.timezone);
  return {
    spec: Object.freeze({ kind: 'cron', cron: cron.expression, timezone: cron.timezone }),
    next: (after) => cron.next(after),
    previous: (at) => cron.previous(at),
  };
}

function compileInterval(spec: Extract<ScheduleSpec, { kind: 'interval' }>): Schedule {
  const { everyMs } = spec;
  if (!Number.isSafeInteger(everyMs) || everyMs < MIN_INTERVAL_MS) {
    const message = `Expected \`everyMs\` to be a whole number of milliseconds of at least ${MIN_INTERVAL_MS}, got ${describeValue(everyMs)}.`;
    throw new KairosValidationError('everyMs', message);
  }
  const anchor = instant(spec.anchor, 'anchor');
  // Occurrences are computed from the anchor, never from the previous run, so they never drift.
  const occurrence = (k: number) => toDate(anchor + k * everyMs);
  return {
    spec: Object.freeze({ kind: 'interval', everyMs, anchor: new Date(anchor) }),
    next(after) {
      const ms = instant(after, 'after');
      return ms < anchor ? new Date(anchor) : occurrence(Math.floor((ms - anchor) / everyMs) + 1);
    },
    previous(at) {
      const ms = instant(at, 'at');
      return ms < anchor ? null : occurrence(Math.floor((ms - anchor) / everyMs));
    },
  };
}

function compileOnce(spec: Extract<ScheduleSpec, { kind: 'once' }>): Schedule {
  const at = instant(spec.at, 'at');
  return {
    spec: Object.freeze({ kind: 'once', at: new Date(at) }),
    next: (after) => (at > instant(after, 'after') ? new Date(at) : null),
    previous: (reference) => (at <= instant(reference, 'at') ? new Date(at) : null),
  };
}

/** next() as milliseconds; refuses a (custom) schedule that does not move forward. */
function nextAfter(schedule: Pick<Schedule, 'next'>, afterMs: number): number | null {
  const next = schedule.next(new Date(afterMs));
  if (next === null) return null;
  const ms = next instanceof Date ? next.getTime() : Number.NaN;
  if (!(ms > afterMs)) {
    const message = `Expected the schedule's next() to return null or a Date after ${new Date(afterMs).toISOString()}, got ${describeValue(next)}.`;
    throw new KairosValidationError('schedule', message);
  }
  return ms;
}

function bounded(occurrence: number | null, endMs: number): Date | null {
  return occurrence === null || occurrence > endMs ? null : new Date(occurrence);
}

function checkCatchUpInput(input: CatchUpInput) {
  if (!POLICIES.includes(input.policy)) {
    throw new KairosValidationError('catchUp', `Expected \`catchUp\` to be "skip", "latest" or "all", got ${describeValue(input.policy)}.`);
  }
  for (const field of ['graceMs', 'maxLatenessMs'] as const) {
    if (!(input[field] >= 0)) throw new KairosValidationError(field, `Expected \`${field}\` to be a number of at least 0, got ${describeValue(input[field])}.`);
  }
  if (!Number.isSafeInteger(input.limit) || input.limit < 1) {
    throw new KairosValidationError('limit', `Expected \`limit\` to be a whole number of at least 1, got ${describeValue(input.limit)}.`);
  }
  const remaining = input.remainingRuns ?? Infinity;
  if (remaining !== Infinity && !Number.isSafeInteger(remaining)) {
    throw new KairosValidationError('remainingRuns', `Expected \`remainingRuns\` to be a whole number or null, got ${describeValue(remaining)}.`);
  }
  const endMs = input.endAt == null ? Infinity : instant(input.endAt, 'endAt');
  return { cursorMs: instant(input.cursor, 'cursor'), nowMs: instant(input.now, 'now'), endMs, remaining };
}

function instant(value: Date, field: string): number {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new KairosValidationError(field, `Expected \`${field}\` to be a valid Date, got ${describeValue(value)}.`);
  return ms;
}

/** A Date for `ms`, or null past the range a Date can hold. */
function toDate(ms: number): Date | null {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date;
}
