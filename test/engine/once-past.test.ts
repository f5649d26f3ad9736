/**
 * Issue #14, item 15: a one-time job whose time has passed when it is defined fires once, at once,
 * through every API (migration 0031, in store_job); `at` is kept as given. Before, it fired only
 * when the time was within max_lateness and was otherwise dropped, with the past time shown as
 * its next run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { drain, TestClock, fireSchedules } from '../../src/testing/index.js';

const db = await fixture();
const s = `"${db.schema}"`;

test('schedule({ at }) three days in the past: next run now, fires once, a re-declaration does not fire it again', async () => {
  const clock = new TestClock('2032-01-10T12:00:00Z');
  let runs = 0;
  const kairos = db.node({ clock, tasks: { once: () => void runs++ } });
  const at = '2032-01-07T12:00:00Z';
  const job = await kairos.schedule({ name: 'late-once', task: 'once', at });
  assert.equal(job.nextRun?.toISOString(), '2032-01-10T12:00:00.000Z');
  assert.equal(job.schedule.kind === 'once' && job.schedule.at.toISOString(), '2032-01-07T12:00:00.000Z', 'at is kept as given');
  await fireSchedules(kairos);
  await drain(kairos);
  assert.equal(runs, 1);
  clock.set('2032-01-10T12:05:00Z');
  await kairos.schedule({ name: 'late-once', task: 'once', at });
  await fireSchedules(kairos);
  await drain(kairos);
  assert.equal(runs, 1, 'a replica re-declaring it does not run it again');
});

test('the SQL API: define_job(at => past) and add_job with a past start_time alone get now as their next run', async () => {
  const { rows } = await db.pool.query(`SELECT next_run, now() AS db_now FROM ${s}.define_job('sql-late-once', 'SELECT 1', at => now() - interval '3 days')`);
  assert.equal(rows[0].next_run.getTime(), rows[0].db_now.getTime());
  await db.pool.query(`SELECT ${s}.add_job('seed-late-once', 'sql', 'SELECT 1', NULL, now() - interval '2 days')`);
  const seed = await db.pool.query(`SELECT next_run, schedule_kind, schedule_time < now() - interval '1 day' AS kept FROM ${s}.jobs WHERE job_name = 'seed-late-once'`);
  assert.equal(seed.rows[0].schedule_kind, 'once');
  assert.equal(seed.rows[0].kept, true, 'its time is kept as given');
  assert.ok(Math.abs(seed.rows[0].next_run.getTime() - Date.now()) < 60_000, 'next run is now');
});

test('a one-time job in the future keeps its time', async () => {
  const { rows } = await db.pool.query(`SELECT next_run = now() + interval '1 hour' AS same FROM ${s}.define_job('sql-future-once', 'SELECT 1', at => now() + interval '1 hour')`);
  assert.equal(rows[0].same, true);
});
