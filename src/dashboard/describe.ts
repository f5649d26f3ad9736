/**
 * Schedules in plain words, for the dashboard ("every 15 minutes", "at 03:00 on Monday to
 * Friday"). Expressions are first checked by the API's own parser (src/core/cron.ts), so this
 * only has to read valid ones; anything unusual falls back to a field-by-field reading.
 */
import { parseCron } from '../core/cron.js';
import { formatDuration } from '../core/duration.js';
import type { Job } from '../core/types.js';

const ALIASES: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const SHORT_MONTHS = MONTHS.map((m) => m.slice(0, 3).toUpperCase());
const SHORT_DAYS = DAYS.slice(0, 7).map((d) => d.slice(0, 3).toUpperCase());
const ORDINALS = ['', 'first', 'second', 'third', 'fourth', 'fifth'];

const isNumber = (s: string): boolean => /^\d+$/.test(s);
const pad = (n: string | number): string => String(n).padStart(2, '0');

/** "a, b and c". */
function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** Month and day names as numbers, so every field reads the same way. */
function numeric(field: string, names: string[], offset: number): string {
  return field.toUpperCase().replace(/[A-Z]{3}/g, (name) => {
    const i = names.indexOf(name);
    return i < 0 ? name : String(i + offset);
  });
}

/** One field's items in words, naming each value with `name`. */
function items(field: string, name: (v: string) => string, unit: string): string {
  return list(field.split(',').map((item) => {
    const [range, step] = item.split('/');
    const [from, to] = range!.split('-');
    const span = range === '*' ? '' : to !== undefined ? `${name(from!)} to ${name(to)}` : step ? `${name(from!)} on` : name(from!);
    if (step) return `every ${step} ${unit}s${span ? ` from ${span.replace(/ on$/, '')}` : ''}`;
    return span;
  }));
}

/** The hours of the day a schedule is limited to. */
function hourSpan(hour: string): string {
  const range = /^(\d+)-(\d+)$/.exec(hour);
  if (range) return `from ${pad(range[1]!)}:00 to ${pad(range[2]!)}:59`;
  if (/^\*\/\d+$/.test(hour)) return `every ${hour.slice(2)} hours`;
  return `during hour ${items(hour, pad, 'hour')}`;
}

function timeOfDay(sec: string, min: string, hour: string): string {
  const secs = sec === '0' ? '' : sec;
  if (isNumber(min) && isNumber(hour) && (secs === '' || isNumber(secs))) return `at ${pad(hour)}:${pad(min)}${secs ? `:${pad(secs)}` : ''}`;
  if (isNumber(min) && /^\d+(,\d+)+$/.test(hour) && secs === '') return `at ${list(hour.split(',').map((h) => `${pad(h)}:${pad(min)}`))}`;
  if (sec === '*' && min === '*' && hour === '*') return 'every second';
  if (/^\*\/\d+$/.test(sec) && min === '*' && hour === '*') return `every ${sec.slice(2)} seconds`;
  const secPart = secs ? `at second ${items(sec, String, 'second')}, ` : '';
  const every = min === '*' ? 'every minute' : /^\*\/\d+$/.test(min) ? `every ${min.slice(2)} minutes` : null;
  if (every) return `${secPart}${every}${hour === '*' ? '' : ` ${hourSpan(hour)}`}`;
  const minutes = isNumber(min) ? (min === '0' ? 'on the hour' : `at minute ${min}`) : `at minute ${items(min, String, 'minute')}`;
  if (hour === '*') return `${secPart}every hour ${minutes}`;
  const range = /^(\d+)-(\d+)$/.exec(hour);
  if (range && isNumber(min)) return `${secPart}every hour from ${pad(range[1]!)}:${pad(min)} to ${pad(range[2]!)}:${pad(min)}`;
  if (/^\*\/\d+$/.test(hour)) return `${secPart}every ${hour.slice(2)} hours ${minutes}`;
  return `${secPart}${minutes} ${hourSpan(hour)}`;
}

