/**
 * Issue #14, item 10: a disabled job has no next run (seed 000: disabled → next_run NULL; enabling
 * computes it again), whichever way it was disabled: the TypeScript disable(), the SQL API's
 * toggle_job, a job disabling itself after its failure limit, a tenant's own UPDATE, a definition
 * written disabled. Before migration 0025 every one of these kept next_run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();
const s = `"${db.schema}"`;
const nextRun = async (name: string): Promise<Date | null> =>
  (await db.pool.query<{ next_run: Date | null }>(`SELECT next_run FROM ${s}.jobs WHERE job_name = $1`, [name])).rows[0]!.next_run;

test('disable() clears next_run and enable() plans it again from now', async () => {
  const clock = new TestClock('2031-03-01T00:00:00Z');
  const kairos = db.node({ clock, tasks: { noop: () => undefined } });
  await kairos.schedule({ name: 'ts-disable', task: 'noop', cron: '0 * * * *' });
  assert.ok(await nextRun('ts-disable'));
  const disabled = await kairos.disable('ts-disable');
  assert.equal(disabled.nextRun, null);
  assert.equal(await nextRun('ts-disable'), null);
  clock.set('2031-03-01T05:30:00Z');
  const enabled = await kairos.enable('ts-disable');
  assert.equal(enabled.nextRun?.toISOString(), '2031-03-01T06:00:00.000Z');
});

test("toggle_job(…, false) clears next_run; toggle_job(…, true) on an interval job without a start anchors it at creation", async () => {
  await db.pool.query(`SELECT ${s}.add_job('sql-toggle', 'sql', 'SELECT 1', '1 hour')`);
  assert.ok(await nextRun('sql-toggle'));
  await db.pool.query(`SELECT ${s}.toggle_job('sql-toggle', false)`);
  assert.equal(await nextRun('sql-toggle'), null);
  // An interval row written without schedule_time (a tenant's INSERT, an older API) still gets one.
  await db.pool.query(`UPDATE ${s}.jobs SET schedule_time = NULL WHERE job_name = 'sql-toggle'`);
  await db.pool.query(`SELECT ${s}.toggle_job('sql-toggle', true)`);
  const next = await nextRun('sql-toggle');
  assert.ok(next, 'enabling an interval job without schedule_time plans it');
  assert.ok(next.getTime() > Date.now() - 1000 && next.getTime() <= Date.now() + 3_600_000 + 1000);
});

test('a job that disables itself after its failure limit has no next run', async () => {
  const kairos = db.node({ tasks: { boom: () => { throw new Error('boom'); } } });
  await kairos.schedule({ name: 'self-disable', task: 'boom', every: '1h', disableAfterFailures: 1 });
  await kairos.trigger('self-disable');
  await drain(kairos);
  await internals(kairos).services.completer.drain();
  const job = await kairos.getJob('self-disable');
  assert.equal(job?.enabled, false);
  assert.equal(job?.nextRun, null);
});

test('a direct UPDATE and a definition written disabled keep no next run either', async () => {
  await db.pool.query(`SELECT ${s}.add_job('direct', 'sql', 'SELECT 1', '1 hour')`);
  await db.pool.query(`UPDATE ${s}.jobs SET enabled = false WHERE job_name = 'direct'`);
  assert.equal(await nextRun('direct'), null);
  // Writing next_run on a disabled row does not bring it back.
  await db.pool.query(`UPDATE ${s}.jobs SET next_run = now() WHERE job_name = 'direct'`);
  assert.equal(await nextRun('direct'), null);
  const kairos = db.node({ tasks: { noop: () => undefined } });
  const job = await kairos.schedule({ name: 'born-disabled', task: 'noop', cron: '* * * * *', enabled: false });
  assert.equal(job.nextRun, null);
  await db.pool.query(`SELECT ${s}.define_job('sql-born-disabled', 'SELECT 1', cron => ARRAY['* * * * *'], enabled => false)`);
  assert.equal(await nextRun('sql-born-disabled'), null);
});

test('enabling by a statement that does not plan (a direct UPDATE, update_job, alter_job) lets the ticker plan it from now', async () => {
  const clock = new TestClock('2031-05-01T10:20:00Z');
  const kairos = db.node({ clock, tasks: { noop: () => undefined } });
  await kairos.schedule({ name: 'reenabled', task: 'noop', cron: '0 * * * *' });
  await kairos.disable('reenabled');
  await db.pool.query(`UPDATE ${s}.jobs SET enabled = true WHERE job_name = 'reenabled'`);
  const { rows } = await db.pool.query(`SELECT planned FROM ${s}.jobs WHERE job_name = 'reenabled'`);
  assert.equal(rows[0].planned, false, 'left for the ticker');
  await internals(kairos).services.ticker.materialise();
  assert.equal((await nextRun('reenabled'))?.toISOString(), '2031-05-01T11:00:00.000Z');
});
