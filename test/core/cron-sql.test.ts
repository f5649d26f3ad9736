/**
 * The SQL cron functions (sql/migrations/0003_cron.sql) against the TypeScript implementation
 * (src/core/cron.ts): same fire times for every syntax, time zone and DST situation, the same
 * refusals (SQLSTATE 22023, same messages), the same previews, and unions of several lines.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { parseCron } from '../../src/core/cron.js';
import type { CronSchedule } from '../../src/core/cron.js';
import { KairosValidationError, describeValue } from '../../src/core/errors.js';
import { nextOccurrences } from '../../src/core/schedule.js';
import { fixture } from '../helpers.js';
import { HOUR, MINUTE, chain, comparer, iso, transitions } from './cron-compare.js';
import type { Probe } from './cron-compare.js';

const db = await fixture();
const { fn, sqlNext, assertSameNext } = comparer(db);

const ZONES = ['UTC', 'America/New_York', 'Europe/London', 'Asia/Tokyo', 'Australia/Lord_Howe', 'America/Nuuk', 'America/Havana', 'Pacific/Chatham'];
const YEAR_2025 = [Date.UTC(2025, 0, 1), Date.UTC(2026, 0, 1)] as const;

/** Start times: ordinary ones, and around each 2025 transition of the zone. */
function startTimes(timezone: string): number[] {
  const ordinary = ['2025-01-15T10:17:23.456Z', '2025-07-09T23:59:59.999Z', '2024-02-28T12:00:00Z', '2025-12-31T23:59:30Z'].map(Date.parse);
  const around = transitions(timezone, ...YEAR_2025).flatMap((at) => [at - 26 * HOUR, at - 2 * HOUR - 1, at - 30 * MINUTE, at - 1, at, at + 20 * MINUTE + 500]);
  return [...ordinary, ...around];
}

// Every piece of syntax of docs/schedules.md, alone and combined.
const SYNTAX = [
  '* * * * *', '*/5 * * * * *', '15 30 9 * * *', '0 9 * * MON-FRI', '0 0 1 JAN *', '0 9 * jan-mar/2 sat,sun', '0 0 * * 7',
  '0 0 L * *', '0 0 L 2 *', '0 0 * * FRIL', '0 0 LW * *', '0 0 15W * *', '0 0 1W * *', '0 0 31W * *', '0 0 LW 2 *', '0 0 15W,L * *',
  '0 0 * * 5#3', '0 0 * * MON#1', '0 12 * * 0#5', '0 0 * * 5L,1#1', '0 0 * * 7L', '0 0 * * 0#1,0#3,SAT#5',
  '5/15 * * * *', '0 0 10/10 * *', '0 0 * * 1/2', '0 0 * 2-11/3 *', '1-59/7 * * * * *', '*/7 */11 */5 * * *', '0 0 */5 */5 *',
  '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@HOURLY',
  '0 0 13 * FRI', '0 0 */2 * MON', '0 0 1 * */3', '0 0 1-7 * MON', '0 0 1,15 * 1-5', '0 0 L,15 * *', '0 0 L,*/10 * MON', '0 0 *,L * MON',
  '0 0 L * MON', '0 0 LW * FRI', '0 0 15W * 1', '0 0 */1 * 1', '0 0 1-31 * */1', '0 0 * * */2', '0 0 29 * 0#5',
  '0 0 29 2 *', '0 0 31 * 5', '0 0 29 2 */7', '59 59 23 31 12 *', '0 0 30 * *', '0 0 31 * *',
  '30 2 * * *', '0 2,14 * * *', '30 2-3 * * *', '15,45 2 * * *', '30 1 * * *', '0,30 1-2 * * *', '0 * * * *', '*/15 * * * *',
  '30 23 * * *', '0 0,23 * * *', '*/20 0-3 * * *', '0 30 2 * * *', '* 30 2 * * *', '*/10 30 2 * * *', '0 0-23/2 * * *',
  ' 0  9 * *\tMON ', '\u00a00\u20039 * * *\u3000', '0 0 * * sun', '0 0 1 jan,JUL *', '45 59 1 * * *', '0 0 0 * * *', '0 30 0 * * *',
  // Issue #14: `?` in a day field (Quartz, Spring, EventBridge), LW in a list.
  '0 0 ? * MON', '0 12 15 * ?', '0 0 0 ? * *', '* * * * * ?', '0 0 ? * 5#3', '0 0 ? 2 FRIL', '0 0 L * ?', '0 0 LW,15 * *', '0 0 L,LW * *',
  '0 0 LW,15 * FRI', '0 0 15W,LW * *', '0 0 */5,LW * MON', '0 0 LW,* * MON', '0 0 LW,*,L * SUN', '0 0 LW,LW 2 *', '5/20 0 1/10,LW JAN *', '0 0 lw,l * ?',
];

