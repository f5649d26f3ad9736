import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { KairosValidationError } from '../../src/core/errors.js';
import { MISSED_COUNT_CAP, compileSchedule, nextOccurrences, planCatchUp } from '../../src/core/schedule.js';
import type { CatchUpInput, CatchUpPlan, Schedule, ScheduleSpec } from '../../src/core/schedule.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const at = (iso: string) => new Date(iso);
const isoOrNull = (date: Date | null) => date?.toISOString() ?? null;

/** A plan with ISO strings, for readable deepEqual failures. */
function show(plan: CatchUpPlan) {
  return { fire: plan.fire.map((d) => d.toISOString()), missed: plan.missed, next: isoOrNull(plan.next) };
}

function assertRefused(run: () => unknown, field: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof KairosValidationError, 'a KairosValidationError');
    assert.equal(error.field, field);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('compileSchedule: intervals', () => {
  const every15 = compileSchedule({ kind: 'interval', everyMs: 15 * MINUTE, anchor: at('2025-07-09T00:00:00Z') });

  test('fires on the grid anchor + k * every', () => {
    assert.equal(isoOrNull(every15.next(at('2025-07-09T00:07:00Z'))), '2025-07-09T00:15:00.000Z');
    assert.equal(isoOrNull(every15.next(at('2025-07-09T00:15:00Z'))), '2025-07-09T00:30:00.000Z', 'strictly after');
    assert.equal(isoOrNull(every15.previous(at('2025-07-09T00:29:59Z'))), '2025-07-09T00:15:00.000Z');
    assert.equal(isoOrNull(every15.previous(at('2025-07-09T00:15:00Z'))), '2025-07-09T00:15:00.000Z', 'at or before');
  });

  test('before the anchor, the anchor is next and nothing is previous', () => {
    assert.equal(isoOrNull(every15.next(at('2025-07-08T13:00:00Z'))), '2025-07-09T00:00:00.000Z');
    assert.equal(isoOrNull(every15.next(at('2025-07-08T23:59:59.999Z'))), '2025-07-09T00:00:00.000Z');
    assert.equal(every15.previous(at('2025-07-08T23:59:59.999Z')), null);
    assert.equal(isoOrNull(every15.previous(at('2025-07-09T00:00:00Z'))), '2025-07-09T00:00:00.000Z');
  });

  test('never drifts, however far from the anchor', () => {
    const odd = compileSchedule({ kind: 'interval', everyMs: 7 * SECOND + 3, anchor: at('2025-07-09T00:00:00.005Z') });
    const far = odd.next(at('2031-02-03T04:05:06.789Z'));
    assert.ok(far !== null);
    assert.equal((far.getTime() - Date.parse('2025-07-09T00:00:00.005Z')) % (7 * SECOND + 3), 0);
    assert.ok(far.getTime() - Date.parse('2031-02-03T04:05:06.789Z') <= 7 * SECOND + 3);
  });

  test('refuses an interval under one second and invalid anchors', () => {
    const anchor = at('2025-07-09T00:00:00Z');
    assertRefused(() => compileSchedule({ kind: 'interval', everyMs: 999, anchor }), 'everyMs', /at least 1000, got number 999/);
    assertRefused(() => compileSchedule({ kind: 'interval', everyMs: 1500.5, anchor }), 'everyMs', /whole number/);
    assertRefused(() => compileSchedule({ kind: 'interval', everyMs: Number.NaN, anchor }), 'everyMs', /got number NaN/);
    assertRefused(() => compileSchedule({ kind: 'interval', everyMs: 1000, anchor: new Date(Number.NaN) }), 'anchor', /valid Date, got Invalid Date/);
    assertRefused(() => compileSchedule({ kind: 'interval', everyMs: 1000, anchor: '2025' as unknown as Date }), 'anchor', /got "2025"/);
  });
});

