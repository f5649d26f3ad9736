/**
 * Issue #13, "one owner per rule": a job definition is stored by store_job (migration 0020), which
 * schedule() (the TypeScript API) and define_job / add_or_update_job / schedule_in_database (the
 * SQL API) all call. An unchanged schedule keeps next_run and run_count (and an interval declared
 * without an anchor keeps its first anchor), so that replicas and deploy scripts re-declaring a
 * job never move it; a changed schedule, or a quarantined job, starts afresh; both APIs write the
 * same row; tenants keep to their own jobs.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture } from '../helpers.js';

const db = await fixture();
const s = `"${db.schema}"`;
const tag = randomBytes(3).toString('hex');
const dana = `dana_${tag}`;
const erin = `erin_${tag}`;
await db.pool.query(`CREATE ROLE ${dana} NOLOGIN IN ROLE job_scheduler; CREATE ROLE ${erin} NOLOGIN IN ROLE job_scheduler`);
after(async () => {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  for (const role of [dana, erin]) await client.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
  await client.end();
});

/** Run one statement as `role` (SET ROLE in a session of its own). */
async function as(role: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = await db.pool.connect();
  try {
    await client.query(`SET ROLE ${role}`);
    return await client.query(sql, values);
  } finally {
    await client.query('RESET ROLE');
    client.release();
  }
}

interface Cursor { job_id: number; next_run: Date | null; run_count: number; schedule_time: Date | null; owner: string }
const cursor = async (name: string): Promise<Cursor> =>
  (await db.pool.query(`SELECT job_id, next_run, run_count, schedule_time, owner FROM ${s}.jobs WHERE job_name = $1`, [name])).rows[0] as Cursor;
/** What the ticker would have done after some fires: a later cursor and a count. */
const fired = (name: string, nextRun: string, runs: number) =>
  db.pool.query(`UPDATE ${s}.jobs SET next_run = $2, run_count = $3 WHERE job_name = $1`, [name, nextRun, runs]);
const define = (args: string, values: unknown[] = []) => db.pool.query(`SELECT * FROM ${s}.define_job(${args})`, values);

test('define_job twice with the same schedule keeps next_run and run_count; other columns are written', async () => {
  await define(`'dj-cron', 'SELECT 1', cron => '{0 3 * * *}', timezone => 'Europe/Paris'`);
  await fired('dj-cron', '2031-01-01T02:00:00Z', 7);
  const before = await cursor('dj-cron');
  await define(`'dj-cron', 'SELECT 2', cron => '{0 3 * * *}', timezone => 'Europe/Paris', description => 'deployed again'`);
  const after = await cursor('dj-cron');
  assert.deepEqual(after, before, 'same job, same cursor and count');
  const { rows } = await db.pool.query(`SELECT command, description FROM ${s}.jobs WHERE job_name = 'dj-cron'`);
  assert.deepEqual(rows[0], { command: 'SELECT 2', description: 'deployed again' });
});

test('an interval defined without start_at keeps its first anchor and cursor across redefinitions', async () => {
  await define(`'dj-every', 'SELECT 1', every => '1 hour'`);
  const first = await cursor('dj-every');
  assert.ok(first.schedule_time, 'anchored when created');
  await fired('dj-every', new Date(first.schedule_time!.getTime() + 3 * 3_600_000).toISOString(), 3);
  const moved = await cursor('dj-every');
  await new Promise((resolve) => setTimeout(resolve, 20));
  await define(`'dj-every', 'SELECT 1', every => '1 hour'`);
  assert.deepEqual(await cursor('dj-every'), moved);
  // add_or_update_job (pg_scheduler's) follows the same rule, and says which it did.
  const created = await db.pool.query(`SELECT ${s}.add_or_update_job('dj-pgs', 'sql', 'SELECT 1', '1 hour') AS r`);
  assert.equal(created.rows[0].r, 'created');
  await fired('dj-pgs', '2031-01-01T00:00:00Z', 2);
  const pgs = await cursor('dj-pgs');
  const updated = await db.pool.query(`SELECT ${s}.add_or_update_job('dj-pgs', 'sql', 'SELECT 2', '1 hour') AS r`);
  assert.equal(updated.rows[0].r, 'updated');
  assert.deepEqual(await cursor('dj-pgs'), pgs);
  // pg_cron's schedule() too.
  const id = (await db.pool.query(`SELECT ${s}.schedule('dj-cron-style', '*/5 * * * *', 'SELECT 1') AS id`)).rows[0].id;
  await fired('dj-cron-style', '2031-01-01T00:05:00Z', 4);
  const cronStyle = await cursor('dj-cron-style');
  assert.equal(Number((await db.pool.query(`SELECT ${s}.schedule('dj-cron-style', '*/5 * * * *', 'SELECT 2') AS id`)).rows[0].id), Number(id));
  assert.deepEqual(await cursor('dj-cron-style'), cronStyle);
});