// Expressions whose DST behaviour differs: fixed-time and interval-like, near the usual change hours.
const DST = [
  '30 2 * * *', '0 2,14 * * *', '30 2-3 * * *', '15,45 2 * * *', '30 1 * * *', '0,30 1-2 * * *', '0 * * * *', '*/15 * * * *',
  '30 23 * * *', '0 0,23 * * *', '*/20 0-3 * * *', '0 30 2 * * *', '* 30 2 * * *', '*/10 30 2 * * *', '0 0-23/2 * * *', '@daily',
  '0 0 * * *', '30 0 * * *', '0 1 * * *', '45 1 * * *', '0 3 * * *', '15 2 * * SUN', '0 0 * * SAT', '0 0 29 3 *', '*/30 * * * *',
  '0 0,30 * * * *', '5 23-23,0-2 * * *', '0 2 L * *', '0 2 * * 0L', '30 2 8-14 3 SUN', '0 */3 * * *', '30 1-3 * * *',
];

describe('cron_next agrees with parseCron().next()', () => {
  test('every syntax, in UTC, New York and Lord Howe, chained 20 times', async () => {
    const probes: Probe[] = [];
    const expected: Array<number | null> = [];
    for (const timezone of ['UTC', 'America/New_York', 'Australia/Lord_Howe']) {
      const starts = [Date.parse('2025-01-15T10:17:23.456Z'), Date.parse('2025-10-04T14:59:59.999Z'), Date.parse('2024-02-28T12:00:00Z')];
      for (const expression of SYNTAX) {
        const schedule = parseCron(expression, timezone);
        for (const from of starts) chain(schedule, expression, timezone, from, 20, probes, expected);
      }
    }
    await assertSameNext(probes, expected);
  });

  for (const timezone of ZONES) {
    test(`DST in ${timezone}: around each 2025 transition, chained 20 times`, async () => {
      const probes: Probe[] = [];
      const expected: Array<number | null> = [];
      for (const expression of DST) {
        const schedule = parseCron(expression, timezone);
        for (const from of startTimes(timezone)) chain(schedule, expression, timezone, from, 20, probes, expected);
      }
      await assertSameNext(probes, expected);
    });
  }

  test('from every 7 minutes and a half around the transitions (inside gaps and repeated hours)', async () => {
    const probes: Probe[] = [];
    const expected: Array<number | null> = [];
    for (const timezone of ZONES.slice(1)) {
      for (const at of transitions(timezone, ...YEAR_2025)) {
        for (const expression of ['30 1 * * *', '0,30 1-2 * * *', '*/15 * * * *', '0 * * * *', '30 2 * * *', '30 23 * * *', '0 0 * * *', '*/20 0-3 * * *']) {
          const schedule = parseCron(expression, timezone);
          for (let after = at - 3 * HOUR + 500; after < at + 3 * HOUR; after += 7.5 * MINUTE) {
            probes.push({ expression, timezone, after });
            expected.push(schedule.next(new Date(after))?.getTime() ?? null);
          }
        }
      }
    }
    await assertSameNext(probes, expected);
  });

  test('gaps across midnight: Nuuk every March, Apia skipping 30 December 2011', async () => {
    const probes: Probe[] = [];
    const expected: Array<number | null> = [];
    const cases: Array<[string, string]> = [['America/Nuuk', '2025-03-27T00:00:00Z'], ['America/Nuuk', '2026-03-26T00:00:00Z'], ['Pacific/Apia', '2011-12-27T00:00:00Z']];
    for (const [timezone, from] of cases) {
      for (const expression of ['30 23 * * *', '0 0,23 * * *', '0 12 * * *', '0 12 * * FRI', '0 12 * * SAT', '0 23 * * SAT', '*/30 23 * * *', '0 0 30 12 *', '15,45 23 * * *']) {
        chain(parseCron(expression, timezone), expression, timezone, Date.parse(from), 8, probes, expected);
      }
    }
    await assertSameNext(probes, expected);
    // The documented runs, spelled out.
    assert.deepEqual(await sqlNext([{ expression: '30 23 * * *', timezone: 'America/Nuuk', after: Date.parse('2025-03-29T12:00:00Z') }]), [Date.parse('2025-03-30T01:00:00Z')]);
    assert.deepEqual(await sqlNext([{ expression: '0 12 * * FRI', timezone: 'Pacific/Apia', after: Date.parse('2011-12-28T00:00:00Z') }]), [Date.parse('2011-12-30T10:00:00Z')]);
  });

  test('the DST tables of docs/schedules.md', async () => {
    const runs = async (expression: string, timezone: string, from: string, count: number) => {
      const result = await db.pool.query<{ at: Date }>(`SELECT at FROM ${fn('cron_preview')}($1, $2, $3, $4) AS at`, [expression, timezone, from, count]);
      return result.rows.map((row) => row.at.toISOString().replace('.000', ''));
    };
    const ny = 'America/New_York';
    assert.deepEqual(await runs('30 2 * * *', ny, '2025-03-09T00:00:00Z', 1), ['2025-03-09T07:00:00Z']);
    assert.deepEqual(await runs('0 2,14 * * *', ny, '2025-03-09T00:00:00Z', 2), ['2025-03-09T07:00:00Z', '2025-03-09T18:00:00Z']);
    assert.deepEqual(await runs('30 2-3 * * *', ny, '2025-03-09T00:00:00Z', 2), ['2025-03-09T07:00:00Z', '2025-03-09T07:30:00Z']);
    assert.deepEqual(await runs('15,45 2 * * *', ny, '2025-03-09T00:00:00Z', 2), ['2025-03-09T07:00:00Z', '2025-03-10T06:15:00Z']);
    assert.deepEqual(await runs('*/15 * * * *', ny, '2025-03-09T06:30:00Z', 3), ['2025-03-09T06:45:00Z', '2025-03-09T07:00:00Z', '2025-03-09T07:15:00Z']);
    assert.deepEqual(await runs('30 1 * * *', ny, '2025-11-02T00:00:00Z', 2), ['2025-11-02T05:30:00Z', '2025-11-03T06:30:00Z']);
    assert.deepEqual(await runs('0,30 1-2 * * *', ny, '2025-11-02T04:00:00Z', 4), ['2025-11-02T05:00:00Z', '2025-11-02T05:30:00Z', '2025-11-02T07:00:00Z', '2025-11-02T07:30:00Z']);
    assert.deepEqual(await runs('0 * * * *', ny, '2025-11-02T04:30:00Z', 3), ['2025-11-02T05:00:00Z', '2025-11-02T06:00:00Z', '2025-11-02T07:00:00Z']);
    assert.equal((await runs('*/15 * * * *', ny, '2025-11-02T04:59:59Z', 8)).at(-1), '2025-11-02T06:45:00Z');
    const london = 'Europe/London';
    assert.deepEqual(await runs('30 1 * * *', london, '2025-03-29T12:00:00Z', 1), ['2025-03-30T01:00:00Z']);
    assert.deepEqual(await runs('0 * * * *', london, '2025-03-29T23:30:00Z', 2), ['2025-03-30T00:00:00Z', '2025-03-30T01:00:00Z']);
    assert.deepEqual(await runs('30 1 * * *', london, '2025-10-25T12:00:00Z', 2), ['2025-10-26T00:30:00Z', '2025-10-27T01:30:00Z']);
    assert.deepEqual(await runs('0 * * * *', london, '2025-10-25T23:30:00Z', 2), ['2025-10-26T00:00:00Z', '2025-10-26T01:00:00Z']);
  });

  test('time zones given by their other names', async () => {
    const probes: Probe[] = [];
    const expected: Array<number | null> = [];
    for (const timezone of ['Etc/UTC', 'US/Eastern', 'america/new_york', 'CET', 'EST5EDT', 'PST', 'Japan', 'GB', 'Etc/GMT+5', 'etc/gmt-14', 'Etc/GMT0', 'Asia/Calcutta']) {
      for (const expression of ['30 2 * * *', '0 * * * *']) {
        for (const from of [Date.parse('2025-03-29T00:00:00Z'), Date.parse('2025-10-25T12:00:00Z'), Date.parse('2025-11-01T12:00:00Z')]) {
          chain(parseCron(expression, timezone), expression, timezone, from, 20, probes, expected);
        }
      }
    }
    await assertSameNext(probes, expected);
  });

  test('after is exclusive, to the millisecond', async () => {
    const probes: Probe[] = ['2025-07-09T00:15:00Z', '2025-07-09T00:14:59.999Z', '2025-07-09T00:15:00.001Z'].map((at) => ({ expression: '*/15 * * * *', timezone: 'UTC', after: Date.parse(at) }));
    probes.push({ expression: '* * * * * *', timezone: 'UTC', after: Date.parse('2025-07-09T00:00:00.999Z') });
    probes.push({ expression: '* * * * * *', timezone: 'Asia/Tokyo', after: Date.parse('1969-12-31T23:59:58.5Z') });
    assert.deepEqual((await sqlNext(probes)).map(iso), [
      '2025-07-09T00:30:00.000Z', '2025-07-09T00:15:00.000Z', '2025-07-09T00:30:00.000Z', '2025-07-09T00:00:01.000Z', '1969-12-31T23:59:59.000Z',
    ]);
  });

  test('NULL when there is no fire time before the year 3000', async () => {
    const probes: Probe[] = [
      { expression: '0 0 1 1 *', timezone: 'UTC', after: Date.parse('2999-01-01T00:00:00Z') },
      { expression: '59 59 23 31 12 *', timezone: 'Asia/Tokyo', after: Date.parse('2999-12-31T00:00:00Z') },
      { expression: '0 0 29 2 */7', timezone: 'UTC', after: Date.parse('2990-01-01T00:00:00Z') },
      // Every match since 2007 falls in New York's spring-forward gap, and interval-like jobs skip those.
      { expression: '*/30 2 * 3 SUN#2', timezone: 'America/New_York', after: Date.parse('2006-03-12T07:29:59Z') },
    ];
    const expected = probes.map((p) => parseCron(p.expression, p.timezone).next(new Date(p.after))?.getTime() ?? null);
    assert.deepEqual(expected, [null, Date.parse('2999-12-31T14:59:59Z'), null, Date.parse('2006-03-12T07:30:00Z')]);
    probes.push({ expression: '*/30 2 * 3 SUN#2', timezone: 'America/New_York', after: Date.parse('2006-03-12T07:30:00Z') });
    expected.push(null);
    await assertSameNext(probes, expected);
  });
});