describe('compileSchedule: once, cron, and the spec', () => {
  const once = compileSchedule({ kind: 'once', at: at('2025-07-09T12:00:00Z') });

  test('a one-time schedule has exactly one occurrence', () => {
    assert.equal(isoOrNull(once.next(at('2025-07-09T11:59:59.999Z'))), '2025-07-09T12:00:00.000Z');
    assert.equal(once.next(at('2025-07-09T12:00:00Z')), null, 'next() is null once it is past');
    assert.equal(once.next(at('2030-01-01T00:00:00Z')), null);
    assert.equal(once.previous(at('2025-07-09T11:59:59.999Z')), null, 'previous() is null before it');
    assert.equal(isoOrNull(once.previous(at('2025-07-09T12:00:00Z'))), '2025-07-09T12:00:00.000Z');
    assert.equal(isoOrNull(once.previous(at('2030-01-01T00:00:00Z'))), '2025-07-09T12:00:00.000Z');
    assertRefused(() => compileSchedule({ kind: 'once', at: new Date(Number.NaN) }), 'at', /valid Date/);
  });

  test('a cron schedule uses its time zone', () => {
    const cron = compileSchedule({ kind: 'cron', cron: ' 0 9 * * * ', timezone: 'Asia/Tokyo' });
    assert.deepEqual(cron.spec, { kind: 'cron', cron: '0 9 * * *', timezone: 'Asia/Tokyo' });
    assert.equal(isoOrNull(cron.next(at('2025-07-09T00:00:00Z'))), '2025-07-10T00:00:00.000Z');
    assert.equal(isoOrNull(cron.previous(at('2025-07-09T00:00:00Z'))), '2025-07-09T00:00:00.000Z');
    assertRefused(() => compileSchedule({ kind: 'cron', cron: '0 0 30 2 *', timezone: 'UTC' }), 'cron', /never fire/);
    assertRefused(() => compileSchedule({ kind: 'cron', cron: '* * * * *', timezone: 'Mars/Olympus' }), 'timezone', /IANA/);
  });

  test('refuses unknown kinds', () => {
    assertRefused(() => compileSchedule({ kind: 'rrule' } as unknown as ScheduleSpec), 'kind', /"cron", "interval" or "once", got "rrule"/);
    assertRefused(() => compileSchedule(null as unknown as ScheduleSpec), 'kind', /got undefined/);
  });

  test('keeps its own copies of the Dates it was given and returns', () => {
    const anchor = at('2025-07-09T00:00:00Z');
    const schedule = compileSchedule({ kind: 'interval', everyMs: MINUTE, anchor });
    anchor.setUTCFullYear(2000);
    const first = schedule.next(at('2025-07-09T00:00:30Z'));
    first?.setUTCFullYear(2000);
    assert.equal(isoOrNull(schedule.next(at('2025-07-09T00:00:30Z'))), '2025-07-09T00:01:00.000Z');
    assert.ok(Object.isFrozen(schedule.spec));
  });
});

describe('nextOccurrences', () => {
  test('lists the next occurrences strictly after the start', () => {
    const schedule = compileSchedule({ kind: 'cron', cron: '0 */6 * * *', timezone: 'UTC' });
    assert.deepEqual(nextOccurrences(schedule, at('2025-07-09T06:00:00Z'), 3).map((d) => d.toISOString()), [
      '2025-07-09T12:00:00.000Z',
      '2025-07-09T18:00:00.000Z',
      '2025-07-10T00:00:00.000Z',
    ]);
    assert.deepEqual(nextOccurrences(schedule, at('2025-07-09T06:00:00Z'), 0), []);
  });

  test('stops early when the schedule ends', () => {
    const once = compileSchedule({ kind: 'once', at: at('2025-07-09T12:00:00Z') });
    assert.equal(nextOccurrences(once, at('2025-07-09T00:00:00Z'), 5).length, 1);
    assert.equal(nextOccurrences(once, at('2025-07-09T12:00:00Z'), 5).length, 0);
  });

  test('refuses a bad count', () => {
    const once = compileSchedule({ kind: 'once', at: at('2025-07-09T12:00:00Z') });
    assertRefused(() => nextOccurrences(once, at('2025-07-09T00:00:00Z'), -1), 'count', /at least 0/);
    assertRefused(() => nextOccurrences(once, at('2025-07-09T00:00:00Z'), 1.5), 'count', /whole number/);
  });
});

