/**
 * Every SQL example of the pg_scheduler (000) and elephant_worker (003) READMEs, run as written
 * against an installation in the schema `scheduler`, with the observable results checked.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { migrate } from '../../src/index.js';
import { drain } from '../../src/testing/index.js';
import { Kairos } from '../../src/index.js';
import { silentLogger } from '../../src/testing/index.js';
import { internals } from '../../src/api/internals.js';

const url = process.env.DATABASE_URL!;
let pool: pg.Pool;

before(async () => {
  pool = new pg.Pool({ connectionString: url, max: 4 });
  await pool.query('DROP SCHEMA IF EXISTS scheduler CASCADE');
  await migrate(pool, 'scheduler');
  await pool.query('DROP TABLE IF EXISTS public.audit_logs');
  await pool.query(`CREATE TABLE public.audit_logs (id serial, created_at timestamptz NOT NULL)`);
  await pool.query(`INSERT INTO public.audit_logs (created_at) VALUES (now() - interval '40 days'), (now() - interval '31 days'), (now())`);
});
after(async () => {
  await pool.query('DROP SCHEMA IF EXISTS scheduler CASCADE');
  await pool.query('DROP TABLE IF EXISTS public.audit_logs, public.order_archive');
  await pool.end();
});

test("pg_scheduler's README: add, toggle, delete, inspect", async () => {
  const added = await pool.query(`
SELECT scheduler.add_job(
    'cleanup_old_records',
    'sql',
    $$DELETE FROM audit_logs WHERE created_at < NOW() - INTERVAL '30 days'$$,
    '1 day',        -- run every day
    '2025-07-09 00:00:00+00', -- time to start
    3               -- retry up to 3 times on failure
);`);
  assert.equal(added.rows[0].add_job, 'created');
  const oneTime = await pool.query(`
SELECT scheduler.add_job(
    'notify_backup',
    'shell',
    'echo Backup completed | mail -s "Backup" admin@example.com',
    NULL,
    '2025-07-10 15:30:00+00'
);`);
  assert.equal(oneTime.rows[0].add_job, 'created');

  // The recurring job stays on its grid (midnight UTC), whatever time it is now.
  const cleanup = (await pool.query("SELECT * FROM scheduler.jobs WHERE job_name = 'cleanup_old_records'")).rows[0];
  assert.equal(cleanup.next_run.getUTCHours(), 0);
  assert.equal(cleanup.next_run.getUTCMinutes(), 0);
  assert.ok(cleanup.next_run > new Date() && cleanup.next_run.getTime() - Date.now() <= 86_400_000);
  assert.equal(cleanup.max_attempts, 3);
  const backup = (await pool.query("SELECT * FROM scheduler.jobs WHERE job_name = 'notify_backup'")).rows[0];
  // Its time (2025) has passed: it fires once, at once (migration 0031); the time is kept as given.
  assert.equal(backup.schedule_time.toISOString(), '2025-07-10T15:30:00.000Z');
  assert.ok(Math.abs(backup.next_run.getTime() - Date.now()) < 60_000, 'a one-time job in the past runs at once');
  assert.equal(backup.job_type, 'shell');

  // An upsert of the same name updates it.
  const again = await pool.query(`SELECT scheduler.add_or_update_job('cleanup_old_records', 'sql', $$DELETE FROM audit_logs WHERE created_at < NOW() - INTERVAL '30 days'$$, '12 hours', '2025-07-09 00:00:00+00', 3)`);
  assert.equal(again.rows[0].add_or_update_job, 'updated');

  await pool.query(`SELECT scheduler.toggle_job('cleanup_old_records', FALSE);`);
  assert.equal((await pool.query("SELECT enabled FROM scheduler.jobs WHERE job_name = 'cleanup_old_records'")).rows[0].enabled, false);
  await pool.query(`SELECT scheduler.delete_job('notify_backup');`);
  assert.equal((await pool.query("SELECT count(*)::int AS n FROM scheduler.jobs WHERE job_name = 'notify_backup'")).rows[0].n, 0);

  const listed = await pool.query(`
-- List all jobs and statuses
SELECT job_id, job_name, enabled, next_run, last_status
FROM scheduler.jobs
ORDER BY next_run;`);
  assert.deepEqual(listed.rows.map((r) => [r.job_name, r.enabled, r.last_status]), [['cleanup_old_records', false, null]]);

  // Run it (manually, as pg_scheduler's execute_job does), then read its history as the README does.
  await pool.query(`SELECT scheduler.toggle_job('cleanup_old_records', TRUE)`);
  await pool.query(`SELECT scheduler.execute_job(job_id) FROM scheduler.jobs WHERE job_name = 'cleanup_old_records'`);
  const history = await pool.query(`
-- View execution history for a job
SELECT run_time, status, duration, message
FROM scheduler.job_logs
WHERE job_id = (SELECT job_id FROM scheduler.jobs WHERE job_name = 'cleanup_old_records')
ORDER BY run_time DESC;`);
  assert.equal(history.rows.length, 1);
  assert.equal(history.rows[0].status, 'completed');
  assert.equal(history.rows[0].message, 'Success');
  assert.equal((await pool.query('SELECT count(*)::int AS n FROM public.audit_logs')).rows[0].n, 1, 'the two old rows were deleted');
});

test('pg_scheduler promises, not bugs: one-shot runs once, re-enabling resets the failure count, failures disable', async () => {
  await pool.query(`SELECT scheduler.add_job('fails', 'sql', 'SELECT 1/0', '1 hour', now(), 2)`);
  const job = (await pool.query("SELECT job_id FROM scheduler.jobs WHERE job_name = 'fails'")).rows[0].job_id;
  await pool.query('SELECT scheduler.execute_job($1)', [job]);
  await pool.query('SELECT scheduler.execute_job($1)', [job]);
  let row = (await pool.query('SELECT enabled, current_attempts, last_status, last_message FROM scheduler.jobs WHERE job_id = $1', [job])).rows[0];
  assert.deepEqual(row, { enabled: false, current_attempts: 2, last_status: false, last_message: 'division by zero' });
  await pool.query(`SELECT scheduler.toggle_job('fails', true)`);
  row = (await pool.query('SELECT enabled, current_attempts FROM scheduler.jobs WHERE job_id = $1', [job])).rows[0];
  assert.deepEqual(row, { enabled: true, current_attempts: 0 });

  // A one-shot SQL job run by an agent runs once, then never again.
  await pool.query(`CREATE TABLE IF NOT EXISTS public.order_archive (o_closed timestamptz)`);
  await pool.query(`SELECT scheduler.add_job('one-shot', 'sql', 'INSERT INTO public.order_archive VALUES (now())', NULL, now() - interval '1 minute')`);
  const agent = new Kairos({ connectionString: url, schema: 'scheduler', runSqlJobs: true, logger: silentLogger, migrate: false });
  for (let i = 0; i < 3; i++) {
    await internals(agent).services.ticker.materialise();
    await drain(agent);
  }
  assert.equal((await pool.query('SELECT count(*)::int AS n FROM public.order_archive')).rows[0].n, 1);
  const oneShot = (await pool.query("SELECT next_run, last_status, run_count FROM scheduler.jobs WHERE job_name = 'one-shot'")).rows[0];
  assert.deepEqual(oneShot, { next_run: null, last_status: true, run_count: 1 });
  await agent.stop();
});

test("elephant_worker's README: insert_job, update_job, delete_job and the views", async () => {
  await pool.query('CREATE TABLE IF NOT EXISTS public.order_archive (o_closed timestamptz)');
  await pool.query('DROP DATABASE IF EXISTS weborder');
  await pool.query('CREATE DATABASE weborder');
  try {
    const client = await pool.connect();
    try {
      await client.query('SET search_path = scheduler, public');
      await client.query(`SELECT insert_job('SELECT 1', current_catalog);`);
      const first = await client.query(`SELECT schedule_kind, owner = current_user AS mine FROM my_job WHERE command = 'SELECT 1'`);
      assert.deepEqual(first.rows, [{ schedule_kind: 'manual', mine: true }]);
      // The README's second example, with its quoting mended (as written it is not valid SQL:
      // the inner 'interval ''2 weeks''' must be doubled).
      const second = await client.query(`
SELECT *
  FROM insert_job(job_command := 'DELETE FROM order_archive WHERE o_closed < now() - interval ''2 weeks''',
                  datname     := 'weborder',
                  schedule    := '{"@daily"}'
                 );`);
      assert.equal(second.rows[0].database_name, 'weborder');
      assert.equal(second.rows[0].cron, '@daily');
      const daily = second.rows[0].next_run as Date;
      assert.equal(daily.getUTCHours(), 0, 'next_run filled in the same statement');
      const id = second.rows[0].job_id;
      const updated = await client.query(`SELECT update_job($1, job_description := 'Testing a job scheduler');`, [id]);
      assert.equal(updated.rowCount, 1);
      assert.equal((await client.query('SELECT description FROM my_job WHERE job_id = $1', [id])).rows[0].description, 'Testing a job scheduler');
      const disabled = await client.query(`SELECT * FROM update_job($1, enabled := false);`, [id]);
      assert.equal(disabled.rows[0].enabled, false);
      await client.query(`SELECT update_job($1, job_description := 'Temporary workaround');`, [id]);
      const deleted = await client.query(`
SELECT delete(job_id)
  FROM my_job
 WHERE job_description = 'Temporary workaround';`);
      assert.equal(deleted.rowCount, 1);
      assert.equal((await client.query('SELECT count(*)::int AS n FROM member_job WHERE job_id = $1', [id])).rows[0].n, 0);
      const byId = (await client.query("SELECT job_id FROM member_job WHERE command = 'SELECT 1'")).rows[0].job_id;
      const gone = await client.query(`SELECT * FROM delete_job(${Number(byId)});`);
      assert.equal(gone.rows[0].command, 'SELECT 1');
    } finally {
      client.release();
    }
  } finally {
    await pool.query('DROP DATABASE IF EXISTS weborder WITH (FORCE)');
  }
});