describe('cron_preview', () => {
  test('lists what nextOccurrences lists', async () => {
    const cases: Array<[string, string, string, number]> = [
      ['30 2 * * *', 'America/New_York', '2025-03-08T00:00:00Z', 3],
      ['*/15 * * * *', 'America/New_York', '2025-11-02T04:50:00Z', 40],
      ['0 0 * * 5#3', 'Europe/London', '2025-01-01T00:00:00Z', 12],
      ['0 0 29 2 *', 'Asia/Tokyo', '2025-01-01T00:00:00Z', 5],
      ['*/30 * * * *', 'Australia/Lord_Howe', '2025-04-05T12:00:00Z', 100],
      ['30 23 * * *', 'America/Nuuk', '2025-03-25T00:00:00Z', 10],
      ['* * * * * *', 'UTC', '2025-07-09T23:59:30Z', 1000],
      ['0 0 1 1 *', 'UTC', '2995-06-01T00:00:00Z', 10],
    ];
    for (const [expression, timezone, from, count] of cases) {
      const expected = nextOccurrences(parseCron(expression, timezone), new Date(from), count).map((d) => d.toISOString());
      const result = await db.pool.query<{ at: Date }>(`SELECT at FROM ${fn('cron_preview')}($1, $2, $3, $4) AS at`, [expression, timezone, from, count]);
      assert.deepEqual(result.rows.map((row) => row.at.toISOString()), expected, `${expression} in ${timezone}`);
    }
  });

  test('defaults to UTC, now and 10 fire times', async () => {
    const result = await db.pool.query<{ at: Date; now: Date }>(`SELECT at, now() AS now FROM ${fn('cron_preview')}('* * * * *') AS at`);
    assert.equal(result.rows.length, 10);
    const now = result.rows[0]?.now as Date;
    const expected = nextOccurrences(parseCron('* * * * *'), now, 10).map((d) => d.toISOString());
    assert.deepEqual(result.rows.map((row) => row.at.toISOString()), expected);
  });

  test('refuses a count outside 1-1000', async () => {
    for (const count of [0, -1, 1001, null]) {
      await assertRefused(`SELECT * FROM ${fn('cron_preview')}('* * * * *', 'UTC', now(), $1)`, [count], /count must be 1-1000/);
    }
  });
});