describe('planCatchUp', () => {
  const everyMinute = compileSchedule({ kind: 'cron', cron: '* * * * *', timezone: 'UTC' });
  /** Due: 10:00 … 10:05 (six occurrences); now is 10:05:30. */
  const base: CatchUpInput = {
    schedule: everyMinute,
    cursor: at('2025-07-09T10:00:00Z'),
    now: at('2025-07-09T10:05:30Z'),
    policy: 'latest',
    graceMs: MINUTE,
    maxLatenessMs: 3 * MINUTE,
    limit: 100,
  };
  const plan = (changes: Partial<CatchUpInput>) => show(planCatchUp({ ...base, ...changes }));

  test('a cursor in the future fires nothing and stays', () => {
    const future = { cursor: at('2025-07-09T10:06:00Z') };
    for (const policy of ['skip', 'latest', 'all'] as const) {
      assert.deepEqual(plan({ ...future, policy }), { fire: [], missed: 0, next: '2025-07-09T10:06:00.000Z' });
    }
  });

  test('latest fires only the last due occurrence', () => {
    assert.deepEqual(plan({ policy: 'latest' }), { fire: ['2025-07-09T10:05:00.000Z'], missed: 5, next: '2025-07-09T10:06:00.000Z' });
    assert.deepEqual(plan({ policy: 'latest', now: at('2025-07-09T10:00:00Z') }), {
      fire: ['2025-07-09T10:00:00.000Z'],
      missed: 0,
      next: '2025-07-09T10:01:00.000Z',
    });
  });

  test('skip fires the last due occurrence only within the grace period', () => {
    assert.deepEqual(plan({ policy: 'skip', graceMs: 30 * SECOND }), { fire: ['2025-07-09T10:05:00.000Z'], missed: 5, next: '2025-07-09T10:06:00.000Z' });
    assert.deepEqual(plan({ policy: 'skip', graceMs: 29_999 }), { fire: [], missed: 6, next: '2025-07-09T10:06:00.000Z' });
  });

  test('all fires every occurrence within maxLateness, oldest first, and counts the rest as missed', () => {
    // On time means now - o <= 3m, i.e. o >= 10:02:30: 10:03, 10:04 and 10:05.
    assert.deepEqual(plan({ policy: 'all' }), {
      fire: ['2025-07-09T10:03:00.000Z', '2025-07-09T10:04:00.000Z', '2025-07-09T10:05:00.000Z'],
      missed: 3,
      next: '2025-07-09T10:06:00.000Z',
    });
    assert.deepEqual(plan({ policy: 'all', maxLatenessMs: 5.5 * MINUTE }).fire.length, 6, 'exactly maxLateness late still fires');
    assert.deepEqual(plan({ policy: 'all', maxLatenessMs: 0, now: at('2025-07-09T10:05:00Z') }).fire, ['2025-07-09T10:05:00.000Z']);
  });

  test('all stops at the limit and continues from the first unfired occurrence', () => {
    const first = plan({ policy: 'all', limit: 2, maxLatenessMs: Number.POSITIVE_INFINITY });
    assert.deepEqual(first, { fire: ['2025-07-09T10:00:00.000Z', '2025-07-09T10:01:00.000Z'], missed: 0, next: '2025-07-09T10:02:00.000Z' });
    const fired = [...first.fire];
    for (let cursor: string | null = first.next; cursor !== null && cursor <= base.now.toISOString(); ) {
      const more = plan({ policy: 'all', limit: 2, maxLatenessMs: Number.POSITIVE_INFINITY, cursor: at(cursor) });
      fired.push(...more.fire);
      cursor = more.next;
    }
    assert.equal(fired.length, 6);
    assert.equal(new Set(fired).size, 6, 'each occurrence fires once');
  });

  test('endAt bounds everything; an occurrence exactly at endAt fires', () => {
    const endAt = at('2025-07-09T10:03:00Z');
    assert.deepEqual(plan({ policy: 'latest', endAt }), { fire: ['2025-07-09T10:03:00.000Z'], missed: 3, next: null });
    assert.deepEqual(plan({ policy: 'all', endAt, maxLatenessMs: Number.POSITIVE_INFINITY }).fire.length, 4);
    assert.equal(plan({ policy: 'all', endAt }).next, null);
    assert.deepEqual(plan({ policy: 'latest', endAt: at('2025-07-09T09:00:00Z') }), { fire: [], missed: 0, next: null });
    assert.deepEqual(plan({ policy: 'latest', endAt: at('2025-07-09T10:05:59Z') }).next, null);
    assert.deepEqual(plan({ policy: 'latest', endAt: at('2025-07-09T10:06:00Z') }).next, '2025-07-09T10:06:00.000Z');
    assert.deepEqual(plan({ cursor: at('2025-07-09T11:00:00Z'), endAt }), { fire: [], missed: 0, next: null });
  });

  test('remainingRuns bounds everything; when used up the schedule is finished', () => {
    assert.deepEqual(plan({ policy: 'latest', remainingRuns: 1 }), { fire: ['2025-07-09T10:05:00.000Z'], missed: 5, next: null });
    assert.deepEqual(plan({ policy: 'latest', remainingRuns: 2 }).next, '2025-07-09T10:06:00.000Z');
    assert.deepEqual(plan({ policy: 'skip', graceMs: 0, remainingRuns: 1 }), { fire: [], missed: 6, next: '2025-07-09T10:06:00.000Z' });
    assert.deepEqual(plan({ policy: 'all', remainingRuns: 2, maxLatenessMs: Number.POSITIVE_INFINITY }), {
      fire: ['2025-07-09T10:00:00.000Z', '2025-07-09T10:01:00.000Z'],
      missed: 0,
      next: null,
    });
    assert.deepEqual(plan({ policy: 'latest', remainingRuns: 0 }), { fire: [], missed: 0, next: null });
    assert.deepEqual(plan({ policy: 'all', remainingRuns: null }).fire.length, 3);
  });

  test('a one-time schedule fires once and finishes', () => {
    const once = compileSchedule({ kind: 'once', at: at('2025-07-09T10:00:00Z') });
    assert.deepEqual(plan({ schedule: once, policy: 'latest' }), { fire: ['2025-07-09T10:00:00.000Z'], missed: 0, next: null });
    assert.deepEqual(plan({ schedule: once, policy: 'skip' }), { fire: [], missed: 1, next: null });
  });

  test('a custom schedule with only next() gives the same plans', () => {
    const custom = { next: (after: Date) => everyMinute.next(after) };
    for (const policy of ['skip', 'latest', 'all'] as const) {
      for (const now of ['2025-07-09T10:00:00Z', '2025-07-09T10:05:30Z', '2025-07-09T13:17:00.001Z']) {
        assert.deepEqual(plan({ schedule: custom, policy, now: at(now) }), plan({ policy, now: at(now) }), `${policy} at ${now}`);
      }
    }
  });

  test('a per-second schedule down for a year: latest fires the last second, missed is capped', () => {
    const everySecond = compileSchedule({ kind: 'cron', cron: '* * * * * *', timezone: 'UTC' });
    const down = { cursor: at('2024-07-09T00:00:00Z'), now: at('2025-07-09T12:34:56.789Z'), limit: 100, maxLatenessMs: MINUTE };
    const latest = { fire: ['2025-07-09T12:34:56.000Z'], missed: MISSED_COUNT_CAP, next: '2025-07-09T12:34:57.000Z' };
    assert.deepEqual(plan({ ...down, schedule: everySecond, policy: 'latest' }), latest);
    assert.deepEqual(plan({ ...down, schedule: { next: (after: Date) => everySecond.next(after) }, policy: 'latest' }), latest);
    assert.deepEqual(plan({ ...down, schedule: everySecond, policy: 'skip', graceMs: SECOND }), latest);
    assert.deepEqual(plan({ ...down, schedule: everySecond, policy: 'skip', graceMs: 500 }).fire, []);
    const all = plan({ ...down, schedule: everySecond, policy: 'all' });
    assert.equal(all.missed, MISSED_COUNT_CAP);
    assert.equal(all.fire.length, 60, 'only the last minute is on time');
    assert.equal(all.fire[0], '2025-07-09T12:33:57.000Z');
    assert.equal(all.next, '2025-07-09T12:34:57.000Z');
  });

  test('missed is exact below the cap, for cron and (by arithmetic) for intervals', () => {
    const cursor = at('2025-07-09T00:00:00Z');
    const now = at('2025-07-09T01:23:20.500Z'); // 5000.5 s later: 5001 due occurrences
    const everySecond = compileSchedule({ kind: 'cron', cron: '* * * * * *', timezone: 'UTC' });
    const interval = compileSchedule({ kind: 'interval', everyMs: SECOND, anchor: at('2020-01-01T00:00:00Z') });
    for (const schedule of [everySecond, interval]) {
      assert.equal(plan({ schedule, cursor, now, policy: 'latest' }).missed, 5000);
      assert.equal(plan({ schedule, cursor, now, policy: 'skip', graceMs: 0 }).missed, 5001);
    }
    const yearLater = at('2026-07-09T00:00:00Z');
    assert.deepEqual(plan({ schedule: interval, cursor, now: yearLater, policy: 'latest' }), {
      fire: ['2026-07-09T00:00:00.000Z'],
      missed: MISSED_COUNT_CAP,
      next: '2026-07-09T00:00:01.000Z',
    });
  });

  test('refuses invalid input', () => {
    assertRefused(() => planCatchUp({ ...base, policy: 'some' as 'all' }), 'catchUp', /"skip", "latest" or "all"/);
    assertRefused(() => planCatchUp({ ...base, limit: 0 }), 'limit', /at least 1/);
    assertRefused(() => planCatchUp({ ...base, graceMs: -1 }), 'graceMs', /at least 0/);
    assertRefused(() => planCatchUp({ ...base, maxLatenessMs: Number.NaN }), 'maxLatenessMs', /at least 0/);
    assertRefused(() => planCatchUp({ ...base, remainingRuns: 1.5 }), 'remainingRuns', /whole number or null/);
    assertRefused(() => planCatchUp({ ...base, now: new Date(Number.NaN) }), 'now', /valid Date/);
    assertRefused(() => planCatchUp({ ...base, endAt: new Date(Number.NaN) }), 'endAt', /valid Date/);
  });

  test('refuses a custom schedule whose next() does not move forward', () => {
    const stuck: Pick<Schedule, 'next'> = { next: (after) => after };
    assertRefused(() => planCatchUp({ ...base, schedule: stuck, policy: 'all' }), 'schedule', /next\(\) to return null or a Date after/);
  });
});
