/**
 * Reading command-line values that commander passes as strings: one of a fixed set (with a "did
 * you mean"), a positive limit, and the "showing first N" notice when a list was cut.
 */
import { KairosValidationError, describeValue } from '../core/errors.js';
import { closestKey } from '../core/validate.js';

/** The statuses `runs list --status` takes (a run in the queue). */
export const RUN_STATUSES = ['pending', 'running'] as const;
/** The statuses of history entries (`history purge --status`, `history --status`). */
export const HISTORY_STATUSES = ['completed', 'failed', 'retrying', 'cancelled', 'expired', 'rescued', 'released', 'missed', 'skipped'] as const;

/** The most a list command prints (the API's own bound). */
export const MAX_LIMIT = 100_000;

/** `value` when it is one of `allowed`; else a usage error listing them, with the closest one. */
export function oneOf<T extends string>(value: string, flag: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  const close = closestKey(value, allowed);
  throw new KairosValidationError(flag, `${flag} ${describeValue(value)} is not a status; valid: ${allowed.join(', ')}${close ? `; did you mean ${close}?` : ''}`);
}

/** A `--limit`: a whole number from 1 to {@link MAX_LIMIT}. */
export function limitOption(value: string, flag = '--limit'): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > MAX_LIMIT) {
    throw new KairosValidationError(flag, `${flag} must be a whole number from 1 to ${MAX_LIMIT}, got ${describeValue(value)}`);
  }
  return Number(value);
}

/**
 * The first `limit` rows of a list fetched with one row more than asked for; says on stderr when
 * there were more, so a script reading stdout is not misled into thinking it saw everything.
 */
export function firstRows<T>(rows: T[], limit: number): T[] {
  if (rows.length <= limit) return rows;
  console.error(`kairos: showing first ${limit} of more; use --limit to see more`);
  return rows.slice(0, limit);
}

/** How many rows to fetch to tell whether `limit` cut the list. */
export const fetchLimit = (limit: number): number => Math.min(limit + 1, MAX_LIMIT);
