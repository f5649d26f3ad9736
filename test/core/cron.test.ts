import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { parseCron } from '../../src/core/cron.js';
import type { CronSchedule } from '../../src/core/cron.js';
import { KairosValidationError } from '../../src/core/errors.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The first `count` fire times strictly after `from`, as ISO strings. */
function runs(expression: string, from: string, count: number, timezone = 'UTC'): string[] {
  return enumerate(parseCron(expression, timezone), new Date(from), count).map((d) => d.toISOString());
}

function enumerate(schedule: CronSchedule, from: Date, count: number): Date[] {
  const found: Date[] = [];
  for (let cursor: Date | null = from; found.length < count; ) {
    cursor = schedule.next(cursor);
    if (cursor === null) break;
    found.push(cursor);
  }
  return found;
}

/** Every fire time in (from, to]. */
function between(schedule: CronSchedule, from: number, to: number): number[] {
  const found: number[] = [];
  for (let cursor = schedule.next(new Date(from)); cursor !== null && cursor.getTime() <= to; cursor = schedule.next(cursor)) {
    found.push(cursor.getTime());
  }
  return found;
}

/** Fixed-time jobs lose no run to a gap and repeat none in a fold: every whole local day has `perDay`. */
function assertRunsPerDay(times: number[], timezone: string, perDay: number, label: string): void {
  const perDate = new Map<string, number>();
  for (const ms of times) perDate.set(localDate(ms, timezone), (perDate.get(localDate(ms, timezone)) ?? 0) + 1);
  const wholeDays = [...perDate].slice(1, -1); // the window cuts the first and last day
  assert.ok(wholeDays.length >= 1, `${label}: at least one whole day`);
  for (const [date, count] of wholeDays) assert.equal(count, perDay, `${label} on ${date}`);
}

const iso = (ms: number) => new Date(ms).toISOString();
const localDate = (ms: number, timezone: string) => new Date(ms).toLocaleDateString('sv', { timeZone: timezone });