function dayOfMonth(dom: string): string {
  if (dom === 'L') return 'on the last day of the month';
  if (dom === 'LW') return 'on the last weekday of the month';
  if (/^\*\/\d+$/.test(dom)) return `every ${dom.slice(2)} days from the 1st of the month`;
  if (/^\d+W$/.test(dom)) return `on the weekday nearest day ${dom.slice(0, -1)} of the month`;
  // LW or L inside a list: said apart, the rest as days.
  const special = dom.split(',').filter((item) => item === 'LW' || item === 'L');
  if (special.length > 0 && special.length < dom.split(',').length) {
    const rest = dom.split(',').filter((item) => item !== 'LW' && item !== 'L').join(',');
    const named = special.map((item) => (item === 'LW' ? 'the last weekday' : 'the last day'));
    return `on day ${items(rest, String, 'day')} or ${list(named)} of the month`;
  }
  return `on day ${items(dom, String, 'day')} of the month`;
}

function dayOfWeek(dow: string): string {
  const parts = dow.split(',').map((item) => {
    if (/^\d+L$/.test(item)) return `the last ${DAYS[Number(item.slice(0, -1))]} of the month`;
    const nth = /^(\d+)#(\d)$/.exec(item);
    if (nth) return `the ${ORDINALS[Number(nth[2])]} ${DAYS[Number(nth[1])]} of the month`;
    return items(item, (v) => DAYS[Number(v)] ?? v, 'day');
  });
  return `on ${list(parts)}`;
}

function months(month: string): string {
  if (month === '*') return '';
  if (/^\*\/\d+$/.test(month)) return `every ${month.slice(2)} months`;
  return `in ${items(month, (v) => MONTHS[Number(v) - 1] ?? v, 'month')}`;
}

/** One cron line in words. */
function describeLine(line: string): string {
  const text = ALIASES[line.trim().toLowerCase()] ?? line.trim();
  const fields = text.split(/\s+/);
  if (fields.length === 5) fields.unshift('0');
  const [sec, min, hour, dom0, month0, dow0] = fields as [string, string, string, string, string, string];
  // `?` (no specific value) is `*` in the one day field that may hold it.
  const dom = dom0 === '?' ? '*' : dom0.toUpperCase();
  const month = numeric(month0, SHORT_MONTHS, 1);
  const dow = dow0 === '?' ? '*' : numeric(dow0, SHORT_DAYS, 0);
  const domRestricted = dom !== '*';
  const dowRestricted = dow !== '*';
  let days = '';
  // Vixie's rule: both restricted (neither starting with *) means either one matches.
  if (domRestricted && dowRestricted) {
    days = dom.startsWith('*') || dow.startsWith('*') ? `${dayOfMonth(dom)}, if it is ${dayOfWeek(dow).slice(3)}` : `${dayOfMonth(dom)} or ${dayOfWeek(dow)}`;
  } else if (domRestricted) days = dayOfMonth(dom);
  else if (dowRestricted) days = dayOfWeek(dow);
  return [timeOfDay(sec, min, hour), days, months(month)].filter(Boolean).join(' ');
}

/**
 * A cron expression (one or more lines) in words, with its time zone. Throws the API's
 * KairosValidationError for an invalid expression or zone.
 */
export function describeCron(expression: string, timezone = 'UTC'): string {
  const lines = expression.split('\n').map((l) => l.trim()).filter(Boolean);
  // Several lines fire at the union of their times (as in the SQL API); each is checked alone.
  if (lines.length === 0) parseCron('', timezone);
  for (const line of lines) parseCron(line, timezone);
  const words = lines.map(describeLine).join('; and ');
  return `${words.charAt(0).toUpperCase()}${words.slice(1)} (${timezone})`;
}

/** A time as the descriptions show it; a malformed row's missing or invalid time as such. */
function utc(at: Date): string {
  return Number.isNaN(at.getTime()) ? 'an invalid time' : `${at.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/** A stored job's schedule in words (also for a malformed row: never throws). */
export function describeSchedule(schedule: Job['schedule']): string {
  switch (schedule.kind) {
    case 'cron':
      try {
        return describeCron(schedule.cron, schedule.timezone);
      } catch {
        return `cron ${schedule.cron}`;
      }
    case 'interval':
      return `Every ${formatDuration(schedule.everyMs)} from ${utc(schedule.startAt)}`;
    case 'once':
      return `Once, at ${utc(schedule.at)}`;
    case 'custom':
      return 'A custom schedule (a function in the application)';
    default:
      return 'Manual: runs only when triggered';
  }
}