describe('several cron lines', () => {
  const unions: Array<[string, string]> = [
    ['0 9 * * MON-FRI\n0 11 * * SAT,SUN', 'Europe/London'],
    ['30 2 * * *\n*/20 * * * *', 'America/New_York'],
    ['0 0 L * *\n0 12 15W * *\n@hourly', 'Australia/Lord_Howe'],
    ['  0 0 * * *  \r\n\n0 12 * * *\n', 'Asia/Tokyo'],
    ['30 23 * * *\n0 23 * * SAT', 'America/Nuuk'],
    ['0 30 2 * * *\n0 30 2 * * *', 'America/New_York'],
  ];

  test('fire at the earliest next time of any line', async () => {
    const probes: Probe[] = [];
    const expected: Array<number | null> = [];
    for (const [expression, timezone] of unions) {
      const lines = expression.split('\n').map((line) => line.trim()).filter((line) => line !== '').map((line) => parseCron(line, timezone));
      const union = {
        next(after: Date) {
          const times = lines.map((line) => line.next(after)?.getTime()).filter((ms): ms is number => ms !== undefined);
          return times.length === 0 ? null : new Date(Math.min(...times));
        },
      } as CronSchedule;
      for (const from of startTimes(timezone)) chain(union, expression, timezone, from, 20, probes, expected);
    }
    await assertSameNext(probes, expected);
  });

  test('preview the union', async () => {
    const result = await db.pool.query<{ at: Date }>(
      `SELECT at FROM ${fn('cron_preview')}(E'0 9 * * MON-FRI\\n0 11 * * SAT,SUN', 'Europe/London', '2025-07-10T00:00:00Z', 4) AS at`,
    );
    assert.deepEqual(result.rows.map((row) => row.at.toISOString()), [
      '2025-07-10T08:00:00.000Z', '2025-07-11T08:00:00.000Z', '2025-07-12T10:00:00.000Z', '2025-07-13T10:00:00.000Z',
    ]);
  });

  test('each line is validated, and the message says which one', async () => {
    await assertRefused(`SELECT ${fn('cron_validate')}(E'0 9 * * *\\n61 * * * *')`, [], /^invalid cron expression "61 \* \* \* \*" \(line 2\): the minute field allows 0-59, not 61$/);
    await assertRefused(`SELECT ${fn('cron_validate')}(E'0 9 * * *\\n\\n0 0 30 2 *')`, [], /\(line 3\): no date ever matches/);
    await assertRefused(`SELECT ${fn('cron_validate')}(E'\\n \\n\\t')`, [], /it is empty/);
  });
});

