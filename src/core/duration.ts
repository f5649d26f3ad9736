/**
 * Durations: what users write for intervals, timeouts and grace periods, turned into whole
 * milliseconds. Several dialects are accepted because users copy values from many places:
 * compact (`1h30m`), ISO 8601 (`PT1H30M`), PostgreSQL (`1 hour 30 minutes`, `01:30:00`) and plain
 * numbers of milliseconds. Months and years are refused everywhere: they have no fixed length.
 */

import { KairosValidationError, describeValue } from './errors.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** Unit spellings of the compact and PostgreSQL dialects, in milliseconds. */
const UNIT_MS: ReadonlyMap<string, number> = new Map([
  ...spell(['ms', 'msec', 'msecs', 'millisecond', 'milliseconds'], 1),
  ...spell(['s', 'sec', 'secs', 'second', 'seconds'], SECOND),
  ...spell(['m', 'min', 'mins', 'minute', 'minutes'], MINUTE),
  ...spell(['h', 'hr', 'hrs', 'hour', 'hours'], HOUR),
  ...spell(['d', 'day', 'days'], DAY),
  ...spell(['w', 'week', 'weeks'], WEEK),
]);

/** Units that PostgreSQL accepts but that have no fixed length (`mon` is PostgreSQL's month). */
const CALENDAR_UNITS = new Set(['mo', 'mon', 'mons', 'month', 'months', 'y', 'yr', 'yrs', 'year', 'years']);

const CALENDAR_REFUSAL =
  'months and years have no fixed length; use days or weeks, or a cron expression for calendar dates';

/** Largest part of a formatted duration first. Weeks are left out: `14d` reads better than `2w`. */
const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', DAY],
  ['h', HOUR],
  ['m', MINUTE],
  ['s', SECOND],
  ['ms', 1],
];

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;
const UNIT_TOKEN = new RegExp(String.raw`\s*${NUMBER}\s*([a-z]+)\s*`, 'y');
const ISO = new RegExp(
  String.raw`^p(?:${NUMBER}w)?(?:${NUMBER}d)?(?:t(?=\d)(?:${NUMBER}h)?(?:${NUMBER}m)?(?:${NUMBER}s)?)?$`,
);
const CLOCK = /^(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d{1,3})?))?$/;
const TRAILING_CLOCK = /(?:^|\s)(\d+:[\d:.]*)$/;

/** Reports why a duration was refused; `detail` is appended to the standard message. */
type Fail = (detail?: string) => never;

/**
 * Parse a duration to a whole, positive number of milliseconds.
 *
 * Accepts a positive integer number of milliseconds; compact strings (`500ms`, `15s`, `15m`,
 * `2h`, `1d`, `1w`, `1h30m`, `1h 30m`); ISO 8601 (`PT15M`, `P1D`, `P1DT2H`); PostgreSQL interval
 * style (`15 minutes`, `1 day`, `2 hours 30 minutes`, `1 min`, `10 secs`, `00:15:00`,
 * `1 day 02:00:00`). Case does not matter. Months and years are refused because their length varies.
 * Zero is refused unless `options.minMs` is 0 or less; negative values are always refused.
 *
 * @param input - The value to parse.
 * @param field - The option name used in error messages, e.g. `every`.
 * @param options - Inclusive bounds in milliseconds; `minMs` defaults to 1.
 * @throws {KairosValidationError} When `input` is not a duration or lies outside the bounds.
 */
export function parseDuration(
  input: unknown,
  field: string,
  options: { minMs?: number; maxMs?: number } = {},
): number {
  const fail: Fail = (detail) => {
    throw new KairosValidationError(field, refusal(field, input, detail));
  };
  const ms = measure(input, fail);
  if (ms < 0) fail('it must not be negative');
  if (!Number.isSafeInteger(ms)) fail('it is too large');
  // Zero is refused unless the caller opts in with `minMs: 0` (e.g. "no grace period").
  const { minMs = 1, maxMs } = options;
  if (ms < minMs) {
    if (ms === 0 && minMs <= 1) fail('it must be positive');
    throw new KairosValidationError(field, boundMessage(field, 'at least', minMs, input));
  }
  if (maxMs !== undefined && ms > maxMs) {
    throw new KairosValidationError(field, boundMessage(field, 'at most', maxMs, input));
  }
  return ms;
}

