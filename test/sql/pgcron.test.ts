import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture, eventually, nextPass } from '../helpers.js';
import { migrate } from '../../src/index.js';
import { parseCron } from '../../src/core/cron.js';
import { waitForRun } from '../../src/testing/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();
const s = `"${db.schema}"`;

test('pg_cron-style schedule, alter_job, unschedule and preview', async () => {
  const id = (await db.pool.query(`SELECT ${s}.schedule('vacuum-nightly', '0 3 * * *', 'VACUUM') AS id`)).rows[0].id;
  let job = (await db.pool.query(`SELECT * FROM ${s}.jobs WHERE job_id = $1`, [id])).rows[0];
  assert.equal(job.cron, '0 3 * * *');
  assert.equal(job.next_run.toISOString(), parseCron('0 3 * * *').next(new Date())!.toISOString());
  const again = (await db.pool.query(`SELECT ${s}.schedule('vacuum-nightly', '30 4 * * *', 'VACUUM ANALYZE') AS id`)).rows[0].id;
  assert.equal(Number(again), Number(id), 'same name: updated, as pg_cron does');
  await db.pool.query(`SELECT ${s}.alter_job($1, schedule => '10 seconds', active => false)`, [id]);
  job = (await db.pool.query(`SELECT * FROM ${s}.jobs WHERE job_id = $1`, [id])).rows[0];
  assert.deepEqual([job.schedule_kind, job.schedule_interval.seconds, job.enabled, job.command], ['interval', 10, false, 'VACUUM ANALYZE']);
  const unnamed = (await db.pool.query(`SELECT ${s}.schedule('*/5 * * * *', 'SELECT 1') AS id`)).rows[0].id;
  assert.ok(Number(unnamed) > 0);
  const inDb = (await db.pool.query(`SELECT ${s}.schedule_in_database('elsewhere', '@hourly', 'SELECT 1', 'postgres', current_user, false) AS id`)).rows[0].id;
  assert.equal((await db.pool.query(`SELECT database_name, enabled FROM ${s}.jobs WHERE job_id = $1`, [inDb])).rows[0].database_name, 'postgres');
  const preview = await db.pool.query(`SELECT * FROM ${s}.preview('0 9 * * MON-FRI', 'America/New_York', 3)`);
  assert.deepEqual(preview.rows.map((r) => Object.values(r)[0]), [0, 1, 2].reduce<Date[]>((acc) => [...acc, parseCron('0 9 * * MON-FRI', 'America/New_York').next(acc.at(-1) ?? new Date())!], []));
  assert.equal((await db.pool.query(`SELECT ${s}.unschedule('vacuum-nightly') AS ok`)).rows[0].ok, true);
  assert.equal((await db.pool.query(`SELECT ${s}.unschedule($1::bigint) AS ok`, [unnamed])).rows[0].ok, true);
  await assert.rejects(db.pool.query(`SELECT ${s}.unschedule('vacuum-nightly')`), /no job named/);
  await assert.rejects(db.pool.query(`SELECT ${s}.schedule('bad', '61 * * * *', 'SELECT 1')`), /minute/);
  await assert.rejects(db.pool.query(`SELECT ${s}.schedule('bad', '0 seconds', 'SELECT 1')`), /1-59 seconds/);
  assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM ${s}.jobs WHERE job_name = 'bad'`)).rows[0].n, 0);
});

test('a job defined in SQL reaches a running agent at once (NOTIFY), not at the next poll', async () => {
  await db.pool.query(`CREATE TABLE public.notify_${db.schema} (at timestamptz)`);
  try {
    const agent = db.node({ runSqlJobs: true, pollInterval: 60_000 });
    // The start-up passes over (they found no job), only a NOTIFY can bring the job before the poll.
    const startup = Promise.all([nextPass(internals(agent).services.ticker), nextPass(internals(agent).services.producer)]);
    await agent.start();
    await startup;
    const started = Date.now();
    await db.pool.query(`SELECT * FROM ${s}.define_job('soon', 'INSERT INTO public.notify_${db.schema} VALUES (now())', at => now() + interval '300 milliseconds')`);
    await eventually(async () => (await db.pool.query(`SELECT count(*)::int AS n FROM public.notify_${db.schema}`)).rows[0].n === 1, { what: 'the job to run' });
    assert.ok(Date.now() - started < 5000, 'ran long before the 60 s poll');
    const runId = (await db.pool.query(`SELECT ${s}.trigger_job('soon') AS id`)).rows[0].id;
    await waitForRun(agent, Number(runId));
    await agent.stop();
  } finally {
    await db.pool.query(`DROP TABLE public.notify_${db.schema}`);
  }
});

test('an installer who may not create roles gets a notice, not an error', async () => {
  const tag = randomBytes(3).toString('hex');
  const installer = `installer_${tag}`;
  const database = (await db.pool.query('SELECT current_database() AS d')).rows[0].d as string;
  await db.pool.query(`CREATE ROLE ${installer} LOGIN PASSWORD 'pw' NOCREATEROLE; GRANT CREATE ON DATABASE "${database}" TO ${installer}`);
  const url = new URL(db.connectionString);
  url.username = installer;
  url.password = 'pw';
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  const notices: string[] = [];
  pool.on('connect', (client) => client.on('notice', (n) => notices.push(n.message ?? '')));
  try {
    const result = await migrate(pool, `inst_${tag}`, { roles: { scheduler: `sched_${tag}`, monitor: `mon_${tag}`, shell: `sh_${tag}` } });
    assert.ok(result.version >= 4);
    assert.ok(notices.some((n) => n.includes(`role sched_${tag} does not exist`) && n.includes('may not create roles')), notices.join('\n'));
    const roles = await db.pool.query('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', [`sched_${tag}`]);
    assert.equal(roles.rows[0].n, 0);
  } finally {
    await pool.end();
    await db.pool.query(`DROP SCHEMA IF EXISTS inst_${tag} CASCADE; REVOKE CREATE ON DATABASE "${database}" FROM ${installer}; DROP OWNED BY ${installer}; DROP ROLE ${installer}`);
  }
});

test('a job with several crontab lines (elephant_worker schedule arrays) fires on the union', async () => {
  const { TestClock, drain } = await import('../../src/testing/index.js');
  const row = (await db.pool.query(`SELECT * FROM ${s}.insert_job('SELECT 1', current_catalog, '{"0 6 * * *","30 18 * * *"}')`)).rows[0];
  const clock = new TestClock(new Date(row.next_run.getTime() + 1000));
  const agent = db.node({ clock, runSqlJobs: true });
  await internals(agent).services.ticker.materialise();
  assert.equal(await drain(agent), 1);
  const next = (await db.pool.query(`SELECT next_run FROM ${s}.jobs WHERE job_id = $1`, [row.job_id])).rows[0].next_run as Date;
  const sqlNext = (await db.pool.query(`SELECT ${s}.cron_next($1, 'UTC', $2) AS n`, [row.cron, row.next_run])).rows[0].n as Date;
  assert.equal(next.toISOString(), sqlNext.toISOString(), 'TypeScript and SQL agree on the union');
  assert.ok([6, 18].includes(next.getUTCHours()));
});