describe('the day fields\' `?` and LW in a list (issue #14), the same in TypeScript and SQL', () => {
  // Fire times worked out by hand from the calendar: 2025-01-15 is a Wednesday; 31 Aug 2025 is a
  // Sunday (its last weekday is Friday the 29th); 30 Nov 2025 a Sunday (last weekday: the 28th).
  const cases: Array<[string, string, string[]]> = [
    // `?` leaves its field unrestricted: only the other day field decides.
    ['0 0 ? * MON', '2025-01-15T10:17:00Z', ['2025-01-20T00:00:00.000Z', '2025-01-27T00:00:00.000Z', '2025-02-03T00:00:00.000Z']],
    ['0 12 15 * ?', '2025-01-15T10:17:00Z', ['2025-01-15T12:00:00.000Z', '2025-02-15T12:00:00.000Z', '2025-03-15T12:00:00.000Z']],
    ['0 0 0 ? * *', '2025-01-15T10:17:00Z', ['2025-01-16T00:00:00.000Z', '2025-01-17T00:00:00.000Z', '2025-01-18T00:00:00.000Z']],
    ['0 0 ? * 5#3', '2025-01-15T10:17:00Z', ['2025-01-17T00:00:00.000Z', '2025-02-21T00:00:00.000Z', '2025-03-21T00:00:00.000Z']],
    // LW in a list: the last weekday, or any other item.
    ['0 0 LW,15 * *', '2025-08-01T00:00:00Z', ['2025-08-15T00:00:00.000Z', '2025-08-29T00:00:00.000Z', '2025-09-15T00:00:00.000Z', '2025-09-30T00:00:00.000Z']],
    ['0 0 L,LW * *', '2025-08-01T00:00:00Z', ['2025-08-29T00:00:00.000Z', '2025-08-31T00:00:00.000Z', '2025-09-30T00:00:00.000Z', '2025-10-31T00:00:00.000Z']],
    ['0 0 LW,15 11 *', '2025-01-01T00:00:00Z', ['2025-11-15T00:00:00.000Z', '2025-11-28T00:00:00.000Z', '2026-11-15T00:00:00.000Z']],
    // Both day fields restricted: either matches (Vixie), LW in a list or not.
    ['0 0 LW,15 * SUN', '2025-08-01T00:00:00Z', ['2025-08-03T00:00:00.000Z', '2025-08-10T00:00:00.000Z', '2025-08-15T00:00:00.000Z', '2025-08-17T00:00:00.000Z', '2025-08-24T00:00:00.000Z', '2025-08-29T00:00:00.000Z', '2025-08-31T00:00:00.000Z']],
    // A day field starting with *: both must match. Last weekdays that are Fridays, and Fridays on days 1, 6, 11…
    ['0 0 */5,LW * FRI', '2025-07-31T00:00:00Z', ['2025-08-01T00:00:00.000Z', '2025-08-29T00:00:00.000Z', '2025-09-26T00:00:00.000Z']],
  ];
  for (const [expression, from, expected] of cases) {
    test(`${expression} after ${from}`, async () => {
      const typescript = nextOccurrences(parseCron(expression), new Date(from), expected.length).map((d) => d.toISOString());
      assert.deepEqual(typescript, expected, 'TypeScript');
      const result = await db.pool.query<{ at: Date }>(`SELECT at FROM ${fn('cron_preview')}($1, 'UTC', $2, $3) AS at`, [expression, from, expected.length]);
      assert.deepEqual(result.rows.map((row) => row.at.toISOString()), expected, 'SQL');
    });
  }

  const refusals: Array<[string, string]> = [
    ['? * * * *', 'the minute field does not accept "?"; only the day-of-month and day-of-week fields do (no specific value)'],
    ['0 ? * * *', 'the hour field does not accept "?"; only the day-of-month and day-of-week fields do (no specific value)'],
    ['0 0 1 ? *', 'the month field does not accept "?"; only the day-of-month and day-of-week fields do (no specific value)'],
    ['? 0 0 * * *', 'the second field does not accept "?"; only the day-of-month and day-of-week fields do (no specific value)'],
    ['0 0 ? * ?', 'both day fields are "?"; "?" belongs in one of them (write * in both to fire every day)'],
    ['0 0 ?,15 * *', 'the day-of-month field has "?" in the list "?,15"; ? must stand alone'],
    ['0 0 * * mon,?', 'the day-of-week field has "?" in the list "MON,?"; ? must stand alone'],
    ['0 0 ?/2 * *', 'the day-of-month field has an entry "?/2" that is not a value, range or step'],
  ];
  for (const [expression, detail] of refusals) {
    test(`refuses ${JSON.stringify(expression)}: ${detail}`, async () => {
      assert.throws(() => parseCron(expression), (error: unknown) => {
        assert.ok(error instanceof KairosValidationError);
        assert.equal(error.message, `Expected \`cron\` to be a cron expression such as "*/15 * * * *", got ${describeValue(expression)}: ${detail}.`);
        return true;
      });
      const message = await assertRefused(`SELECT ${fn('cron_validate')}($1)`, [expression], /^invalid cron expression /);
      assert.equal(message, `invalid cron expression ${describeValue(expression)}: ${detail}`);
    });
  }

  test('no refusal quotes croner: the expressions croner itself refuses get Kairos\'s messages', async () => {
    // Each of these croner refuses with a message of its own ("CronPattern: …"); Kairos must
    // never pass one on, and SQL (which has no croner) must say the same.
    const expressions = ['0 0 LW,15 * *', '0 0 * * +1', '0 0 1 1 * 2025', '0 0 L-5 * *', '0 0 5L * *', '0 0 * * MON#0', '0 0 * * 1-2-3'];
    for (const expression of expressions) {
      let message = '';
      try {
        parseCron(expression);
        message = 'accepted';
      } catch (error) {
        message = (error as Error).message;
      }
      assert.doesNotMatch(message, /croner|CronPattern/i, expression);
    }
  });
});