/**
 * Format milliseconds compactly, largest unit first: `90000` → `1m30s`, `3600000` → `1h`,
 * `250` → `250ms`, `0` → `0ms`. The output is accepted by {@link parseDuration}.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return '0ms';
  let text = '';
  for (const [unit, size] of FORMAT_UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}

/**
 * Strings already parsed (their milliseconds, before the bounds check): a batch of runs repeats
 * the same few, e.g. `backoff: '1s'` on every item. Cleared when full, so it stays small.
 */
const parsed = new Map<string, number>();
const PARSED_MAX = 500;

function measure(input: unknown, fail: Fail): number {
  if (typeof input === 'number') {
    if (!Number.isInteger(input)) fail('a number must be a finite whole number of milliseconds');
    return input;
  }
  if (typeof input !== 'string') return fail();
  const known = parsed.get(input);
  if (known !== undefined) return known;
  const ms = measureText(input, fail);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(input, ms);
  return ms;
}

function measureText(input: string, fail: Fail): number {
  const text = input.trim().toLowerCase();
  if (text === '') return fail();
  if (/^\d+(?:\.\d+)?$/.test(text)) return fail('a string needs a unit, e.g. "15s"; numbers are milliseconds');
  return wholeMilliseconds(text.startsWith('p') ? fromIso(text, fail) : fromText(text, fail), fail);
}

/** Units followed by an optional PostgreSQL clock part: `2 hours`, `00:15:00`, `1 day 02:00:00`. */
function fromText(text: string, fail: Fail): number {
  const clock = TRAILING_CLOCK.exec(text);
  const units = clock ? text.slice(0, clock.index) : text;
  const clockMs = clock?.[1] === undefined ? 0 : fromClock(clock[1], fail);
  return (units.trim() === '' ? 0 : fromUnits(units, fail)) + clockMs;
}

function fromUnits(text: string, fail: Fail): number {
  let total = 0;
  UNIT_TOKEN.lastIndex = 0;
  while (UNIT_TOKEN.lastIndex < text.length) {
    const match = UNIT_TOKEN.exec(text);
    if (match === null) return fail();
    const unit = match[2] ?? '';
    if (CALENDAR_UNITS.has(unit)) return fail(CALENDAR_REFUSAL);
    const size = UNIT_MS.get(unit);
    if (size === undefined) return fail(`unknown unit "${unit}"`);
    total += Number(match[1]) * size;
  }
  return total;
}

function fromClock(text: string, fail: Fail): number {
  const match = CLOCK.exec(text);
  if (match === null) return fail('a clock value must look like hh:mm or hh:mm:ss');
  return Number(match[1]) * HOUR + Number(match[2]) * MINUTE + Number(match[3] ?? 0) * SECOND;
}

function fromIso(text: string, fail: Fail): number {
  // Before the T, ISO's M means months; after it, minutes. Y is always years.
  if (/^p[^t]*[ym]/.test(text)) return fail(CALENDAR_REFUSAL);
  const match = ISO.exec(text);
  if (match === null || text === 'p') return fail();
  const sizes = [WEEK, DAY, HOUR, MINUTE, SECOND];
  return sizes.reduce((total, size, i) => total + Number(match[i + 1] ?? 0) * size, 0);
}

/** Fractions such as `1.5h` are fine as long as they land on a whole millisecond. */
function wholeMilliseconds(total: number, fail: Fail): number {
  const rounded = Math.round(total);
  // Binary fractions make e.g. 1.1h come out a hair off 3960000; that is not a real fraction.
  if (Math.abs(total - rounded) > 1e-6) fail('it must be a whole number of milliseconds');
  return rounded;
}

function refusal(field: string, input: unknown, detail: string | undefined): string {
  const examples = 'a duration such as 60000, "15s", "1h30m", "PT15M", "15 minutes" or "00:15:00"';
  return `Expected \`${field}\` to be ${examples}, got ${describeValue(input)}${detail ? ` (${detail})` : ''}.`;
}

function boundMessage(field: string, relation: string, bound: number, input: unknown): string {
  return `Expected \`${field}\` to be ${relation} ${formatDuration(bound)}, got ${describeValue(input)}.`;
}

function spell(names: readonly string[], ms: number): Array<[string, number]> {
  return names.map((name) => [name, ms]);
}
