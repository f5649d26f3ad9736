/**
 * Cron expressions: validation with precise messages, and fire-time calculation with Vixie
 * cron's rules, in any IANA time zone.
 *
 * The calendar maths is croner's. Kairos adds, on top of it:
 * - its own validation, so every mistake names the field and the value (croner's messages are
 *   terse, count days from 0 and accept things Kairos does not, like `+`, 7 fields or `?` in any
 *   field); croner never sees an expression Kairos refuses, and its messages never reach users;
 * - `?` (Quartz's "no specific value") in one day field, as `*`;
 * - `LW` in a list of the day-of-month field (croner takes it only alone): see {@link UnionEngine};
 * - `a/n` (from `a` to the field's end, every `n`), rewritten to `a-max/n` before croner sees it,
 *   because croner only accepts it in its `sloppyRanges` mode, which also allows a bare `/n`;
 * - Vixie's day rule: day-of-month and day-of-week combine with OR when both are restricted,
 *   but with AND when either starts with `*`; croner's OR mode counts a stepped `*` as restricted;
 * - runs for fixed-time jobs skipped by a DST gap that crosses midnight (see {@link MidnightGapRuns}).
 * Croner's `fixedTimeRule: 'no-wildcard'` does the rest of the DST handling exactly as Vixie
 * does; test/core/cron.test.ts proves it for New York and London.
 */

import { Cron } from 'croner';
import type { CronOptions } from 'croner';

import { KairosValidationError, describeValue } from './errors.js';
import { assertTimeZone, isUtcZone, midnightGaps, startOfDay } from './timezone.js';
import type { MidnightGap } from './timezone.js';

/** A parsed, validated cron expression bound to a time zone. */
export interface CronSchedule {
  /** The expression as given, trimmed. */
  readonly expression: string;
  /** The IANA time zone the expression is evaluated in. */
  readonly timezone: string;
  /** True for Vixie "fixed-time" jobs: no wildcard or step in the second, minute and hour fields. */
  readonly fixedTime: boolean;
  /** First fire time strictly after `after`, or null if there is none before the year 3000. */
  next(after: Date): Date | null;
  /** The last fire time at or before `at`, or null (searches at most 400 years back). */
  previous(at: Date): Date | null;
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  /** Largest value accepted (day-of-week accepts 7 for Sunday). */
  readonly max: number;
  /** Where `a/n` stops, and so the largest useful step is `top - min + 1`. */
  readonly top: number;
  readonly names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59, top: 59 },
  { name: 'minute', min: 0, max: 59, top: 59 },
  { name: 'hour', min: 0, max: 23, top: 23 },
  { name: 'day-of-month', min: 1, max: 31, top: 31 },
  { name: 'month', min: 1, max: 12, top: 12, names: MONTHS },
  // 7 is accepted as Sunday, but `a/n` stops at Saturday so `1/2` means Mon, Wed, Fri.
  { name: 'day-of-week', min: 0, max: 7, top: 6, names: DAYS },
];

const ALIASES: ReadonlyMap<string, string> = new Map([
  ['@yearly', '0 0 1 1 *'],
  ['@annually', '0 0 1 1 *'],
  ['@monthly', '0 0 1 * *'],
  ['@weekly', '0 0 * * 0'],
  ['@daily', '0 0 * * *'],
  ['@midnight', '0 0 * * *'],
  ['@hourly', '0 * * * *'],
]);

const ITEM = /^(\*|[0-9A-Z]+)(?:-([0-9A-Z]+))?(?:\/(\d+))?$/;
// A date every expression that can fire at all reaches within 400 years (the Gregorian cycle).
const NEVER_CHECK_FROM = new Date(Date.UTC(2000, 0, 1));

type Fail = (detail: string) => never;

/**
 * Parse and validate a cron expression: 5 fields (minute hour day-of-month month day-of-week)
 * or 6 with leading seconds; names JAN-DEC and SUN-SAT; lists, ranges, steps, `a/n`; `L`, `LW`
 * and `nW` in day-of-month; `dL` and `d#n` in day-of-week; `?` alone in one of the two day
 * fields (the same as `*`); `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
 * `@midnight`, `@hourly`. docs/schedules.md#the-dialect lists it all.
 *
 * @param expression - The cron expression.
 * @param timezone - IANA zone the expression is read in.
 * @param field - The option name used in error messages.
 * @throws {KairosValidationError} On any other syntax, out-of-range values, `@reboot`, an
 *   expression no date can ever match, or an unknown time zone.
 */
