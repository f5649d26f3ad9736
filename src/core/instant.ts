/**
 * Reading a point in time that a person typed (the CLI's `--at`, `--from`, `--to`; the dashboard's
 * date fields): ISO 8601, read as UTC when it names no offset. One parser for both, so the same
 * text means the same instant wherever it is typed, whatever the machine's own time zone.
 */
import { KairosValidationError, describeValue } from './errors.js';
import { assertDate } from './validate.js';

const SHAPE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?))?(.*)$/i;
const HOW = 'write it as ISO 8601, e.g. 2026-12-24T18:00:00Z (UTC; no offset is read as UTC too) or with an offset 2026-12-24T18:00:00+02:00';

/** The zone part as `Z` or `±HH:MM`, or undefined when it is not one. */
function zone(text: string): string | undefined {
  const t = text.trim();
  if (t === '' || /^z$/i.test(t)) return 'Z';
  const m = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(t);
  if (!m || Number(m[2]) > 23 || Number(m[3] ?? 0) > 59) return undefined;
  return `${m[1]}${m[2]}:${m[3] ?? '00'}`;
}

/**
 * The instant `value` names: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` (a space for the `T` is
 * accepted), then `Z`, an offset `±HH:MM` (or `±HHMM`, `±HH`) or nothing (UTC). Anything else is
 * a {@link KairosValidationError} for `field` that says how to write it.
 */
export function parseInstant(value: string, field: string): Date {
  const m = SHAPE.exec(value.trim());
  const offset = m && zone(m[3]!);
  if (!m || !offset) {
    const hint = /[+-]\d:?\d{2}\s*$|[+-]\d\s*$/.test(value) ? ' (an offset has two-digit hours: +02:00, not +2:00)' : '';
    throw new KairosValidationError(field, `Expected \`${field}\` to be a date and time, got ${describeValue(value)}${hint}; ${HOW}`);
  }
  const [year, month, day] = m[1]!.split('-').map(Number) as [number, number, number];
  // Date rolls 2026-02-30 over into March; a day the calendar does not have is a mistake.
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) throw new KairosValidationError(field, `Expected \`${field}\` to be a date and time, got ${describeValue(value)}: there is no ${m[1]}; ${HOW}`);
  const time = m[2] ?? '00:00';
  try {
    return assertDate(`${m[1]}T${time}${time.length === 5 ? ':00' : ''}${offset}`.replace(',', '.'), field);
  } catch (error) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be a date and time, got ${describeValue(value)}: not a time of day or out of range; ${HOW}`, { cause: error });
  }
}
