/**
 * Turning schedule() calls into job rows: one of cron / every / at / nextRun (or none: a job that
 * runs only when triggered), its policies and run options, all checked; the first next_run is
 * computed from the database clock.
 */
import { KairosValidationError, describeValue } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { assertTimeZone } from '../core/timezone.js';
import { compileSchedule, type Schedule } from '../core/schedule.js';
import { assertDate, assertInteger, assertKnownKeys, assertName, assertOneOf, assertText, serializePayload } from '../core/validate.js';
import type { CatchUpPolicy, OverlapPolicy } from '../core/types.js';
import type { TaskDefinition } from './tasks.js';
import { optionalDuration, resolveRunSettings } from './run-options.js';
import type { ScheduleOptions } from './types.js';
import { assertExceptions, type CalendarException } from '../core/calendar.js';

/**
 * A job's columns as a definition gives them: named after the columns of `jobs` (interval_ms is
 * schedule_interval in ms), the keys of the JSON that storeJob takes as @definition.
 */
export interface JobColumns {
  job_name: string;
  job_type: string;
  command: string;
  description: string | null;
  schedule_kind: 'cron' | 'interval' | 'once' | 'custom' | 'manual';
  cron: string | null;
  timezone: string;
  interval_ms: number | null;
  schedule_time: Date | null;
  end_time: Date | null;
  max_runs: number | null;
  catch_up: CatchUpPolicy;
  max_lateness_ms: number;
  misfire_grace_ms: number | null;
  overlap: OverlapPolicy;
  payload: unknown;
  queue: string;
  priority: number;
  max_retries: number;
  backoff_ms: number;
  backoff_max_ms: number;
  timeout_ms: number | null;
  lock_key: string | null;
  max_attempts: number | null;
  enabled: boolean;
  labels: string[];
  exceptions: CalendarException[];
  node_name: string | null;
  node_tags: string[];
}

/** A checked schedule definition: the job row's columns plus what's needed to plan it. */
export interface JobDefinition {
  row: JobColumns;
  /** Compiled schedule (null for manual and custom jobs). */
  schedule: Pick<Schedule, 'next'> | null;
  custom: ((after: Date) => Date | null) | null;
  startAt: Date | null;
  runImmediately: boolean;
  /** Whether `startAt` was given (an interval's anchor defaults to now and then is kept). */
  anchorGiven: boolean;
}