/** Run `sql` and expect SQLSTATE 22023 with a message matching `pattern`; returns the message. */
async function assertRefused(sql: string, values: unknown[], pattern: RegExp): Promise<string> {
  let message = '';
  await assert.rejects(db.pool.query(sql, values), (error: unknown) => {
    const e = error as { code?: string; message?: string };
    assert.equal(e.code, '22023', `SQLSTATE of ${sql}: ${e.message}`);
    assert.match(e.message ?? '', pattern);
    message = e.message ?? '';
    return true;
  });
  return message;
}

describe('cron_validate refuses what parseCron refuses', () => {
  // The strings of test/core/cron.test.ts, and more.
  const refused = [
    '', '   ', '* * * *', '* * * * * * *', '60 * * * *', '* 24 * * *', '* * 32 * *', '* * 0 * *', '* * * 13 *', '* * * * 8', '60 * * * * *',
    'FOO * * * *', '0 0 * JANUARY *', '0 0 * * FUN', '*/0 * * * *', '*/61 * * * *', '5-1 * * * *', '*-5 * * * *', '1,,2 * * * *', '? * * * *',
    '0 0 * * 5#6', '0 0 * * L', '0 0 15W-20 * *', '@reboot', '@every 5m', '0 0 30 2 *', '0 0 31 4,6,9,11 *', '0 0 30W 2 *',
    '* * * * * * * *', '0 0 * * 5#0', '0 0 * * 8L', '0 0 * * 5W', '0 0 L-5 * *', '0 0 0W * *', '0 0 32W * *', '*/25 */25 * * *',
    '0 0 */32 * *', '0 0 * */13 *', '0 0 * * */8', '0 0 * * 1-8', '0 0 * 1-JANUARY *', '0 0 * * 1#2#3', '0 0 1/0 * *', '1,2, * * * *',
    '0 0 * * MON-SUN', '0 0 * DEC-JAN *', '0 0 L W * *', '0 0 * * MON/2/2', '00000000000000000000061 * * * *', '0 0 * * +1',
    '0 0 */3 2 MON#5', '0 0 31 2,4 *', '@Reboot', '@', '0 0 1 1 * 2025', '0 0 * * 5L#2', '0 0 * * #2', 'H * * * *', '0 0 23-1/1 * * *',
    // Found by cron-property.test.ts: the messages quote control characters and characters outside
    // the BMP as JSON.stringify does (\v, \f, \u0001, a surrogate pair cut at 57 code units).
    '0\v0 * * 8', '61\f* * * *', '0 0 * * 5#6\u0001', '0 0 * * MON\u00a0\u3000\u2028 X', '\u{1F600} * * * *',
    `0 0 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,2\u{1F600} * *`, `0 0 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,\u{1F600}1 * *`,
    `0 0 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,\u{1F600} * *`,
    // Also found: only ASCII letters change case (toUpperCase() made "ſun" SUN and "frı" FRI,
    // toLowerCase() the Kelvin sign k).
    '0 0 * * ſun', '0 0 * * frı', '0 0 1 ıan *', '@wee\u212Aly', '30 2é * * *',
    '0 0 * * mon,sat-ſun',
    // Issue #14: `?` only stands alone, only in a day field, and in one of them.
    '? * * * *', '0 ? * * *', '0 0 1 ? *', '? 0 0 * * *', '0 0 ? * ?', '0 0 0 ? JAN ?', '0 0 ?,15 * *', '0 0 * * MON,?', '0 0 ?/2 * *',
    '0 0 1-? * *', '0 0 ?? * *', '0 0 ? * 8', '0 0 ? 13 ?', '0 0 LW,? * *', '0 0 LW,16W-20 * *',
  ];

  for (const expression of refused) {
    test(`refuses ${JSON.stringify(expression)} with the same message`, async () => {
      let detail = '';
      assert.throws(() => parseCron(expression), (error: unknown) => {
        const prefix = `Expected \`cron\` to be a cron expression such as "*/15 * * * *", got ${describeValue(expression)}: `;
        const message = (error as Error).message;
        assert.ok(message.startsWith(prefix), message);
        detail = message.slice(prefix.length, -1);
        return true;
      });
      const message = await assertRefused(`SELECT ${fn('cron_validate')}($1)`, [expression], /^invalid cron expression /);
      assert.equal(message, `invalid cron expression ${describeValue(expression)}: ${detail}`);
    });
  }

  test('refuses NULL', async () => {
    await assertRefused(`SELECT ${fn('cron_validate')}(NULL)`, [], /it must be a string/);
    await assertRefused(`SELECT ${fn('cron_next')}(NULL, 'UTC', now())`, [], /it must be a string/);
    await assertRefused(`SELECT ${fn('cron_next')}('* * * * *', 'UTC', NULL)`, [], /after must be a finite time/);
    await assertRefused(`SELECT ${fn('cron_next')}('* * * * *', 'UTC', 'infinity')`, [], /after must be a finite time/);
  });

  test('cron_next and cron_preview refuse bad expressions too', async () => {
    await assertRefused(`SELECT ${fn('cron_next')}('61 * * * *', 'UTC', now())`, [], /^invalid cron expression "61 \* \* \* \*": the minute field allows 0-59, not 61$/);
    await assertRefused(`SELECT * FROM ${fn('cron_preview')}('0 0 30 2 *')`, [], /would never fire/);
  });

  test('accepts what parseCron accepts', async () => {
    for (const expression of SYNTAX) await db.pool.query(`SELECT ${fn('cron_validate')}($1, 'Europe/London')`, [expression]);
  });
});