test('a changed schedule, a new anchor or a quarantined job starts afresh', async () => {
  await define(`'dj-change', 'SELECT 1', cron => '{0 3 * * *}'`);
  await fired('dj-change', '2031-01-01T03:00:00Z', 5);
  await define(`'dj-change', 'SELECT 1', cron => '{30 3 * * *}'`);
  const changed = await cursor('dj-change');
  assert.equal(changed.run_count, 0);
  const expected = (await db.pool.query(`SELECT ${s}.api_cron_first('{30 3 * * *}', 'UTC') AS t`)).rows[0].t as Date;
  assert.equal(changed.next_run?.toISOString(), expected.toISOString(), 'the first occurrence of the new schedule');

  // An interval whose length changes is anchored again, at the time of the definition.
  await define(`'dj-every-change', 'SELECT 1', every => '1 hour'`);
  const old = await cursor('dj-every-change');
  await fired('dj-every-change', '2031-01-01T00:00:00Z', 2);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await define(`'dj-every-change', 'SELECT 1', every => '2 hours'`);
  const regridded = await cursor('dj-every-change');
  assert.equal(regridded.run_count, 0);
  assert.ok(regridded.schedule_time! > old.schedule_time!, 'a new anchor');
  // A given anchor that changes is a changed schedule too.
  await define(`'dj-every-change', 'SELECT 1', every => '2 hours', start_at => '2030-01-01T00:00:00Z'`);
  assert.equal((await cursor('dj-every-change')).schedule_time?.toISOString(), '2030-01-01T00:00:00.000Z');

  // A quarantined job's cursor may be what is wrong with it.
  await define(`'dj-broken', 'SELECT 1', cron => '{0 3 * * *}'`);
  await db.pool.query(`UPDATE ${s}.jobs SET broken_at = now(), broken_reason = 'test', next_run = '2031-01-01T03:00:00Z', run_count = 9 WHERE job_name = 'dj-broken'`);
  await define(`'dj-broken', 'SELECT 1', cron => '{0 3 * * *}'`);
  const { rows } = await db.pool.query(`SELECT run_count, broken_at, next_run FROM ${s}.jobs WHERE job_name = 'dj-broken'`);
  assert.equal(rows[0].run_count, 0);
  assert.equal(rows[0].broken_at, null, 'the quarantine is lifted');
  assert.notEqual(rows[0].next_run?.toISOString(), '2031-01-01T03:00:00.000Z');
});

