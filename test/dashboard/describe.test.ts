/** Schedules in plain words: common shapes read naturally, and bad input gets the API's error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCron, describeSchedule } from '../../src/dashboard/describe.js';
import { KairosValidationError } from '../../src/core/errors.js';

test('cron expressions in words', () => {
  const cases: Array<[string, string]> = [
    ['* * * * *', 'Every minute (UTC)'],
    ['*/5 * * * *', 'Every 5 minutes (UTC)'],
    ['*/10 * * * * *', 'Every 10 seconds (UTC)'],
    ['0 3 * * *', 'At 03:00 (UTC)'],
    ['@hourly', 'Every hour on the hour (UTC)'],
    ['5 * * * *', 'Every hour at minute 5 (UTC)'],
    ['30 */3 * * *', 'Every 3 hours at minute 30 (UTC)'],
    ['0 9-17 * * *', 'Every hour from 09:00 to 17:00 (UTC)'],
    ['*/15 8-18 * * 1-5', 'Every 15 minutes from 08:00 to 18:59 on Monday to Friday (UTC)'],
    ['0 9,17 * * MON-FRI', 'At 09:00 and 17:00 on Monday to Friday (UTC)'],
    ['0 0 L * *', 'At 00:00 on the last day of the month (UTC)'],
    ['0 4 15W * *', 'At 04:00 on the weekday nearest day 15 of the month (UTC)'],
    ['0 12 * * 5L', 'At 12:00 on the last Friday of the month (UTC)'],
    ['0 12 * * 1#2', 'At 12:00 on the second Monday of the month (UTC)'],
    ['15 10 1,15 * 1', 'At 10:15 on day 1 and 15 of the month or on Monday (UTC)'],
    ['0 0 1 JAN,JUL *', 'At 00:00 on day 1 of the month in January and July (UTC)'],
    ['0 0 * * *\n0 12 * * 6', 'At 00:00; and at 12:00 on Saturday (UTC)'],
    // `?` in a day field and LW in a list (issue #14, item 17): read as the scheduler reads them.
    ['0 0 ? * MON', 'At 00:00 on Monday (UTC)'],
    ['0 12 15 * ?', 'At 12:00 on day 15 of the month (UTC)'],
    ['0 0 LW,15 * *', 'At 00:00 on day 15 or the last weekday of the month (UTC)'],
  ];
  for (const [cron, words] of cases) assert.equal(describeCron(cron), words, cron);
  assert.equal(describeCron('0 3 * * *', 'Europe/Berlin'), 'At 03:00 (Europe/Berlin)');
});

test('invalid expressions and zones throw the API\'s validation error', () => {
  assert.throws(() => describeCron('61 * * * *'), (e: unknown) => e instanceof KairosValidationError && /minute/.test(e.message));
  assert.throws(() => describeCron('0 3 * * *', 'Mars/Olympus'), KairosValidationError);
  assert.throws(() => describeCron(''), KairosValidationError);
});

test('other schedule kinds', () => {
  assert.equal(describeSchedule({ kind: 'interval', everyMs: 900_000, startAt: new Date('2030-01-01T00:00:00Z') }), 'Every 15m from 2030-01-01 00:00:00 UTC');
  assert.equal(describeSchedule({ kind: 'once', at: new Date('2030-01-01T10:00:00Z') }), 'Once, at 2030-01-01 10:00:00 UTC');
  assert.equal(describeSchedule({ kind: 'manual' }), 'Manual: runs only when triggered');
});
