/**
 * Calendar exceptions (pgAgent's): dates, times of day, or a time on one date, on which a
 * schedule must not fire. Matched in the schedule's time zone.
 */
import { KairosValidationError, describeValue } from './errors.js';

/** One exception: a date ('2025-12-25'), a time of day ('02:00'), or both. */
export interface CalendarException {
  date?: string;
  time?: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Check a list of exceptions (as given to schedule() or stored in jobs.exceptions). */
export function assertExceptions(value: unknown, field = 'exceptions'): CalendarException[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new KairosValidationError(field, `Expected \`${field}\` to be an array of { date?: 'YYYY-MM-DD', time?: 'HH:MM' }, got ${describeValue(value)}`);
  return value.map((item: unknown, i) => {
    const e = item as CalendarException;
    const where = `${field}[${i}]`;
    if (!e || typeof e !== 'object' || (e.date === undefined && e.time === undefined)) {
      throw new KairosValidationError(where, `Expected \`${where}\` to have a \`date\` ('YYYY-MM-DD'), a \`time\` ('HH:MM') or both, got ${describeValue(item)}`);
    }
    if (e.date !== undefined && (typeof e.date !== 'string' || !DATE.test(e.date) || Number.isNaN(Date.parse(`${e.date}T00:00:00Z`)))) {
      throw new KairosValidationError(where, `Expected \`${where}.date\` to be a date like '2025-12-25', got ${describeValue(e.date)}`);
    }
    if (e.time !== undefined && (typeof e.time !== 'string' || !TIME.test(e.time))) {
      throw new KairosValidationError(where, `Expected \`${where}.time\` to be a time of day like '02:00', got ${describeValue(e.time)}`);
    }
    return { ...(e.date ? { date: e.date } : {}), ...(e.time ? { time: e.time } : {}) };
  });
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local date ('YYYY-MM-DD') and time ('HH:MM') of `at` in `timezone`. */
function localParts(at: Date, timezone: string): { date: string; time: string } {
  let fmt = formatters.get(timezone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, fmt);
  }
  const p = Object.fromEntries(fmt.formatToParts(at).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}` };
}

/** Whether an occurrence falls on one of the exceptions. */
export function isException(at: Date, timezone: string, exceptions: readonly CalendarException[]): boolean {
  if (exceptions.length === 0) return false;
  const local = localParts(at, timezone);
  return exceptions.some((e) => (e.date === undefined || e.date === local.date) && (e.time === undefined || e.time === local.time));
}
