/**
 * Helpers shared by the tests that compare the SQL cron functions (sql/migrations/0003_cron.sql)
 * with the TypeScript implementation (src/core/cron.ts): test/core/cron-sql.test.ts on
 * hand-picked cases, test/core/cron-property.test.ts on random ones.
 */
import assert from 'node:assert/strict';

import type { CronSchedule } from '../../src/core/cron.js';
import type { Fixture } from '../helpers.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** One question for both implementations: the first fire time strictly after `after`. */
export interface Probe {
  expression: string;
  timezone: string;
  after: number;
}

export const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? String(ms) : new Date(ms).toISOString());

/** The comparisons, bound to a test file's schema. */
export function comparer(db: Pick<Fixture, 'pool' | 'schema'>) {
  const fn = (name: string) => `"${db.schema}".${name}`;

  /** cron_next for many probes in one round trip, as epoch milliseconds (null for NULL). */
  async function sqlNext(probes: readonly Probe[]): Promise<Array<number | null>> {
    const result = await db.pool.query<{ next: Date | null }>(
      `SELECT ${fn('cron_next')}(e, z, a::timestamptz) AS next
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS p(e, z, a, n) ORDER BY n`,
      [probes.map((p) => p.expression), probes.map((p) => p.timezone), probes.map((p) => new Date(p.after).toISOString())],
    );
    return result.rows.map((row) => row.next?.getTime() ?? null);
  }

  /** Compare SQL with `expected` (TypeScript) for every probe, in batches; report every mismatch. */
  async function assertSameNext(probes: readonly Probe[], expected: ReadonlyArray<number | null>): Promise<void> {
    const mismatches: string[] = [];
    for (let i = 0; i < probes.length; i += 2000) {
      const batch = probes.slice(i, i + 2000);
      const actual = await sqlNext(batch);
      batch.forEach((probe, j) => {
        const want = expected[i + j] ?? null;
        if (actual[j] !== want) {
          mismatches.push(`${JSON.stringify(probe.expression)} in ${probe.timezone} after ${iso(probe.after)}: SQL ${iso(actual[j])}, TypeScript ${iso(want)}`);
        }
      });
    }
    assert.deepEqual(mismatches.slice(0, 25), [], `${mismatches.length} of ${probes.length} probes differ`);
  }

  return { fn, sqlNext, assertSameNext };
}

/**
 * Chain `count` occurrences in TypeScript from `from` and ask SQL for each step: SQL's next of
 * every occurrence must be TypeScript's following occurrence (the first from `from` itself).
 */
export function chain(schedule: CronSchedule, expression: string, timezone: string, from: number, count: number, probes: Probe[], expected: Array<number | null>): void {
  let cursor = from;
  for (let i = 0; i < count; i++) {
    const next = schedule.next(new Date(cursor))?.getTime() ?? null;
    probes.push({ expression, timezone, after: cursor });
    expected.push(next);
    if (next === null) return;
    cursor = next;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The UTC offset of `timezone` at `ms` according to Intl, in milliseconds (wall clock minus UTC, whole seconds). */
export function utcOffset(timezone: string, ms: number): number {
  let format = formatters.get(timezone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timezone, format);
  }
  const parts = new Map<string, number>(format.formatToParts(ms).map((p) => [p.type, Number(p.value)]));
  const f = (type: string) => parts.get(type) ?? 0;
  const wall = new Date(0);
  wall.setUTCFullYear(f('year'), f('month') - 1, f('day'));
  wall.setUTCHours(f('hour'), f('minute'), f('second'));
  return wall.getTime() - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The instants in [from, to) where `timezone`'s UTC offset changes, to the second, sampling
 * every `step` (a change back within one step goes unseen).
 */
export function transitions(timezone: string, from: number, to: number, step = DAY): number[] {
  const offset = (ms: number) => utcOffset(timezone, ms);
  const found: number[] = [];
  let before = offset(from);
  for (let t = from; t < to; t += step) {
    const after = offset(t + step);
    if (before === after) continue;
    let low = t;
    let high = t + step;
    while (high - low > 1000) {
      const middle = low + Math.floor((high - low) / 2000) * 1000;
      if (offset(middle) === before) low = middle;
      else high = middle;
    }
    found.push(high);
    before = after;
  }
  return found;
}
