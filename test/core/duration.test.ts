import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { KairosValidationError } from '../../src/core/errors.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Assert that parsing throws a KairosValidationError for `field` whose message matches `pattern`. */
function assertRefused(input: unknown, pattern: RegExp, options?: { minMs?: number; maxMs?: number }): void {
  assert.throws(
    () => parseDuration(input, 'every', options),
    (error: unknown) => {
      assert.ok(error instanceof KairosValidationError, 'a KairosValidationError');
      assert.equal(error.field, 'every');
      assert.match(error.message, /^Expected `every` to be /);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('parseDuration', () => {
  const accepted: Array<[unknown, number]> = [
    [1500, 1500],
    [1, 1],
    ['500ms', 500],
    ['15s', 15 * SECOND],
    ['15m', 15 * MINUTE],
    ['2h', 2 * HOUR],
    ['1d', DAY],
    ['1w', 7 * DAY],
    ['1h30m', 90 * MINUTE],
    ['1h 30m', 90 * MINUTE],
    ['1d2h3m4s5ms', DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND + 5],
    ['1.5h', 90 * MINUTE],
    ['1.1h', 66 * MINUTE],
    ['  15M ', 15 * MINUTE],
    ['PT15M', 15 * MINUTE],
    ['P1D', DAY],
    ['P1DT2H', DAY + 2 * HOUR],
    ['PT1M30S', 90 * SECOND],
    ['pt1.5s', 1500],
    ['P2W', 14 * DAY],
    ['15 minutes', 15 * MINUTE],
    ['1 day', DAY],
    ['2 hours 30 minutes', 150 * MINUTE],
    ['1 min', MINUTE],
    ['10 secs', 10 * SECOND],
    ['3 hrs', 3 * HOUR],
    ['250 milliseconds', 250],
    ['2 weeks', 14 * DAY],
    ['00:15:00', 15 * MINUTE],
    ['01:30', 90 * MINUTE],
    ['00:00:01.5', 1500],
    ['1 day 02:00:00', DAY + 2 * HOUR],
  ];
  for (const [input, expected] of accepted) {
    test(`parses ${JSON.stringify(input)} as ${expected} ms`, () => {
      assert.equal(parseDuration(input, 'every'), expected);
    });
  }

  test('refuses months and years, saying they have no fixed length', () => {
    for (const input of ['1 month', '2 mons', '1 mon', '1y', '1 year', 'P1M', 'P1Y', 'P1Y2M3D']) {
      assertRefused(input, /months and years have no fixed length/);
    }
    // After the T, ISO 8601's M means minutes.
    assert.equal(parseDuration('PT1M', 'every'), MINUTE);
  });

  test('refuses numbers that are not positive whole milliseconds', () => {
    assertRefused(0, /must be positive/);
    assertRefused('0s', /must be positive/);
    assertRefused(-5, /must not be negative/);
    assertRefused(1.5, /whole number of milliseconds/);
    assertRefused(Number.NaN, /got number NaN/);
    assertRefused(Number.POSITIVE_INFINITY, /got number Infinity/);
    assertRefused(1e300, /too large/);
    assertRefused('0.5ms', /whole number of milliseconds/);
  });

  test('refuses strings that are not durations, quoting them', () => {
    assertRefused('', /got ""/);
    assertRefused('   ', /got " {3}"/);
    assertRefused('15', /needs a unit/);
    assertRefused('-5m', /got "-5m"/);
    assertRefused('15 fortnights', /unknown unit "fortnights"/);
    assertRefused('1h,30m', /got "1h,30m"/);
    assertRefused('P', /got "P"/);
    assertRefused('PT', /got "PT"/);
    assertRefused('P1DT', /got "P1DT"/);
    assertRefused('1:2:3', /hh:mm:ss/);
    assertRefused('12:60:00', /hh:mm:ss/);
  });

  test('refuses values of other types', () => {
    assertRefused(null, /got null/);
    assertRefused(undefined, /got undefined/);
    assertRefused({}, /got an object/);
    assertRefused(true, /got boolean true/);
    assertRefused(new Date(0), /got Date/);
  });

  test('applies minMs and maxMs inclusively, naming the bound', () => {
    assert.equal(parseDuration('1s', 'every', { minMs: 1000 }), 1000);
    assert.equal(parseDuration('1d', 'every', { maxMs: DAY }), DAY);
    assertRefused('500ms', /to be at least 1s, got "500ms"/, { minMs: 1000 });
    assertRefused('2d', /to be at most 1d, got "2d"/, { maxMs: DAY });
  });

  test('allows zero only when minMs opts in', () => {
    assert.equal(parseDuration(0, 'every', { minMs: 0 }), 0);
    assert.equal(parseDuration('0s', 'every', { minMs: 0 }), 0);
    assert.equal(parseDuration('00:00:00', 'every', { minMs: 0 }), 0);
    assertRefused(-1, /must not be negative/, { minMs: 0 });
  });
});

describe('formatDuration', () => {
  test('formats compactly, largest unit first', () => {
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(3_600_000), '1h');
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(0), '0ms');
    assert.equal(formatDuration(DAY + HOUR + MINUTE + SECOND + 1), '1d1h1m1s1ms');
    assert.equal(formatDuration(7 * DAY), '7d');
    assert.equal(formatDuration(-1500), '-1s500ms');
  });

  test('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1000, 61_001, 90_000, 3_600_000, DAY + 5, 400 * DAY + 7]) {
      assert.equal(parseDuration(formatDuration(ms), 'every'), ms);
    }
  });
});