describe('time zones', () => {
  test('refuses unknown zones and UTC offsets', async () => {
    // PostgreSQL alone would accept several of these: abbreviations (PDT) and POSIX rules, even
    // ones that look like zone names (America/New_York+5).
    const refused = ['Mars/Olympus', '+02:00', 'UTC+2', '', ' UTC', 'Factory', 'PDT', 'FOO3BAR', 'EST5EDT4,M3.2.0,M11.1.0', 'Europe/', 'Europe//Paris'];
    refused.push('America/New_York+5', 'Europe/London1', 'Etc/GMT+99', 'Etc/GMT-15', 'Etc/GMT+05', 'Asia/Tokyo/');
    for (const timezone of [...refused, null]) {
      if (timezone !== null) assert.throws(() => parseCron('* * * * *', timezone), /Expected `timezone`/, timezone);
      await assertRefused(`SELECT ${fn('cron_validate')}('* * * * *', $1)`, [timezone], /^(unknown time zone|time zone ".*" is a UTC offset)/);
      await assertRefused(`SELECT ${fn('cron_next')}('* * * * *', $1, now())`, [timezone], /time zone/);
    }
    await assertRefused(`SELECT ${fn('cron_validate')}('* * * * *', 'Mars/Olympus')`, [], /^unknown time zone "Mars\/Olympus"$/);
  });

  test('names without a slash mean what they mean to Intl (PostgreSQL would read CET or PST as abbreviations)', async () => {
    const names = await db.pool.query<{ name: string }>(`SELECT name FROM pg_timezone_names WHERE name !~ '/' ORDER BY name`);
    const candidates = [...names.rows.map((row) => row.name), ...'ACT AET AGT ART AST BET BST CAT CNT CST CTT EAT ECT IET IST JST MIT NET NST PLT PNT PRT PST SST VST'.split(' ')];
    for (const name of candidates) {
      let intl: string | null = null;
      try {
        parseCron('* * * * *', name);
        intl = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
      } catch {
        intl = null; // refused by TypeScript
      }
      const sql = await db.pool.query<{ zone: string }>(`SELECT ${fn('cron_zone')}($1) AS zone`, [name]).then(
        (result) => result.rows[0]?.zone ?? null,
        () => null,
      );
      assert.equal(sql, intl, name);
    }
  });

  test('zone names with a slash that PostgreSQL knows are the ones Intl knows', async () => {
    const names = await db.pool.query<{ name: string }>(`SELECT name FROM pg_timezone_names WHERE name ~ '/' AND name !~ '^posix/|^right/' ORDER BY name`);
    const unknownToIntl = names.rows.map((row) => row.name).filter((name) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: name });
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(unknownToIntl, []);
    const supported = Intl.supportedValuesOf('timeZone');
    const result = await db.pool.query<{ zone: string; ok: boolean }>(
      `SELECT zone, ${fn('cron_zone')}(zone) IS NOT NULL AS ok FROM unnest($1::text[]) AS zone`,
      [supported.filter((zone) => zone.includes('/'))],
    );
    assert.ok(result.rows.every((row) => row.ok));
  });
});