export function parseCron(expression: unknown, timezone = 'UTC', field = 'cron'): CronSchedule {
  const fail: Fail = (detail) => {
    throw new KairosValidationError(
      field,
      `Expected \`${field}\` to be a cron expression such as "*/15 * * * *", got ${describeValue(expression)}: ${detail}.`,
    );
  };
  if (typeof expression !== 'string') return fail('it must be a string');
  const zone = assertTimeZone(timezone);
  const text = expression.trim();
  const raw = splitFields(text, fail);
  const fields = raw.map((part, i) => normalizeField(part, FIELDS[i] as FieldSpec, fail));
  // Quartz and EventBridge refuse this too; both `*` would be every day, so say so.
  if (raw[3] === '?' && raw[5] === '?') fail('both day fields are "?"; "?" belongs in one of them (write * in both to fire every day)');
  return compile(text, zone, fields, fail);
}

/** Build the croner engines for validated, normalized fields (seconds first). */
function compile(text: string, zone: string, fields: string[], fail: Fail): CronSchedule {
  const patterns = cronerPatterns(fields);
  const options = baseOptions(fields[3] ?? '*', fields[5] ?? '*');
  // Wall-clock times read as UTC. For UTC itself this is also the fast path: with a zone name,
  // croner formats every candidate through Intl, which is about ten times slower.
  const wallClockEngine = () => createEngine(patterns, { ...options, utcOffset: 0 });
  const utc = isUtcZone(zone);
  const engine = utc ? wallClockEngine() : createEngine(patterns, { ...options, timezone: zone });
  if (engine.nextRun(NEVER_CHECK_FROM) === null) fail('no date ever matches its day and month fields, so it would never fire');
  const fixedTime = fields.slice(0, 3).every((part) => !part.includes('*') && !part.includes('/'));
  const gapRuns = fixedTime && !utc ? new MidnightGapRuns(zone, wallClockEngine) : null;
  return new CronerSchedule(text, zone, fixedTime, engine, gapRuns);
}

/** The six fields, seconds first: aliases are expanded and 5-field expressions get second 0. */
function splitFields(text: string, fail: Fail): string[] {
  if (text === '') return fail('it is empty');
  if (text.startsWith('@')) return splitFields(expandAlias(text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()), fail), fail);
  const fields = text.split(/\s+/);
  if (fields.length === 5) return ['0', ...fields];
  if (fields.length === 6) return fields;
  const yearHint = fields.length === 7 ? '; Kairos has no year field' : '';
  return fail(`it has ${fields.length} fields, not 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)${yearHint}`);
}

function expandAlias(alias: string, fail: Fail): string {
  if (alias === '@reboot') return fail('Kairos has no reboot event; start the job from your own start-up code instead');
  return ALIASES.get(alias) ?? fail(`unknown alias; use one of ${[...ALIASES.keys()].join(', ')}`);
}

/**
 * The croner patterns whose fire times together are the expression's: one, or two when the
 * day-of-month field has LW in a list (croner takes LW only alone): LW alone, and the other
 * items. Each pattern keeps the whole expression's day rule, see {@link baseOptions}.
 */
function cronerPatterns(fields: readonly string[]): string[] {
  const dayOfMonth = fields[3] ?? '*';
  const items = dayOfMonth.split(',');
  if (dayOfMonth === 'LW' || !items.includes('LW')) return [fields.join(' ')];
  const rest = items.filter((item) => item !== 'LW');
  const withDays = (days: string) => [...fields.slice(0, 3), days, ...fields.slice(4)].join(' ');
  return rest.length === 0 ? [withDays('LW')] : [withDays('LW'), withDays(rest.join(','))];
}

/** Validate one field and rewrite it for croner: names become numbers, `a/n` becomes `a-top/n`, `?` becomes `*`. */
function normalizeField(raw: string, spec: FieldSpec, fail: Fail): string {
  // ASCII letters only, as in SQL: toUpperCase() would turn "ſun" into "SUN" and "frı" into "FRI".
  const upper = raw.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
  const dayField = spec.name === 'day-of-month' || spec.name === 'day-of-week';
  if (upper === '?' && dayField) return '*';
  return upper
    .split(',')
    .map((item) => {
      if (item === '?') {
        if (!dayField) fail(`the ${spec.name} field does not accept "?"; only the day-of-month and day-of-week fields do (no specific value)`);
        fail(`the ${spec.name} field has "?" in the list "${upper}"; ? must stand alone`);
      }
      return normalizeSpecial(item, spec, fail) ?? normalizeItem(item, spec, fail);
    })
    .join(',');
}