test('schedule() and define_job of the same job agree: defined through one, redefined through the other, the same row', async () => {
  const kairos = db.node({ tasks: { tick: () => undefined } });
  // TypeScript first, then SQL with the same schedule: nothing moves.
  const ts = await kairos.schedule({ name: 'dj-both', task: 'tick', every: '1h', backoff: '5s' });
  await fired('dj-both', new Date(ts.nextRun!.getTime() + 3_600_000).toISOString(), 1);
  const before = await cursor('dj-both');
  await define(`job_name => 'dj-both', command => 'tick', job_type => 'task', every => '1 hour', description => 'from SQL'`);
  assert.deepEqual(await cursor('dj-both'), before);
  const { rows } = await db.pool.query(`SELECT description, backoff_ms FROM ${s}.jobs WHERE job_name = 'dj-both'`);
  assert.deepEqual(rows[0], { description: 'from SQL', backoff_ms: 5000 }, 'define_job keeps what it has no argument for');
  // And back: schedule() of the same schedule keeps the row SQL left.
  const again = await kairos.schedule({ name: 'dj-both', task: 'tick', every: '1h' });
  assert.equal(again.id, before.job_id);
  assert.deepEqual(await cursor('dj-both'), before);

  // SQL first, then TypeScript.
  await define(`job_name => 'dj-both-cron', command => 'tick', job_type => 'task', cron => '{*/10 * * * *}'`);
  await fired('dj-both-cron', '2031-01-01T00:10:00Z', 4);
  const sql = await cursor('dj-both-cron');
  const job = await kairos.schedule({ name: 'dj-both-cron', task: 'tick', cron: '*/10 * * * *' });
  assert.equal(job.id, sql.job_id);
  assert.equal(job.nextRun?.toISOString(), '2031-01-01T00:10:00.000Z');
  assert.equal(job.runCount, 4);
  // A changed schedule through TypeScript starts afresh, as through SQL.
  const changed = await kairos.schedule({ name: 'dj-both-cron', task: 'tick', cron: '*/15 * * * *' });
  assert.equal(changed.runCount, 0);
  assert.notEqual(changed.nextRun?.toISOString(), '2031-01-01T00:10:00.000Z');
  // schedule() does not re-enable a job that was disabled; define_job sets what it is given.
  await kairos.disable('dj-both-cron');
  assert.equal((await kairos.schedule({ name: 'dj-both-cron', task: 'tick', cron: '*/15 * * * *' })).enabled, false);
  await define(`job_name => 'dj-both-cron', command => 'tick', job_type => 'task', cron => '{*/15 * * * *}', enabled => true`);
  const enabled = await kairos.getJob('dj-both-cron');
  assert.equal(enabled?.enabled, true);
  assert.ok(enabled?.nextRun, 'enabled by its redefinition: planned from now, as enabling does');
});

test('concurrent first definitions of one name make one job', async () => {
  const results = await Promise.all(Array.from({ length: 4 }, () => define(`'dj-race', 'SELECT 1', cron => '{0 * * * *}'`)));
  assert.equal(new Set(results.map((r) => r.rows[0].job_id)).size, 1);
  assert.equal(await db.count('jobs', `job_name = 'dj-race'`), 1);
});

test('a tenant defines and redefines its own job, keeping its cursor, and cannot take over another role\'s by name', async () => {
  await as(dana, `SELECT * FROM ${s}.define_job('dj-dana', 'SELECT 1', cron => '{0 * * * *}')`);
  await fired('dj-dana', '2031-01-01T00:00:00Z', 3);
  const before = await cursor('dj-dana');
  assert.equal(before.owner, dana);
  await as(dana, `SELECT * FROM ${s}.define_job('dj-dana', 'SELECT 2', cron => '{0 * * * *}')`);
  assert.deepEqual(await cursor('dj-dana'), before);
  for (const sql of [
    `SELECT * FROM ${s}.define_job('dj-dana', 'SELECT 666', cron => '{0 * * * *}')`,
    `SELECT ${s}.add_or_update_job('dj-dana', 'sql', 'SELECT 666', '1 hour')`,
    `SELECT ${s}.schedule('dj-dana', '* * * * *', 'SELECT 666')`,
  ]) {
    await assert.rejects(as(erin, sql), (e: { code?: string }) => e.code === '42501', sql);
  }
  const { rows } = await db.pool.query(`SELECT command, owner FROM ${s}.jobs WHERE job_name = 'dj-dana'`);
  assert.deepEqual(rows[0], { command: 'SELECT 2', owner: dana });
  // store_job itself follows the same policies.
  await assert.rejects(as(erin, `SELECT * FROM ${s}.store_job('{"job_name": "dj-dana", "job_type": "sql", "command": "SELECT 666", "schedule_kind": "manual"}', NULL, NULL)`), (e: { code?: string }) => e.code === '42501');
  await assert.rejects(db.pool.query(`SELECT * FROM ${s}.store_job('{"job_name": "dj-x", "next_run": null}', NULL, NULL)`), (e: { code?: string }) => e.code === '22023');
});
