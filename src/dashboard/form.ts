/**
 * Creating and editing jobs in the browser: the form's fields are read into the arguments of the
 * SQL API's define_job (and set_steps for multi-step jobs), so the same rules and the same
 * error messages apply as in psql and the CLI. Values that need converting first (durations,
 * dates, calendar exceptions) go through the API's own TypeScript checks.
 */
import { KairosValidationError, describeValue } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { assertDate, serializePayload } from '../core/validate.js';
import { assertExceptions, isException, type CalendarException } from '../core/calendar.js';
import { parseCron } from '../core/cron.js';
import { assertTimeZone } from '../core/timezone.js';
import { parseInstant } from '../core/instant.js';
import { compileSchedule, nextOccurrences, type Schedule } from '../core/schedule.js';
import { describeCron } from './describe.js';
import type { Tx } from './db.js';
import type { DashDefineJobParams } from '../store/queries.js';

/** The form as submitted: every field a string (steps as parallel lists). */
export type FormValues = Record<string, string> & { steps?: StepValues[] };

/** One step row of the form. */
export interface StepValues {
  name: string;
  kind: string;
  command: string;
  database: string;
  on_error: string;
  timeout: string;
}

const STEP_FIELDS = ['name', 'kind', 'command', 'database', 'on_error', 'timeout'] as const;

/** Read a urlencoded body into form values (steps from the step_* lists, in order). */
export function readForm(body: URLSearchParams): FormValues {
  const values: FormValues = {};
  for (const [key, value] of body) if (!key.startsWith('step_')) values[key] = value;
  const columns = STEP_FIELDS.map((f) => body.getAll(`step_${f}`));
  const count = Math.max(0, ...columns.map((c) => c.length));
  const steps: StepValues[] = [];
  for (let i = 0; i < count; i++) {
    const step = Object.fromEntries(STEP_FIELDS.map((f, j) => [f, columns[j]![i] ?? ''])) as unknown as StepValues;
    if (step.command.trim() !== '' || step.name.trim() !== '') steps.push(step);
  }
  values.steps = steps;
  // An unticked checkbox is simply absent from the form.
  values.enabled = body.has('enabled') && body.get('enabled') !== 'false' ? 'on' : 'false';
  return values;
}

const blank = (v: string | undefined): boolean => v === undefined || v.trim() === '';
const opt = (v: string | undefined): string | null => (blank(v) ? null : v!.trim());

function int(values: FormValues, field: string): number | null {
  const v = opt(values[field]);
  if (v === null) return null;
  if (!/^-?\d{1,10}$/.test(v)) throw new KairosValidationError(field, `Expected \`${field}\` to be a whole number, got ${describeValue(v)}`);
  return Number(v);
}

function duration(values: FormValues, field: string, minMs = 1): number | null {
  const v = opt(values[field]);
  return v === null ? null : parseDuration(v, field, { minMs });
}

/** A date from a datetime-local field (read as UTC when it names no zone) or ISO text. */
function date(values: FormValues, field: string): Date | null {
  const v = opt(values[field]);
  if (v === null) return null;
  return parseInstant(v, field);
}

/**
 * A JSON field as the text to store, with the TypeScript API's payload checks (plain JSON, nesting
 * at most 100 deep, at most 1 MiB): JSON nested 100 000 deep parses, but then overflowed the stack
 * of JSON.stringify and of PostgreSQL's jsonb input, a 500 instead of a 400.
 */