/** `L`, `LW` and `nW` in day-of-month; `dL` (last d of the month) and `d#n` in day-of-week. */
function normalizeSpecial(item: string, spec: FieldSpec, fail: Fail): string | undefined {
  if (spec.name === 'day-of-month') {
    if (item === 'L' || item === 'LW') return item;
    const nearest = /^(\d+)W$/.exec(item);
    return nearest ? `${valueOf(nearest[1] ?? '', spec, fail)}W` : undefined;
  }
  if (spec.name !== 'day-of-week') return undefined;
  const nth = /^([0-9A-Z]+)#(\d+)$/.exec(item);
  if (nth) {
    const n = Number(nth[2]);
    if (n < 1 || n > 5) fail(`the day-of-week field has "${item}", but # must be followed by 1-5`);
    return `${valueOf(nth[1] ?? '', spec, fail)}#${n}`;
  }
  const last = /^([0-9A-Z]+)L$/.exec(item);
  return last ? `${valueOf(last[1] ?? '', spec, fail)}L` : undefined;
}

function normalizeItem(item: string, spec: FieldSpec, fail: Fail): string {
  const match = ITEM.exec(item);
  if (match === null) return fail(`the ${spec.name} field has an entry "${item}" that is not a value, range or step`);
  const [, start = '', end, step] = match;
  const stepText = step === undefined ? '' : `/${checkStep(Number(step), spec, fail)}`;
  if (start === '*') {
    if (end !== undefined) fail(`the ${spec.name} field has "${item}", but * cannot start a range`);
    return `*${stepText}`;
  }
  const low = valueOf(start, spec, fail);
  // `a/n` means from a to the end of the field, every n.
  const high = end === undefined ? (step === undefined ? undefined : spec.top) : valueOf(end, spec, fail);
  if (high === undefined) return String(low);
  if (low > high) fail(`the ${spec.name} field has the reversed range "${item}"; write ranges low-high`);
  return `${low}-${high}${stepText}`;
}

function valueOf(token: string, spec: FieldSpec, fail: Fail): number {
  if (/^\d+$/.test(token)) {
    const value = Number(token);
    if (value < spec.min || value > spec.max) fail(`the ${spec.name} field allows ${spec.min}-${spec.max}, not ${token}`);
    return value;
  }
  const index = spec.names?.indexOf(token) ?? -1;
  if (index < 0) {
    const known = spec.names ? ` (names: ${spec.names[0]}-${spec.names.at(-1)})` : '';
    fail(`the ${spec.name} field does not accept "${token}"${known}`);
  }
  return index + (spec.names === MONTHS ? 1 : 0);
}

function checkStep(step: number, spec: FieldSpec, fail: Fail): number {
  const largest = spec.top - spec.min + 1;
  if (step < 1 || step > largest) fail(`the ${spec.name} field has step ${step}; steps must be 1-${largest}`);
  return step;
}

function baseOptions(dayOfMonth: string, dayOfWeek: string): CronOptions {
  // Vixie checks only whether a day field *starts* with `*`: if either does, both must match.
  const restricted = dayOfMonth !== '*' && dayOfWeek !== '*';
  // Croner also makes both match when the day-of-month field is exactly `*` once its L items are
  // out (`*,L`); with LW out too (`LW,*`), as the SQL functions do, so that the patterns of
  // cronerPatterns() keep that rule.
  const starOnceLOut = dayOfMonth.split(',').filter((item) => item !== 'L' && item !== 'LW').join(',') === '*';
  const domAndDow = restricted && (dayOfMonth.startsWith('*') || dayOfWeek.startsWith('*') || starOnceLOut);
  // paused, and no callback given: croner never starts a timer for these instances.
  return { paused: true, mode: '6-part', fixedTimeRule: 'no-wildcard', domAndDow };
}

/** What Kairos asks of a croner engine; {@link UnionEngine} answers it for several. */
interface Engine {
  nextRun(after: Date): Date | null;
  previousRuns(count: 1, before: Date): Date[];
}

function createEngine(patterns: readonly string[], options: CronOptions): Engine {
  const engines = patterns.map((pattern) => {
    try {
      return new Cron(pattern, options);
    } catch (error) {
      // Kairos's own validation accepts only what croner accepts, and the SQL API has no croner:
      // a refusal here is a bug in Kairos, not a mistake in the expression.
      throw new Error(`Kairos could not compile the cron pattern "${pattern}" it accepted; please report this bug`, { cause: error });
    }
  });
  return engines.length === 1 ? (engines[0] as Cron) : new UnionEngine(engines);
}

