/**
 * pgAgent's calendar schedules (seed 002, issue #14 item 16): pgagent_schedule() compiles the
 * five boolean arrays to a cron expression with pgAgent's meaning. A reference matcher written
 * from pgAgent's rules (an array with no true element matches everything; every field must match,
 * weekdays AND monthdays; monthday 32 = the last day of the month) checks the SQL preview and the
 * TypeScript fire times (what the ticker uses) on random arrays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { parseCron } from '../../src/core/cron.js';
import { drain, TestClock } from '../../src/testing/index.js';
import { internals } from '../../src/api/internals.js';
import type { TaskContext } from '../../src/index.js';

const db = await fixture();
const s = `"${db.schema}"`;

const LENGTHS = { minutes: 60, hours: 24, weekdays: 7, monthdays: 32, months: 12 } as const;
type Arrays = { [K in keyof typeof LENGTHS]: boolean[] };

/** A pgAgent array with the given (0-based) indexes true. */
const only = (length: number, ...indexes: number[]): boolean[] => Array.from({ length }, (_, i) => indexes.includes(i));
const none = (k: keyof typeof LENGTHS): boolean[] => only(LENGTHS[k]);
const all = (k: keyof typeof LENGTHS): boolean[] => Array.from({ length: LENGTHS[k] }, () => true);
const schedule = (a: Partial<Arrays>): Arrays => ({
  minutes: a.minutes ?? none('minutes'), hours: a.hours ?? none('hours'), weekdays: a.weekdays ?? none('weekdays'),
  monthdays: a.monthdays ?? none('monthdays'), months: a.months ?? none('months'),
});

async function compile(a: Arrays): Promise<string> {
  const { rows } = await db.pool.query(`SELECT ${s}.pgagent_schedule($1, $2, $3, $4, $5) AS cron`, [a.minutes, a.hours, a.weekdays, a.monthdays, a.months]);
  return rows[0].cron as string;
}

async function preview(cron: string, after: string, count: number): Promise<string[]> {
  const { rows } = await db.pool.query(`SELECT t FROM ${s}.cron_preview($1, 'UTC', $2, $3) AS t`, [cron, after, count]);
  return rows.map((r) => (r.t as Date).toISOString());
}

/** pgAgent's rule for one UTC minute. */
function matches(a: Arrays, at: Date): boolean {
  const any = (xs: boolean[]) => !xs.includes(true);
  const day = at.getUTCDate();
  const last = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 0)).getUTCDate();
  return (any(a.minutes) || a.minutes[at.getUTCMinutes()]!)
    && (any(a.hours) || a.hours[at.getUTCHours()]!)
    && (any(a.weekdays) || a.weekdays[at.getUTCDay()]!)
    && (any(a.monthdays) || a.monthdays[day - 1]! || (a.monthdays[31]! && day === last))
    && (any(a.months) || a.months[at.getUTCMonth()]!);
}

/** The next `count` matching minutes strictly after `after`, scanning at most `limitDays`. */
function reference(a: Arrays, after: string, count: number, limitDays = 800): string[] {
  const out: string[] = [];
  const start = Math.floor(Date.parse(after) / 60_000) + 1;
  for (let minute = start; out.length < count && minute < start + limitDays * 1440; minute++) {
    const at = new Date(minute * 60_000);
    if (matches(a, at)) out.push(at.toISOString());
  }
  return out;
}

function tsTimes(cron: string, after: string, count: number): string[] {
  const c = parseCron(cron);
  const out: string[] = [];
  let t = new Date(after);
  for (let i = 0; i < count; i++) {
    const n = c.next(t);
    if (!n) break;
    out.push(n.toISOString());
    t = n;
  }
  return out;
}

test("the seed's examples compile to the cron they mean", async () => {
  // Daily backup: minute 2, hour 2, all weekdays, all month days, all months.
  assert.equal(await compile(schedule({ minutes: only(60, 2), hours: only(24, 2), weekdays: all('weekdays'), monthdays: all('monthdays'), months: all('months') })), '2 2 * * *');
  // "Daily at a specific time": [0] and [2].
  assert.equal(await compile(schedule({ minutes: only(60, 0), hours: only(24, 2), weekdays: all('weekdays') })), '0 2 * * *');
  assert.equal(await compile(schedule({ weekdays: only(7, 1) })), '* * * * 1', 'weekdays[2] (index 1) is Monday');
  assert.equal(await compile(schedule({ monthdays: only(32, 1) })), '* * 2 * *', 'the 2nd day of the month');
  assert.equal(await compile(schedule({ minutes: only(60, 0, 15, 30, 45) })), '0,15,30,45 * * * *', 'every 15 minutes');
  // Every 6 hours, as the seed writes it (no minute given): pgAgent runs every minute of those hours.
  assert.equal(await compile(schedule({ hours: only(24, 0, 6, 12, 18) })), '* 0,6,12,18 * * *');
  assert.deepEqual(await preview(await compile(schedule({ minutes: only(60, 0), hours: only(24, 0, 6, 12, 18) })), '2030-01-01T00:00:00Z', 3),
    ['2030-01-01T06:00:00.000Z', '2030-01-01T12:00:00.000Z', '2030-01-01T18:00:00.000Z']);
});