describe('cron syntax', () => {
  test('6 fields put seconds first', () => {
    assert.deepEqual(runs('*/5 * * * * *', '2025-07-09T10:00:00Z', 3), [
      '2025-07-09T10:00:05.000Z',
      '2025-07-09T10:00:10.000Z',
      '2025-07-09T10:00:15.000Z',
    ]);
    assert.deepEqual(runs('15 30 9 * * *', '2025-07-09T00:00:00Z', 1), ['2025-07-09T09:30:15.000Z']);
  });

  test('day and month names, in any case', () => {
    // 2025-07-11 is a Friday: the next weekday 09:00 is Monday the 14th.
    assert.deepEqual(runs('0 9 * * MON-FRI', '2025-07-11T09:00:00Z', 3), [
      '2025-07-14T09:00:00.000Z',
      '2025-07-15T09:00:00.000Z',
      '2025-07-16T09:00:00.000Z',
    ]);
    assert.deepEqual(runs('0 0 1 JAN *', '2025-07-09T00:00:00Z', 2), ['2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    assert.deepEqual(runs('0 9 * jan-mar/2 sat,sun', '2025-01-01T00:00:00Z', 30), runs('0 9 * 1-3/2 6,0', '2025-01-01T00:00:00Z', 30));
    assert.deepEqual(runs('0 0 * * 7', '2025-07-09T00:00:00Z', 2), runs('0 0 * * SUN', '2025-07-09T00:00:00Z', 2));
  });

  test('L is the last day of the month, leap years included', () => {
    assert.deepEqual(runs('0 0 L * *', '2024-01-31T00:00:00Z', 2), ['2024-02-29T00:00:00.000Z', '2024-03-31T00:00:00.000Z']);
    assert.deepEqual(runs('0 0 L 2 *', '2024-03-01T00:00:00Z', 1), ['2025-02-28T00:00:00.000Z']);
    assert.deepEqual(runs('0 0 * * FRIL', '2025-06-01T00:00:00Z', 2), ['2025-06-27T00:00:00.000Z', '2025-07-25T00:00:00.000Z']);
    assert.deepEqual(runs('0 0 LW * *', '2025-08-01T00:00:00Z', 1), ['2025-08-29T00:00:00.000Z'], 'Aug 31 2025 is a Sunday');
  });

  test('W is the nearest weekday within the same month', () => {
    // 15 Feb 2025 is a Saturday -> Friday 14th; 15 Jun 2025 is a Sunday -> Monday 16th.
    assert.deepEqual(runs('0 0 15W * *', '2025-02-01T00:00:00Z', 1), ['2025-02-14T00:00:00.000Z']);
    assert.deepEqual(runs('0 0 15W * *', '2025-06-01T00:00:00Z', 1), ['2025-06-16T00:00:00.000Z']);
    assert.deepEqual(runs('0 0 15W * *', '2025-07-01T00:00:00Z', 1), ['2025-07-15T00:00:00.000Z'], 'a Tuesday stays');
    // 1 Feb 2025 is a Saturday: Monday the 3rd, not Friday 31 January.
    assert.deepEqual(runs('0 0 1W * *', '2025-01-15T00:00:00Z', 1), ['2025-02-03T00:00:00.000Z']);
    // 31 Aug 2025 is a Sunday: Friday the 29th, not Monday 1 September; months without a 31st are skipped.
    assert.deepEqual(runs('0 0 31W * *', '2025-08-01T00:00:00Z', 2), ['2025-08-29T00:00:00.000Z', '2025-10-31T00:00:00.000Z']);
  });

  test('# is the nth weekday of the month', () => {
    assert.deepEqual(runs('0 0 * * 5#3', '2025-01-01T00:00:00Z', 3), [
      '2025-01-17T00:00:00.000Z',
      '2025-02-21T00:00:00.000Z',
      '2025-03-21T00:00:00.000Z',
    ]);
    assert.deepEqual(runs('0 0 * * MON#1', '2025-09-01T00:00:00Z', 1), ['2025-10-06T00:00:00.000Z']);
  });

  test('a/n means a-max/n', () => {
    assert.deepEqual(runs('5/15 * * * *', '2025-07-09T00:00:00Z', 40), runs('5-59/15 * * * *', '2025-07-09T00:00:00Z', 40));
    assert.deepEqual(runs('5/15 * * * *', '2025-07-09T00:00:00Z', 4), [
      '2025-07-09T00:05:00.000Z',
      '2025-07-09T00:20:00.000Z',
      '2025-07-09T00:35:00.000Z',
      '2025-07-09T00:50:00.000Z',
    ]);
    assert.deepEqual(runs('0 0 10/10 * *', '2025-07-09T00:00:00Z', 30), runs('0 0 10-31/10 * *', '2025-07-09T00:00:00Z', 30));
    // In day-of-week the field ends on Saturday: 1/2 is Monday, Wednesday, Friday.
    assert.deepEqual(runs('0 0 * * 1/2', '2025-07-09T00:00:00Z', 30), runs('0 0 * * MON,WED,FRI', '2025-07-09T00:00:00Z', 30));
  });

  test('aliases equal their expansions, in any case', () => {
    const expansions: Array<[string, string]> = [
      ['@yearly', '0 0 1 1 *'],
      ['@annually', '0 0 1 1 *'],
      ['@monthly', '0 0 1 * *'],
      ['@weekly', '0 0 * * 0'],
      ['@daily', '0 0 * * *'],
      ['@midnight', '0 0 * * *'],
      ['@HOURLY', '0 * * * *'],
    ];
    for (const [alias, expansion] of expansions) {
      assert.deepEqual(runs(alias, '2025-07-09T12:34:00Z', 5), runs(expansion, '2025-07-09T12:34:00Z', 5), alias);
    }
    assert.equal(parseCron('@daily').fixedTime, true);
    assert.equal(parseCron('@hourly').fixedTime, false);
  });

  test('day-of-month and day-of-week combine with OR when both are restricted', () => {
    // Fridays in June 2025 are the 6th, 13th, 20th and 27th; the 13th of July is a Sunday.
    assert.deepEqual(runs('0 0 13 * FRI', '2025-06-01T00:00:00Z', 6), [
      '2025-06-06T00:00:00.000Z',
      '2025-06-13T00:00:00.000Z',
      '2025-06-20T00:00:00.000Z',
      '2025-06-27T00:00:00.000Z',
      '2025-07-04T00:00:00.000Z',
      '2025-07-11T00:00:00.000Z',
    ]);
    assert.deepEqual(runs('0 0 * * FRI', '2025-06-01T00:00:00Z', 2), ['2025-06-06T00:00:00.000Z', '2025-06-13T00:00:00.000Z']);
    assert.deepEqual(runs('0 0 13 * *', '2025-06-01T00:00:00Z', 2), ['2025-06-13T00:00:00.000Z', '2025-07-13T00:00:00.000Z']);
  });

  test('…but with AND when either day field starts with *, as in Vixie cron', () => {
    // Odd days of the month that are Mondays (croner alone would give every odd day and every Monday).
    assert.deepEqual(runs('0 0 */2 * MON', '2025-06-01T00:00:00Z', 4), [
      '2025-06-09T00:00:00.000Z',
      '2025-06-23T00:00:00.000Z',
      '2025-07-07T00:00:00.000Z',
      '2025-07-21T00:00:00.000Z',
    ]);
    assert.deepEqual(runs('0 0 1 * */3', '2025-06-01T00:00:00Z', 2), ['2025-10-01T00:00:00.000Z', '2025-11-01T00:00:00.000Z']);
  });

  test('each schedule has its own time zone', () => {
    assert.deepEqual(runs('0 9 * * *', '2025-07-09T12:00:00Z', 2, 'Asia/Tokyo'), ['2025-07-10T00:00:00.000Z', '2025-07-11T00:00:00.000Z']);
    assert.deepEqual(runs('0 9 * * *', '2025-07-09T12:00:00Z', 1, 'America/New_York'), ['2025-07-09T13:00:00.000Z']);
    assert.deepEqual(runs('0 9 * * *', '2025-07-09T12:00:00Z', 1, 'Etc/UTC'), ['2025-07-10T09:00:00.000Z']);
    assert.equal(parseCron('0 9 * * *', 'Asia/Tokyo').timezone, 'Asia/Tokyo');
    assert.equal(parseCron('0 9 * * *').timezone, 'UTC');
  });

  test('next() is strictly after and previous() is at or before', () => {
    const cron = parseCron('*/15 * * * *');
    const occurrence = new Date('2025-07-09T00:15:00Z');
    assert.equal(cron.next(occurrence)?.toISOString(), '2025-07-09T00:30:00.000Z');
    assert.equal(cron.next(new Date(occurrence.getTime() - 1))?.toISOString(), '2025-07-09T00:15:00.000Z');
    assert.equal(cron.previous(occurrence)?.toISOString(), '2025-07-09T00:15:00.000Z');
    assert.equal(cron.previous(new Date(occurrence.getTime() - 1))?.toISOString(), '2025-07-09T00:00:00.000Z');
    assert.equal(cron.previous(new Date(occurrence.getTime() + 999))?.toISOString(), '2025-07-09T00:15:00.000Z');
    const everySecond = parseCron('* * * * * *');
    assert.equal(everySecond.next(new Date('2025-07-09T00:00:00.999Z'))?.toISOString(), '2025-07-09T00:00:01.000Z');
    assert.equal(everySecond.previous(new Date('2025-07-09T00:00:00.999Z'))?.toISOString(), '2025-07-09T00:00:00.000Z');
  });

  test('fixedTime is true only without a wildcard or step in second, minute and hour', () => {
    const expectations: Array<[string, boolean]> = [
      ['30 2 * * *', true],
      ['0 2,14 * * *', true],
      ['30 2-3 * * *', true],
      ['0 30 2 * * *', true],
      ['0 0 * * *', true],
      ['0 * * * *', false],
      ['*/15 * * * *', false],
      ['5/15 * * * *', false],
      ['0 0-23/2 * * *', false],
      ['* 30 2 * * *', false],
      ['*/10 30 2 * * *', false],
    ];
    for (const [expression, fixed] of expectations) assert.equal(parseCron(expression).fixedTime, fixed, expression);
  });

  test('keeps the expression trimmed', () => {
    assert.equal(parseCron('  0  9 * *\tMON ').expression, '0  9 * *\tMON');
  });

  test('next() refuses an invalid Date', () => {
    assert.throws(() => parseCron('* * * * *').next(new Date(Number.NaN)), KairosValidationError);
    assert.throws(() => parseCron('* * * * *').previous(new Date(Number.NaN)), KairosValidationError);
  });
});

describe('cron validation', () => {
  const refused: Array<[unknown, RegExp]> = [
    ['', /it is empty/],
    ['   ', /it is empty/],
    ['* * * *', /4 fields/],
    ['* * * * * * *', /7 fields.*no year field/],
    ['60 * * * *', /minute field allows 0-59, not 60/],
    ['* 24 * * *', /hour field allows 0-23, not 24/],
    ['* * 32 * *', /day-of-month field allows 1-31, not 32/],
    ['* * 0 * *', /day-of-month field allows 1-31, not 0/],
    ['* * * 13 *', /month field allows 1-12, not 13/],
    ['* * * * 8', /day-of-week field allows 0-7, not 8/],
    ['60 * * * * *', /second field allows 0-59, not 60/],
    ['FOO * * * *', /minute field does not accept "FOO"/],
    ['0 0 * JANUARY *', /month field does not accept "JANUARY" \(names: JAN-DEC\)/],
    ['0 0 * * FUN', /day-of-week field does not accept "FUN"/],
    ['*/0 * * * *', /minute field has step 0; steps must be 1-60/],
    ['*/61 * * * *', /step 61/],
    ['5-1 * * * *', /reversed range "5-1"/],
    ['*-5 * * * *', /\* cannot start a range/],
    ['1,,2 * * * *', /entry "" that is not a value, range or step/],
    ['? * * * *', /the minute field does not accept "\?"/],
    ['0 0 * * 5#6', /# must be followed by 1-5/],
    ['0 0 * * L', /day-of-week field does not accept "L"/],
    ['0 0 15W-20 * *', /day-of-month field/],
    ['@reboot', /Kairos has no reboot event/],
    ['@every 5m', /unknown alias/],
    ['0 0 30 2 *', /would never fire/],
    ['0 0 31 4,6,9,11 *', /would never fire/],
    ['0 0 30W 2 *', /would never fire/],
    [42, /got number 42: it must be a string/],
    [null, /got null: it must be a string/],
    [undefined, /got undefined/],
  ];
  for (const [expression, pattern] of refused) {
    test(`refuses ${JSON.stringify(expression) ?? 'undefined'}`, () => {
      assert.throws(
        () => parseCron(expression),
        (error: unknown) => {
          assert.ok(error instanceof KairosValidationError);
          assert.equal(error.field, 'cron');
          assert.match(error.message, /^Expected `cron` to be a cron expression/);
          assert.match(error.message, pattern);
          return true;
        },
      );
    });
  }

  test('uses the given field name', () => {
    assert.throws(() => parseCron('61 * * * *', 'UTC', 'schedule.cron'), (error: unknown) => {
      assert.ok(error instanceof KairosValidationError);
      assert.equal(error.field, 'schedule.cron');
      assert.match(error.message, /^Expected `schedule.cron` to be/);
      return true;
    });
  });

  test('refuses bad time zones', () => {
    for (const timezone of ['Mars/Olympus', '+02:00', 'UTC+2', '', ' UTC']) {
      assert.throws(() => parseCron('* * * * *', timezone), (error: unknown) => {
        assert.ok(error instanceof KairosValidationError);
        assert.equal(error.field, 'timezone');
        assert.match(error.message, /^Expected `timezone` to be an IANA time zone name/);
        return true;
      }, timezone);
    }
    assert.throws(() => parseCron('* * * * *', 5 as unknown as string), /got number 5/);
  });
});

describe('DST: fixed-time jobs run once a day (Vixie cron)', () => {
  test('New York spring forward: 02:30 does not exist, so the job runs once at 03:00 EDT', () => {
    assert.deepEqual(runs('30 2 * * *', '2025-03-08T00:00:00Z', 3, 'America/New_York'), [
      '2025-03-08T07:30:00.000Z', // 02:30 EST
      '2025-03-09T07:00:00.000Z', // 03:00 EDT, right after the gap
      '2025-03-10T06:30:00.000Z', // 02:30 EDT
    ]);
    assert.deepEqual(runs('0 30 2 * * *', '2025-03-09T00:00:00Z', 1, 'America/New_York'), ['2025-03-09T07:00:00.000Z']);
  });

  test('lists and ranges count as fixed: each listed time runs, skipped ones once after the gap', () => {
    assert.deepEqual(runs('0 2,14 * * *', '2025-03-09T00:00:00Z', 2, 'America/New_York'), [
      '2025-03-09T07:00:00.000Z', // 02:00 skipped -> 03:00 EDT
      '2025-03-09T18:00:00.000Z', // 14:00 EDT
    ]);
    assert.deepEqual(runs('30 2-3 * * *', '2025-03-09T00:00:00Z', 2, 'America/New_York'), [
      '2025-03-09T07:00:00.000Z', // 02:30 skipped -> 03:00 EDT
      '2025-03-09T07:30:00.000Z', // 03:30 EDT
    ]);
    // 02:15 and 02:45 are both skipped: one run after the gap, not two at the same instant.
    assert.deepEqual(runs('15,45 2 * * *', '2025-03-09T00:00:00Z', 2, 'America/New_York'), [
      '2025-03-09T07:00:00.000Z',
      '2025-03-10T06:15:00.000Z',
    ]);
  });

  test('New York fall back: 01:30 happens twice, the job runs only at the first', () => {
    assert.deepEqual(runs('30 1 * * *', '2025-11-01T12:00:00Z', 2, 'America/New_York'), [
      '2025-11-02T05:30:00.000Z', // 01:30 EDT; not again at 06:30Z (01:30 EST)
      '2025-11-03T06:30:00.000Z',
    ]);
    const cron = parseCron('30 1 * * *', 'America/New_York');
    assert.equal(cron.next(new Date('2025-11-02T06:15:00Z'))?.toISOString(), '2025-11-03T06:30:00.000Z', 'from inside the second pass');
    assert.equal(cron.previous(new Date('2025-11-02T06:45:00Z'))?.toISOString(), '2025-11-02T05:30:00.000Z');
    assert.deepEqual(runs('0,30 1-2 * * *', '2025-11-02T04:00:00Z', 4, 'America/New_York'), [
      '2025-11-02T05:00:00.000Z', // 01:00 EDT
      '2025-11-02T05:30:00.000Z', // 01:30 EDT
      '2025-11-02T07:00:00.000Z', // 02:00 EST (01:00 and 01:30 EST are not repeated)
      '2025-11-02T07:30:00.000Z', // 02:30 EST
    ]);
  });

  test('London: 01:30 is skipped in March (runs at 02:00 BST) and repeated in October (runs once)', () => {
    assert.deepEqual(runs('30 1 * * *', '2025-03-29T12:00:00Z', 2, 'Europe/London'), [
      '2025-03-30T01:00:00.000Z', // 02:00 BST
      '2025-03-31T00:30:00.000Z',
    ]);
    assert.deepEqual(runs('30 1 * * *', '2025-10-25T12:00:00Z', 2, 'Europe/London'), [
      '2025-10-26T00:30:00.000Z', // 01:30 BST; not again at 01:30Z (01:30 GMT)
      '2025-10-27T01:30:00.000Z',
    ]);
  });

  test('a gap that crosses midnight still runs the job once after it (croner alone loses the run)', () => {
    // America/Nuuk jumps from 23:00 on 29 March 2025 to 00:00 on the 30th (01:00Z).
    const nuuk = parseCron('30 23 * * *', 'America/Nuuk');
    assert.deepEqual(runs('30 23 * * *', '2025-03-28T12:00:00Z', 3, 'America/Nuuk'), [
      '2025-03-29T01:30:00.000Z', // 23:30 on the 28th (-02)
      '2025-03-30T01:00:00.000Z', // 23:30 on the 29th is skipped -> 00:00 (-01) on the 30th
      '2025-03-31T00:30:00.000Z', // 23:30 on the 30th (-01)
    ]);
    assert.equal(nuuk.previous(new Date('2025-03-30T12:00:00Z'))?.toISOString(), '2025-03-30T01:00:00.000Z');
    assert.equal(nuuk.previous(new Date('2025-03-30T00:59:59Z'))?.toISOString(), '2025-03-29T01:30:00.000Z');
    // A job at midnight and the skipped 23:00 fall on the same instant: one run, not two.
    assert.deepEqual(runs('0 0,23 * * *', '2025-03-29T12:00:00Z', 2, 'America/Nuuk'), [
      '2025-03-30T01:00:00.000Z',
      '2025-03-31T00:00:00.000Z',
    ]);
    // Pacific/Apia skipped 30 December 2011 entirely; its 12:00 run happens once, at 00:00 on the 31st.
    assert.deepEqual(runs('0 12 * * *', '2011-12-28T00:00:00Z', 4, 'Pacific/Apia'), [
      '2011-12-28T22:00:00.000Z',
      '2011-12-29T22:00:00.000Z',
      '2011-12-30T10:00:00.000Z',
      '2011-12-30T22:00:00.000Z',
    ]);
    // The day fields are matched against the skipped date: a Friday job runs for Friday the 30th.
    assert.deepEqual(runs('0 12 * * FRI', '2011-12-28T00:00:00Z', 2, 'Pacific/Apia'), [
      '2011-12-30T10:00:00.000Z',
      '2012-01-05T22:00:00.000Z',
    ]);
    assert.deepEqual(runs('0 12 * * SAT', '2011-12-28T00:00:00Z', 1, 'Pacific/Apia'), ['2011-12-30T22:00:00.000Z']);
  });
});

describe('DST: interval-like jobs follow elapsed time', () => {
  test('New York spring forward: no run for the missing hour, nothing extra', () => {
    assert.deepEqual(runs('*/15 * * * *', '2025-03-09T06:30:00Z', 3, 'America/New_York'), [
      '2025-03-09T06:45:00.000Z', // 01:45 EST
      '2025-03-09T07:00:00.000Z', // 03:00 EDT
      '2025-03-09T07:15:00.000Z', // 03:15 EDT
    ]);
    const every15 = parseCron('*/15 * * * *', 'America/New_York');
    assert.equal(between(every15, Date.parse('2025-03-09T05:00:00Z'), Date.parse('2025-03-09T08:00:00Z')).length, 12);
  });

  test('New York fall back: the repeated hour runs in both passes', () => {
    assert.deepEqual(runs('0 * * * *', '2025-11-02T04:30:00Z', 3, 'America/New_York'), [
      '2025-11-02T05:00:00.000Z', // 01:00 EDT
      '2025-11-02T06:00:00.000Z', // 01:00 EST
      '2025-11-02T07:00:00.000Z', // 02:00 EST
    ]);
    const every15 = parseCron('*/15 * * * *', 'America/New_York');
    assert.equal(every15.next(new Date('2025-11-02T05:50:00Z'))?.toISOString(), '2025-11-02T06:00:00.000Z', 'from inside the first pass');
    assert.equal(every15.previous(new Date('2025-11-02T06:10:00Z'))?.toISOString(), '2025-11-02T06:00:00.000Z');
    assert.equal(between(every15, Date.parse('2025-11-02T04:00:00Z'), Date.parse('2025-11-02T08:00:00Z')).length, 16);
  });

  test('London: the hourly job skips 01:00 in March and runs twice at 01:00 in October', () => {
    assert.deepEqual(runs('0 * * * *', '2025-03-29T23:30:00Z', 3, 'Europe/London'), [
      '2025-03-30T00:00:00.000Z', // 00:00 GMT
      '2025-03-30T01:00:00.000Z', // 02:00 BST
      '2025-03-30T02:00:00.000Z',
    ]);
    assert.deepEqual(runs('0 * * * *', '2025-10-25T23:30:00Z', 3, 'Europe/London'), [
      '2025-10-26T00:00:00.000Z', // 01:00 BST
      '2025-10-26T01:00:00.000Z', // 01:00 GMT
      '2025-10-26T02:00:00.000Z',
    ]);
  });
});

describe('DST: next() and previous() agree everywhere around the transitions', () => {
  const transitions: Array<[string, string]> = [
    ['America/New_York', '2025-03-09T07:00:00Z'],
    ['America/New_York', '2025-11-02T06:00:00Z'],
    ['Europe/London', '2025-03-30T01:00:00Z'],
    ['Europe/London', '2025-10-26T01:00:00Z'],
    ['America/Nuuk', '2025-03-30T01:00:00Z'],
    ['America/Nuuk', '2025-10-26T01:00:00Z'],
  ];
  // Expressions and, for fixed-time ones, how often they run on every local day. Not checked for
  // '0,30 1-2' (skipped times share one run after the gap) nor in Nuuk, where the run for the
  // skipped 23:30 happens on the next local day; both have explicit tests above.
  const expressions: Array<[string, number | null]> = [
    ['30 2 * * *', 1],
    ['30 1 * * *', 1],
    ['30 23 * * *', 1],
    ['0 0,23 * * *', 2],
    ['0,30 1-2 * * *', null],
    ['0 * * * *', null],
    ['*/15 * * * *', null],
    ['*/20 0-3 * * *', null],
  ];
  for (const [timezone, transition] of transitions) {
    test(`${timezone} around ${transition}`, () => {
      const center = Date.parse(transition);
      const from = center - 30 * HOUR;
      const to = center + 30 * HOUR;
      for (const [expression, perDay] of expressions) {
        const cron = parseCron(expression, timezone);
        const all = between(cron, from, to);
        const label = `${expression} in ${timezone}`;
        for (let i = 1; i < all.length; i++) assert.ok((all[i] as number) > (all[i - 1] as number), `${label} ascends`);
        if (perDay !== null && timezone !== 'America/Nuuk') assertRunsPerDay(all, timezone, perDay, label);
        for (let probe = from + 7 * MINUTE + 500; probe < to; probe += 17 * MINUTE) {
          const expectedNext = all.find((ms) => ms > probe);
          const expectedPrevious = all.filter((ms) => ms <= probe).at(-1);
          if (expectedNext !== undefined) assert.equal(cron.next(new Date(probe))?.getTime(), expectedNext, `${label} next(${iso(probe)})`);
          if (expectedPrevious !== undefined) assert.equal(cron.previous(new Date(probe))?.getTime(), expectedPrevious, `${label} previous(${iso(probe)})`);
        }
        for (const [i, ms] of all.entries()) {
          assert.equal(cron.previous(new Date(ms))?.getTime(), ms, `${label} previous(${iso(ms)}) is itself`);
          if (i > 0) assert.equal(cron.previous(new Date(ms - 1))?.getTime(), all[i - 1], `${label} previous just before ${iso(ms)}`);
        }
      }
    });
  }
});
