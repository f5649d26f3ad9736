/**
 * Time zone validation. Kairos evaluates cron expressions in IANA time zones (`Europe/London`),
 * never in fixed UTC offsets: an offset cannot follow daylight saving time, which is usually
 * the reason someone sets a time zone in the first place.
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
 * Lets callers take arithmetic shortcuts that are only exact without daylight saving time.
 */
export function isUtcZone(timezone: string): boolean {
  return new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone === 'UTC';
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