test('all-false arrays (and all-true ones) mean every minute; the defaults are all-false', async () => {
  assert.equal(await compile(schedule({})), '* * * * *');
  assert.equal(await compile({ minutes: all('minutes'), hours: all('hours'), weekdays: all('weekdays'), monthdays: all('monthdays'), months: all('months') }), '* * * * *');
  assert.equal((await db.pool.query(`SELECT ${s}.pgagent_schedule() AS c`)).rows[0].c, '* * * * *');
  assert.equal((await db.pool.query(`SELECT ${s}.pgagent_schedule(hours => $1) AS c`, [only(24, 3)])).rows[0].c, '* 3 * * *');
  assert.deepEqual(await preview('* * * * *', '2030-01-01T00:00:00Z', 3), ['2030-01-01T00:01:00.000Z', '2030-01-01T00:02:00.000Z', '2030-01-01T00:03:00.000Z']);
});

test('monthday 32 is the last day of the month (Feb 28 or 29, the 30th or 31st)', async () => {
  const cron = await compile(schedule({ minutes: only(60, 0), hours: only(24, 0), monthdays: only(32, 31) }));
  assert.equal(cron, '0 0 L * *');
  assert.deepEqual(await preview(cron, '2023-12-31T12:00:00Z', 5),
    ['2024-01-31T00:00:00.000Z', '2024-02-29T00:00:00.000Z', '2024-03-31T00:00:00.000Z', '2024-04-30T00:00:00.000Z', '2024-05-31T00:00:00.000Z']);
  assert.deepEqual(await preview(cron, '2023-01-31T12:00:00Z', 1), ['2023-02-28T00:00:00.000Z']);
  // With other days: the 15th and the last day.
  assert.equal(await compile(schedule({ minutes: only(60, 0), hours: only(24, 0), monthdays: only(32, 14, 31) })), '0 0 15,L * *');
  // Every day 1-31 is every day, whatever 32 says.
  assert.equal(await compile(schedule({ monthdays: only(32, ...Array.from({ length: 31 }, (_, i) => i)) })), '* * * * *');
});

test('weekdays are Sunday first, as jscweekdays', async () => {
  const cron = await compile(schedule({ minutes: only(60, 30), hours: only(24, 9), weekdays: only(7, 0, 6) }));
  assert.equal(cron, '30 9 * * 0,6');
  const times = await preview(cron, '2030-01-01T00:00:00Z', 4);
  assert.deepEqual(times.map((t) => new Date(t).getUTCDay()), [6, 0, 6, 0], 'Saturdays and Sundays');
  assert.equal(times[0], '2030-01-05T09:30:00.000Z');
});

test('weekdays AND monthdays, as pgAgent: whole weeks of the month become d#n, other combinations are refused', async () => {
  // Month days 1-7 and Monday: the first Monday.
  const first = await compile(schedule({ minutes: only(60, 0), hours: only(24, 9), weekdays: only(7, 1), monthdays: only(32, 0, 1, 2, 3, 4, 5, 6) }));
  assert.equal(first, '0 9 * * 1#1');
  assert.deepEqual(await preview(first, '2030-01-01T00:00:00Z', 3), ['2030-01-07T09:00:00.000Z', '2030-02-04T09:00:00.000Z', '2030-03-04T09:00:00.000Z']);
  // The second and the fifth weeks, Sundays and Fridays.
  const weeks = only(32, 7, 8, 9, 10, 11, 12, 13, 28, 29, 30);
  assert.equal(await compile(schedule({ minutes: only(60, 0), hours: only(24, 0), weekdays: only(7, 0, 5), monthdays: weeks })), '0 0 * * 0#2,5#2,0#5,5#5');
  for (const monthdays of [only(32, 12), only(32, 31), only(32, 0, 1, 2, 3, 4, 5, 6, 31), only(32, 0, 1, 2, 3, 4, 5)]) {
    await assert.rejects(compile(schedule({ weekdays: only(7, 1), monthdays })),
      (e: { code?: string; message: string }) => e.code === '22023' && /weekdays and monthdays are both restricted .*pgAgent runs on days that match both/.test(e.message));
  }
});