function json(values: FormValues, field: string): string | null {
  const v = opt(values[field]);
  if (v === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v) as unknown;
  } catch (error) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be JSON, got ${describeValue(v)}: ${(error as Error).message}`);
  }
  // JSON null means "none", as it did: the API's default applies.
  return parsed === null ? null : serializePayload(parsed, field);
}

/** Calendar exceptions, one per line: `2025-12-25`, `02:00` or `2025-12-25 02:00`. */
export function parseExceptions(text: string | undefined): CalendarException[] {
  const lines = (text ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return assertExceptions(lines.map((line) => {
    const [a, b] = line.split(/\s+/);
    if (b !== undefined) return { date: a, time: b };
    return a!.includes(':') ? { time: a } : { date: a };
  }));
}

const list = (v: string | undefined): string[] | null => (blank(v) ? null : v!.split(',').map((s) => s.trim()).filter(Boolean));

/** The define_job arguments of a submitted form (dashDefineJob's parameters). */
export function defineParams(values: FormValues): DashDefineJobParams {
  const kind = values.kind ?? 'sql';
  const scheduleKind = values.schedule_kind ?? 'manual';
  const cron = scheduleKind === 'cron' ? (values.cron ?? '').split('\n').map((l) => l.trim()).filter(Boolean) : null;
  if (scheduleKind === 'cron' && cron!.length === 0) throw new KairosValidationError('cron', 'Expected `cron` to be a cron expression such as "*/15 * * * *", got "": it is empty.');
  const payload = kind === 'task' ? json(values, 'payload') : null;
  const options = json(values, 'options');
  const command = kind === 'steps' ? (opt(values.command) ?? 'steps') : (values.command ?? '');
  return {
    job_name: values.name ?? '', command, job_type: kind, cron,
    every_ms: scheduleKind === 'interval' ? duration(values, 'every', 1000) ?? parseDuration(values.every ?? '', 'every', { minMs: 1000 }) : null,
    at: scheduleKind === 'once' ? date(values, 'at') ?? assertDate(values.at, 'at') : null,
    timezone: opt(values.timezone) ?? 'UTC',
    start_at: scheduleKind === 'interval' ? date(values, 'start_at') : scheduleKind === 'cron' ? date(values, 'not_before') : null,
    end_at: date(values, 'end_at'), max_runs: int(values, 'max_runs'), catch_up: values.catch_up ?? 'latest',
    misfire_grace_ms: duration(values, 'misfire_grace', 0), overlap: values.overlap ?? 'skip', database: opt(values.database), run_as: opt(values.run_as),
    timeout_ms: duration(values, 'timeout'), retries: int(values, 'retries') ?? 0, max_attempts: int(values, 'max_attempts'),
    exceptions: JSON.stringify(parseExceptions(values.exceptions)), labels: list(values.labels) ?? [], description: opt(values.description),
    payload, queue: opt(values.queue) ?? 'default', priority: int(values, 'priority') ?? 5,
    enabled: values.enabled !== undefined && values.enabled !== 'false', node_name: opt(values.node_name), node_tags: list(values.node_tags),
    options, max_lateness_ms: duration(values, 'max_lateness', 0),
  };
}

/** The steps JSON for set_steps. */
export function stepsJson(steps: StepValues[]): string {
  return JSON.stringify(steps.map((s, i) => {
    const step: Record<string, unknown> = { name: opt(s.name) ?? `step ${i + 1}`, kind: s.kind, command: s.command, on_error: s.on_error || 'fail' };
    if (!blank(s.database)) step.database = s.database.trim();
    if (!blank(s.timeout)) step.timeout = `${parseDuration(s.timeout, `steps[${i}].timeout`) / 1000} seconds`;
    return step;
  }));
}

/** Save a submitted form through the SQL API; returns the job id. */
export async function saveJob(tx: Tx, values: FormValues): Promise<number> {
  const params = defineParams(values);
  const steps = values.kind === 'steps' ? stepsJson(values.steps ?? []) : null;
  const [row] = await tx.dashDefineJob(params);
  if (steps !== null) await tx.dashSetSteps({ job_name: values.name ?? null, steps });
  return row!.job_id;
}

/** What the live schedule preview shows. */
export interface Preview {
  ok: boolean;
  words?: string;
  next?: string[];
  timezone?: string;
  error?: string;
  field?: string;
}

/** Whether the schedule's own field is still empty (a fresh form): no preview yet, and no error either. */
function nothingTyped(query: URLSearchParams, kind: string): boolean {
  const field = kind === 'cron' ? 'cron' : kind === 'interval' ? 'every' : kind === 'once' ? 'at' : null;
  return field !== null && (query.get(field) ?? '').trim() === '';
}

/**
 * Format an instant as the wall clock of a zone, in the dashboard's one time format
 * ("2025-11-24 03:00:00 Europe/Berlin", as time() writes "… UTC").
 */
export function zoned(at: Date, timezone: string): string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
  } catch {
    // A zone this runtime does not know (a row written around the API, not yet quarantined): UTC.
    return `${at.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${timezone}`;
}

/** The next `count` fires of a schedule, skipping calendar exceptions. */
export function upcoming(schedule: Pick<Schedule, 'next'>, after: Date, count: number, timezone: string, exceptions: CalendarException[]): Date[] {
  const found: Date[] = [];
  let cursor = after;
  // Exceptions can skip many fires; look at a bounded number of candidates.
  for (let i = 0; i < count * 50 && found.length < count; i++) {
    const [next] = nextOccurrences(schedule, cursor, 1);
    if (!next) break;
    if (!isException(next, timezone, exceptions)) found.push(next);
    cursor = next;
  }
  return found;
}

/**
 * The live preview of the form's schedule (the JSON endpoint behind the cron field): words and
 * the next 10 fire times, or the API's error message for what was typed.
 */
export function previewSchedule(query: URLSearchParams, now: Date): Preview {
  try {
    const kind = query.get('schedule_kind') ?? 'cron';
    const timezone = assertTimeZone(opt(query.get('timezone') ?? undefined) ?? 'UTC');
    const exceptions = parseExceptions(query.get('exceptions') ?? '');
    const values = Object.fromEntries(query) as FormValues;
    let schedule: Pick<Schedule, 'next'>;
    let words: string;
    if (nothingTyped(query, kind)) return { ok: true, words: '', next: [], timezone };
    if (kind === 'cron') {
      const text = (query.get('cron') ?? '').split('\n').map((l) => l.trim()).filter(Boolean).join('\n');
      const lines = (text === '' ? [''] : text.split('\n')).map((line) => parseCron(line, timezone));
      schedule = { next: (after: Date) => lines.map((l) => l.next(after)).reduce<Date | null>((a, b) => (b && (!a || b < a) ? b : a), null) };
      words = describeCron(text, timezone);
    } else if (kind === 'interval') {
      const everyMs = parseDuration(query.get('every') ?? '', 'every', { minMs: 1000 });
      const anchor = date(values, 'start_at') ?? now;
      schedule = compileSchedule({ kind: 'interval', everyMs, anchor });
      words = `Every ${query.get('every')!.trim()}`;
    } else if (kind === 'once') {
      const at = assertDate(date(values, 'at') ?? query.get('at'), 'at');
      schedule = compileSchedule({ kind: 'once', at });
      words = `Once, at ${at.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
    } else {
      return { ok: true, words: 'Manual: runs only when triggered', next: [], timezone };
    }
    const end = date(values, 'end_at');
    const next = upcoming(schedule, new Date(now.getTime() - 1), 10, timezone, exceptions).filter((d) => !end || d <= end);
    return { ok: true, words, timezone, next: next.map((d) => zoned(d, timezone)) };
  } catch (error) {
    if (error instanceof KairosValidationError) return { ok: false, error: error.message, field: error.field };
    throw error;
  }
}