describe('performance', () => {
  test('sparse and dense expressions stay fast', async (t) => {
    const hard = ['0 0 29 2 *', '0 0 31 * 5', '0 0 29 2 */7', '59 59 23 31 12 *', '0 0 */3 2 MON#4', '0 0 31W * *', '* * * * * *', '0 0 LW 2 *', '0 0 29 * 0#5',
      '*/30 2 * 3 SUN#2']; // the last never fires again in New York: searched day by day to the year 3000
    let slowest = { ms: 0, what: '' };
    for (const expression of hard) {
      for (const [timezone, from] of [['UTC', '2025-03-01T00:00:00Z'], ['America/New_York', '2097-03-09T06:59:59Z'], ['Australia/Lord_Howe', '2025-04-05T15:29:59Z']] as const) {
        const started = performance.now();
        await db.pool.query(`SELECT ${fn('cron_next')}($1, $2, $3)`, [expression, timezone, from]);
        const ms = performance.now() - started;
        if (ms > slowest.ms) slowest = { ms, what: `${expression} in ${timezone} after ${from}` };
      }
    }
    t.diagnostic(`slowest: ${slowest.what} took ${slowest.ms.toFixed(1)} ms`);
    // Far below in practice; the bound only catches a search that went minute by minute.
    assert.ok(slowest.ms < 500, `slowest: ${slowest.what} took ${slowest.ms.toFixed(1)} ms`);
  });
});