test('wrong lengths, NULL arrays and NULL elements are refused with 22023, and define_job stores nothing', async () => {
  const cases: Array<[Partial<Record<keyof Arrays, unknown>>, RegExp]> = [
    [{ minutes: only(59) }, /^minutes must be an array of 60 booleans \(pgAgent's jscminutes\), got 59 element\(s\)$/],
    [{ hours: only(25) }, /^hours must be an array of 24 booleans \(pgAgent's jschours\), got 25 element\(s\)$/],
    [{ weekdays: only(8) }, /^weekdays must be an array of 7 booleans \(pgAgent's jscweekdays\), got 8 element\(s\)$/],
    [{ monthdays: only(31) }, /^monthdays must be an array of 32 booleans \(pgAgent's jscmonthdays\), got 31 element\(s\)$/],
    [{ months: [] }, /^months must be an array of 12 booleans \(pgAgent's jscmonths\), got 0 element\(s\)$/],
    [{ months: null }, /^months must be an array of 12 booleans \(pgAgent's jscmonths\), got NULL$/],
    [{ hours: [...only(23), null] }, /^hours\[24\] is NULL; each element of hours must be true or false$/],
    [{ weekdays: [[true, false, false, false, false, false, false]] }, /^weekdays must be an array of 7 booleans \(pgAgent's jscweekdays\), got a 2-dimensional array$/],
    // A schedule no date matches: the 30th of February.
    [{ monthdays: only(32, 29), months: only(12, 1) }, /never fire/],
  ];
  for (const [given, message] of cases) {
    const a = { ...schedule({}), ...given } as Arrays;
    await assert.rejects(
      db.pool.query(`SELECT ${s}.define_job('pga-bad', 'SELECT 1', cron => ARRAY[${s}.pgagent_schedule($1, $2, $3, $4, $5)])`, [a.minutes, a.hours, a.weekdays, a.monthdays, a.months]),
      (e: { code?: string; message: string }) => e.code === '22023' && message.test(e.message), `${JSON.stringify(given)}`);
  }
  assert.equal(await db.count('jobs', "job_name = 'pga-bad'"), 0);
});

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('on random arrays, the SQL preview and the TypeScript fire times are pgAgent\'s times, or the schedule is refused because cron cannot say it', async () => {
  const random = rng(14);
  const pick = (length: number): boolean[] => {
    const r = random();
    if (r < 0.3) return only(length);
    if (r < 0.4) return Array.from({ length }, () => true);
    const density = random() < 0.5 ? 0.1 : 0.5;
    return Array.from({ length }, () => random() < density);
  };
  let compared = 0;
  let refused = 0;
  for (let i = 0; i < 250; i++) {
    const a: Arrays = { minutes: pick(60), hours: pick(24), weekdays: pick(7), monthdays: pick(32), months: pick(12) };
    const after = new Date(Date.UTC(2030, Math.floor(random() * 12), 1 + Math.floor(random() * 28), Math.floor(random() * 24))).toISOString();
    const expected = reference(a, after, 5);
    let cron: string;
    try {
      cron = await compile(a);
    } catch (e) {
      const err = e as { code?: string; message: string };
      assert.equal(err.code, '22023', err.message);
      const restricted = (xs: boolean[]) => xs.includes(true) && xs.includes(false);
      const everyDay = a.monthdays.slice(0, 31).every(Boolean);
      assert.ok(/both restricted/.test(err.message) ? restricted(a.weekdays) && restricted(a.monthdays) && !everyDay : expected.length === 0, `${err.message} for ${JSON.stringify(a)}`);
      refused++;
      continue;
    }
    assert.deepEqual(await preview(cron, after, 5), expected, `SQL preview of ${cron}`);
    assert.deepEqual(tsTimes(cron, after, 5), expected, `TypeScript fire times of ${cron}`);
    compared++;
  }
  assert.ok(compared > 150 && refused > 5, `compared ${compared}, refused ${refused}`);
});

test('a job defined with a pgAgent schedule, a start, an end and exceptions fires at those times on the ticker', async () => {
  await db.pool.query(`DELETE FROM ${s}.jobs`);
  const clock = new TestClock('2030-03-01T00:00:00Z');
  const calls: Array<Pick<TaskContext, 'scheduledAt'>> = [];
  const kairos = db.node({ clock, tasks: { record: (_p: unknown, ctx) => void calls.push({ scheduledAt: ctx.scheduledAt }) } });
  const tick = async (): Promise<number> => {
    await internals(kairos).services.ticker.materialise();
    return drain(kairos);
  };
  // 06:00 on the last day of the month and the 15th, from 1 March to 31 May 2030, not on 15 April.
  await db.pool.query(`SELECT ${s}.define_job('pga-month-end', 'record', job_type => 'task',
      cron => ARRAY[${s}.pgagent_schedule(minutes => $1, hours => $2, monthdays => $3)],
      start_at => '2030-03-01T00:00:00Z', end_at => '2030-05-31T00:00:00Z', exceptions => '[{"date": "2030-04-15"}]')`,
  [only(60, 0), only(24, 6), only(32, 14, 31)]);
  assert.equal((await db.pool.query(`SELECT cron FROM ${s}.jobs WHERE job_name = 'pga-month-end'`)).rows[0].cron, '0 6 15,L * *');
  for (const at of ['2030-03-15T06:00:00Z', '2030-03-31T06:00:00Z', '2030-04-15T06:00:00Z', '2030-04-30T06:00:00Z', '2030-05-15T06:00:00Z', '2030-05-31T06:00:00Z']) {
    clock.set(at);
    await tick();
  }
  assert.deepEqual(calls.map((c) => c.scheduledAt?.toISOString()),
    ['2030-03-15T06:00:00.000Z', '2030-03-31T06:00:00.000Z', '2030-04-30T06:00:00.000Z', '2030-05-15T06:00:00.000Z']);
  await kairos.stop();
});