function scheduleKind(options: ScheduleOptions): 'cron' | 'interval' | 'once' | 'custom' | 'manual' {
  const given = (['cron', 'every', 'at', 'nextRun'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) {
    throw new KairosValidationError(given[1]!, `Expected one of \`cron\`, \`every\`, \`at\` or \`nextRun\`, got ${given.map((g) => `\`${g}\``).join(' and ')}`);
  }
  return ({ cron: 'cron', every: 'interval', at: 'once', nextRun: 'custom' } as const)[given[0]!] ?? 'manual';
}

/**
 * The keys of {@link ScheduleOptions}, the one list schedule() accepts (a key missing here, or
 * here and not in the interface, fails the type-check).
 */
export const SCHEDULE_OPTION_KEYS = {
  name: true, task: true, payload: true, cron: true, timezone: true, every: true, startAt: true, at: true, nextRun: true,
  endAt: true, maxRuns: true, catchUp: true, maxLateness: true, misfireGrace: true, overlap: true, runImmediately: true,
  disableAfterFailures: true, enabled: true, queue: true, priority: true, retries: true, backoff: true, maxBackoff: true,
  timeout: true, description: true, labels: true, exceptions: true, nodeName: true, nodeTags: true,
} as const satisfies Record<keyof ScheduleOptions, true>;

/** Check a schedule() call and build its job definition. */
export function buildJob(options: ScheduleOptions, definition: TaskDefinition | undefined): JobDefinition {
  if (!options || typeof options !== 'object') throw new KairosValidationError('options', `Expected schedule options to be an object, got ${describeValue(options)}`);
  assertKnownKeys(options, SCHEDULE_OPTION_KEYS, 'schedule()');
  const kind = scheduleKind(options);
  const timezone = assertTimeZone(options.timezone ?? 'UTC');
  const startAt = options.startAt === undefined ? null : assertDate(options.startAt, 'startAt');
  const everyMs = kind === 'interval' ? parseDuration(options.every, 'every', { minMs: 1000 }) : null;
  const at = kind === 'once' ? assertDate(options.at, 'at') : null;
  if (kind === 'custom' && typeof options.nextRun !== 'function') {
    throw new KairosValidationError('nextRun', `Expected \`nextRun\` to be a function (after: Date) => Date | null, got ${describeValue(options.nextRun)}`);
  }
  const schedule =
    kind === 'cron' ? compileSchedule({ kind: 'cron', cron: options.cron as string, timezone })
    : kind === 'interval' ? compileSchedule({ kind: 'interval', everyMs: everyMs!, anchor: startAt ?? new Date(0) })
    : kind === 'once' ? compileSchedule({ kind: 'once', at: at! })
    : null;
  const payloadText = serializePayload(options.payload === undefined ? {} : definition?.validate ? definition.validate(options.payload) : options.payload);
  const row: JobColumns = {
    job_name: assertName(options.name, 'name'),
    job_type: 'task',
    command: assertName(options.task, 'task'),
    description: options.description === undefined ? null : assertText(String(options.description), 'description'),
    schedule_kind: kind,
    cron: kind === 'cron' ? String(options.cron).trim() : null,
    timezone,
    interval_ms: everyMs,
    schedule_time: kind === 'once' ? at : kind === 'interval' ? startAt : null,
    end_time: options.endAt === undefined ? null : assertDate(options.endAt, 'endAt'),
    max_runs: options.maxRuns === undefined ? null : assertInteger(options.maxRuns, 'maxRuns', 1, 2 ** 31 - 1),
    catch_up: assertOneOf(options.catchUp ?? 'latest', 'catchUp', ['skip', 'latest', 'all'] as const),
    max_lateness_ms: optionalDuration(options.maxLateness, 'maxLateness') ?? 86_400_000,
    misfire_grace_ms: optionalDuration(options.misfireGrace, 'misfireGrace'),
    overlap: assertOneOf(options.overlap ?? 'skip', 'overlap', ['allow', 'skip', 'queue', 'replace'] as const),
    payload: JSON.parse(payloadText) as unknown,
    queue: assertName(options.queue ?? definition?.queue ?? 'default', 'queue'),
    priority: assertInteger(options.priority ?? definition?.priority ?? 5, 'priority', -1000, 1000),
    // A schedule's runs do not take the task's retries: they default to none (the next occurrence comes anyway).
    ...resolveRunSettings(String(options.task), { ...options, retries: options.retries ?? 0 }, definition),
    max_attempts: options.disableAfterFailures === undefined ? null : assertInteger(options.disableAfterFailures, 'disableAfterFailures', 1, 1_000_000),
    enabled: options.enabled === undefined ? true : Boolean(options.enabled),
    labels: (options.labels ?? []).map((l, i) => assertName(l, `labels[${i}]`)),
    exceptions: assertExceptions(options.exceptions),
    node_name: options.nodeName === undefined ? null : assertName(options.nodeName, 'nodeName'),
    node_tags: (options.nodeTags ?? []).map((t, i) => assertName(t, `nodeTags[${i}]`)),
  };
  if (row.end_time && startAt && row.end_time < startAt) {
    throw new KairosValidationError('endAt', `Expected \`endAt\` (${row.end_time.toISOString()}) to be after \`startAt\` (${startAt.toISOString()})`);
  }
  return { row, schedule, custom: kind === 'custom' ? options.nextRun! : null, startAt, runImmediately: Boolean(options.runImmediately), anchorGiven: startAt !== null };
}

/** The first next_run of a new or changed schedule, at database time `now`. */
export function firstNextRun(def: JobDefinition, now: Date): Date | null {
  const r = def.row;
  if (r.schedule_kind === 'manual') return null;
  if (def.runImmediately) return now;
  const notBefore = def.startAt && def.startAt > now ? def.startAt : now;
  let first: Date | null;
  if (r.schedule_kind === 'once') first = r.schedule_time;
  else if (r.schedule_kind === 'custom') first = def.custom!(new Date(notBefore.getTime() - 1));
  else if (r.schedule_kind === 'interval' && !def.anchorGiven) first = new Date(now.getTime() + r.interval_ms!);
  else first = def.schedule!.next(new Date(notBefore.getTime() - 1));
  if (first && r.end_time instanceof Date && first > r.end_time) return null;
  return first;
}
