/**
 * Time zones: validation, and the few facts about a zone's clock changes that cron.ts needs.
 * Kairos evaluates cron expressions in IANA time zones (`Europe/London`), never in fixed UTC
 * offsets: an offset cannot follow daylight saving time, which is usually the reason someone
 * sets a time zone in the first place.
 */

import { KairosValidationError, describeValue } from './errors.js';

// Newer ICU versions accept offsets such as "+02:00" as time zones; Kairos refuses them on every
// Node version so the same configuration never means different things on different hosts.
const OFFSET_LIKE = /^(?:[+-]|(?:utc|gmt)[+-])/i;

/**
 * Validate an IANA time zone name such as `America/New_York` or `UTC` and return it unchanged.
 * Refuses empty strings, non-strings, unknown zones and UTC offsets (`+02:00`).
 *
 * @param value - The value to check.
 * @param field - The option name used in the error message.
 * @throws {KairosValidationError} When `value` is not a time zone the runtime knows.
 */
export function assertTimeZone(value: unknown, field = 'timezone'): string {
  if (typeof value !== 'string' || value === '') {
    throw invalidZone(field, value, 'must be a non-empty string');
  }
  if (OFFSET_LIKE.test(value)) {
    throw invalidZone(field, value, 'UTC offsets do not follow daylight saving time; use a zone name');
  }
  if (!isKnownZone(value)) {
    throw invalidZone(field, value, 'this runtime does not know that zone');
  }
  return value;
}

/**
 * True when `timezone` (already validated) is UTC under any of its names (`UTC`, `Etc/UTC`, `GMT`…).
 * Lets callers skip time zone conversions, which cannot change anything in UTC.
 */
export function isUtcZone(timezone: string): boolean {
  return new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone === 'UTC';
}

/**
 * A daylight-saving gap whose skipped wall-clock times reach across a local midnight, such as
 * America/Nuuk's 23:00 → 00:00 jump or Pacific/Apia skipping 30 December 2011 entirely.
 * Wall-clock times are given as milliseconds of a UTC date with the same fields.
 */
export interface MidnightGap {
  /** The instant the clock jumps forward: the first instant after the gap. */
  readonly at: number;
  /** The first wall-clock time that does not exist. */
  readonly skippedFrom: number;
  /** The wall-clock time the clock jumps to (the first one that exists again). */
  readonly skippedTo: number;
}

const DAY_MS = 86_400_000;
// Gaps are looked for in this window only; it covers any schedule Kairos will realistically see.
const SCAN_FROM = Date.UTC(1990, 0, 1);
const SCAN_UNTIL = Date.UTC(2100, 0, 1);
// Sampling weekly finds every transition unless two fall within one week; for every zone this
// was checked to find the same gaps as daily sampling. A zone costs ~6,000 Intl calls, once.
const SCAN_STEP = 7 * DAY_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();
const midnightGapCache = new Map<string, readonly MidnightGap[]>();

/**
 * The DST gaps of `timezone` (validated) between 1990 and 2100 whose skipped wall-clock times
 * cross a local midnight, oldest first. Empty for almost every zone; computed once per zone.
 */
export function midnightGaps(timezone: string): readonly MidnightGap[] {
  let gaps = midnightGapCache.get(timezone);
  if (gaps === undefined) {
    gaps = scanMidnightGaps(timezone);
    midnightGapCache.set(timezone, gaps);
  }
  return gaps;
}

function scanMidnightGaps(timezone: string): MidnightGap[] {
  const gaps: MidnightGap[] = [];
  let before = utcOffsetMs(timezone, SCAN_FROM);
  for (let t = SCAN_FROM + SCAN_STEP; t <= SCAN_UNTIL; t += SCAN_STEP) {
    const after = utcOffsetMs(timezone, t);
    if (after > before) {
      const at = findTransition(timezone, t - SCAN_STEP, t, before);
      const gap = { at, skippedFrom: at + before, skippedTo: at + after };
      if (startOfDay(gap.skippedTo) > gap.skippedFrom) gaps.push(gap);
    }
    before = after;
  }
  return gaps;
}

/** The first whole second in (low, high] whose offset differs from `offset` (bisection). */
function findTransition(timezone: string, low: number, high: number, offset: number): number {
  while (high - low > 1000) {
    const middle = low + Math.floor((high - low) / 2000) * 1000;
    if (utcOffsetMs(timezone, middle) === offset) low = middle;
    else high = middle;
  }
  return high;
}

/** The zone's offset from UTC at `instant`, in milliseconds (wall clock minus UTC). */
function utcOffsetMs(timezone: string, instant: number): number {
  const fields = new Map<string, number>();
  for (const part of formatterFor(timezone).formatToParts(instant)) fields.set(part.type, Number(part.value));
  const field = (name: string) => fields.get(name) ?? 0;
  const wall = Date.UTC(field('year'), field('month') - 1, field('day'), field('hour'), field('minute'), field('second'));
  return wall - (instant - (((instant % 1000) + 1000) % 1000));
}

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (formatter === undefined) {
    const numeric = 'numeric' as const;
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      ...{ year: numeric, month: numeric, day: numeric, hour: numeric, minute: numeric, second: numeric },
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/** Midnight of the wall-clock day containing `wall`. */
export function startOfDay(wall: number): number {
  return wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS);
}

function isKnownZone(name: string): boolean {
  try {
    // The constructor throws a RangeError for names missing from the runtime's tz database.
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function invalidZone(field: string, value: unknown, why: string): KairosValidationError {
  return new KairosValidationError(
    field,
    `Expected \`${field}\` to be an IANA time zone name such as "Europe/London" or "UTC", got ${describeValue(value)} (${why}).`,
  );
}