/**
 * The fire times of several croner engines together: the union of the patterns' matches. Exact
 * for DST too, because every Vixie rule croner applies (a skipped fixed time runs at the end of
 * the gap, a repeated one runs once) looks at one wall-clock date and time at a time.
 */
class UnionEngine implements Engine {
  readonly #engines: readonly Cron[];

  constructor(engines: readonly Cron[]) {
    this.#engines = engines;
  }

  nextRun(after: Date): Date | null {
    let best: Date | null = null;
    for (const engine of this.#engines) {
      const found = engine.nextRun(after);
      if (found !== null && (best === null || found.getTime() < best.getTime())) best = found;
    }
    return best;
  }

  previousRuns(count: 1, before: Date): Date[] {
    let best: Date | undefined;
    for (const engine of this.#engines) {
      const found = engine.previousRuns(count, before)[0];
      if (found !== undefined && (best === undefined || found.getTime() > best.getTime())) best = found;
    }
    return best === undefined ? [] : [best];
  }
}

/**
 * Croner runs a fixed-time job whose wall-clock time a DST gap skips at the end of the gap only
 * if the gap ends on the same local day; otherwise the run is lost. Vixie cron runs it right
 * after the gap regardless, and so does Kairos: this adds those runs. It matters only in zones
 * whose gap crosses midnight: America/Nuuk (23:00 → 00:00 every March), Pacific/Apia in 2011…
 */
class MidnightGapRuns {
  readonly #timezone: string;
  readonly #createWallClockEngine: () => Engine;
  #wallClock: Engine | undefined;

  constructor(timezone: string, createWallClockEngine: () => Engine) {
    this.#timezone = timezone;
    this.#createWallClockEngine = createWallClockEngine;
  }

  /** The earliest added run in (afterMs, found), or found itself. */
  next(afterMs: number, found: Date | null): Date | null {
    for (const gap of midnightGaps(this.#timezone)) {
      if (gap.at <= afterMs) continue;
      if (found !== null && gap.at >= found.getTime()) break;
      if (this.#skipsAMatch(gap)) return new Date(gap.at);
    }
    return found;
  }

  /** The latest added run in (found, atMs], or found itself. */
  previous(atMs: number, found: Date | null): Date | null {
    const gaps = midnightGaps(this.#timezone); // scanned on first use, a few dozen ms per zone
    for (let i = gaps.length - 1; i >= 0; i--) {
      const gap = gaps[i] as MidnightGap;
      if (gap.at > atMs) continue;
      if (found !== null && gap.at <= found.getTime()) break;
      if (this.#skipsAMatch(gap)) return new Date(gap.at);
    }
    return found;
  }

  /** True if the expression matches a wall-clock time croner drops: the gap's part before midnight. */
  #skipsAMatch(gap: MidnightGap): boolean {
    // Reading wall-clock times as UTC lets croner match the fields without any zone involved.
    this.#wallClock ??= this.#createWallClockEngine();
    const match = this.#wallClock.nextRun(new Date(gap.skippedFrom - 1));
    return match !== null && match.getTime() < startOfDay(gap.skippedTo);
  }
}

class CronerSchedule implements CronSchedule {
  readonly expression: string;
  readonly timezone: string;
  readonly fixedTime: boolean;
  readonly #engine: Engine;
  readonly #gapRuns: MidnightGapRuns | null;

  constructor(expression: string, timezone: string, fixedTime: boolean, engine: Engine, gapRuns: MidnightGapRuns | null) {
    this.expression = expression;
    this.timezone = timezone;
    this.fixedTime = fixedTime;
    this.#engine = engine;
    this.#gapRuns = gapRuns;
  }

  next(after: Date): Date | null {
    const afterMs = instantOf(after, 'after');
    const found = this.#engine.nextRun(new Date(afterMs));
    return this.#gapRuns ? this.#gapRuns.next(afterMs, found) : found;
  }

  previous(at: Date): Date | null {
    const atMs = instantOf(at, 'at');
    // croner looks strictly before its reference (and within the same second when it has
    // milliseconds), so one millisecond later makes a run exactly at `at` count.
    const found = this.#engine.previousRuns(1, new Date(atMs + 1))[0] ?? null;
    return this.#gapRuns ? this.#gapRuns.previous(atMs, found) : found;
  }
}

function instantOf(value: Date, field: string): number {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new KairosValidationError(field, `Expected \`${field}\` to be a valid Date, got ${describeValue(value)}.`);
  return ms;
}
