/**
 * Issue #14, item 9: redefining a job resets its failure count (seed 000: add_or_update_job zeroes
 * the attempts), whichever API writes the new definition; re-declaring the same definition (a
 * replica starting) keeps it, and so does disabling. Before migration 0026 every path kept it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';

const db = await fixture();
const s = `"${db.schema}"`;
const failures = async (name: string): Promise<number> =>
  (await db.pool.query<{ n: number }>(`SELECT current_attempts AS n FROM ${s}.jobs WHERE job_name = $1`, [name])).rows[0]!.n;
/** Two consecutive failed attempts, as the completer records them. */
const failTwice = (name: string) => db.pool.query(`UPDATE ${s}.jobs SET current_attempts = 2, last_status = false WHERE job_name = $1`, [name]);

test('add_or_update_job with a new command zeroes the consecutive failures (seed 000)', async () => {
  await db.pool.query(`SELECT ${s}.add_or_update_job('nightly-sql', 'sql', 'SELECT 1/0', '1 hour', NULL, 3)`);
  await failTwice('nightly-sql');
  const same = await db.pool.query(`SELECT ${s}.add_or_update_job('nightly-sql', 'sql', 'SELECT 1/0', '1 hour', NULL, 3) AS r`);
  assert.equal(same.rows[0].r, 'updated');
  assert.equal(await failures('nightly-sql'), 2, 'the same definition again keeps the count');
  const fixed = await db.pool.query(`SELECT ${s}.add_or_update_job('nightly-sql', 'sql', 'SELECT 1', '1 hour', NULL, 3) AS r`);
  assert.equal(fixed.rows[0].r, 'updated');
  assert.equal(await failures('nightly-sql'), 0);
});

test('schedule() with a changed definition zeroes them; the same declaration and disable() keep them', async () => {
  const kairos = db.node({ tasks: { report: () => undefined, report2: () => undefined } });
  await kairos.schedule({ name: 'ts-job', task: 'report', cron: '0 * * * *', disableAfterFailures: 3 });
  await failTwice('ts-job');
  await kairos.schedule({ name: 'ts-job', task: 'report', cron: '0 * * * *', disableAfterFailures: 3 });
  assert.equal(await failures('ts-job'), 2, 'a replica re-declaring the same job keeps the count');
  await kairos.disable('ts-job');
  assert.equal(await failures('ts-job'), 2, 'disabling keeps it for the operator to see');
  await db.pool.query(`UPDATE ${s}.jobs SET enabled = true WHERE job_name = 'ts-job'`);
  await kairos.schedule({ name: 'ts-job', task: 'report2', cron: '0 * * * *', disableAfterFailures: 3 });
  assert.equal(await failures('ts-job'), 0);
});

test('define_job and a direct UPDATE of the definition zero them too; engine bookkeeping does not', async () => {
  await db.pool.query(`SELECT ${s}.define_job('sql-def', 'SELECT 1/0', cron => ARRAY['0 * * * *'], max_attempts => 5)`);
  await failTwice('sql-def');
  await db.pool.query(`UPDATE ${s}.jobs SET last_run = now(), next_run = now() + interval '1 hour', run_count = run_count + 1 WHERE job_name = 'sql-def'`);
  assert.equal(await failures('sql-def'), 2);
  await db.pool.query(`SELECT ${s}.define_job('sql-def', 'SELECT 2', cron => ARRAY['0 * * * *'], max_attempts => 5)`);
  assert.equal(await failures('sql-def'), 0);
  await failTwice('sql-def');
  await db.pool.query(`UPDATE ${s}.jobs SET timeout_ms = 5000 WHERE job_name = 'sql-def'`);
  assert.equal(await failures('sql-def'), 0);
});
