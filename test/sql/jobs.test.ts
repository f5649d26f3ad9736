import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fixture, eventually } from '../helpers.js';
import { TestClock, drain, waitForRun } from '../../src/testing/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();
const s = `"${db.schema}"`;
const alice = `alice_${randomBytes(3).toString('hex')}`;
await db.pool.query(`CREATE ROLE ${alice} NOLOGIN`);
await db.pool.query(`CREATE TABLE public.${alice}_ledger (n int, at timestamptz DEFAULT now())`);
await db.pool.query(`ALTER TABLE public.${alice}_ledger OWNER TO ${alice}`);
await db.pool.query(`CREATE TABLE public.${alice}_secret (n int)`);
after(async () => {
  // The fixture's own cleanup ends db.pool first: use a client of our own.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS public.${alice}_ledger, public.${alice}_secret`);
  await client.query(`DROP OWNED BY ${alice}; DROP ROLE ${alice}`).catch(() => undefined);
  await client.end();
});

/** Define a SQL job through the SQL API and return its name. */
async function defineSql(name: string, command: string, extra = ''): Promise<string> {
  await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => $1, command => $2, run_as => $3 ${extra})`, [name, command, alice]);
  return name;
}

const agent = (options = {}) => db.node({ runSqlJobs: true, ...options });
const lastLog = async (name: string) => (await db.pool.query(`SELECT l.* FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id) WHERE j.job_name = $1 ORDER BY log_id DESC LIMIT 1`, [name])).rows[0];

test('a SQL job runs as its owner: it can do what the owner can, and nothing more', async () => {
  const kairos = agent();
  await defineSql('own-table', `INSERT INTO public.${alice}_ledger (n) VALUES (1), (2)`);
  await defineSql('forbidden', `DELETE FROM public.${alice}_secret`);
  await kairos.trigger('own-table');
  await kairos.trigger('forbidden');
  assert.equal(await drain(kairos), 2);
  const ok = await lastLog('own-table');
  assert.equal(ok.status, 'completed');
  assert.deepEqual({ rows: ok.output.rows, command: ok.output.command }, { rows: 2, command: 'INSERT' });
  const denied = await lastLog('forbidden');
  assert.equal(denied.status, 'failed');
  assert.match(denied.message, /permission denied for table/);
  assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM public.${alice}_ledger`)).rows[0].n, 2);
});

test('notices and the session state: a job cannot leak SET into the next one', async () => {
  const kairos = agent({ concurrency: 1 });
  await defineSql('noisy', `DO $$ BEGIN RAISE NOTICE 'hello from %', current_user; END $$; SET work_mem = '1MB'`);
  await defineSql('whoami', `INSERT INTO public.${alice}_ledger (n) SELECT CASE WHEN current_user = '${alice}' THEN 100 ELSE -1 END`);
  await kairos.trigger('noisy');
  await drain(kairos);
  await kairos.trigger('whoami');
  await drain(kairos);
  const noisy = await lastLog('noisy');
  assert.equal(noisy.status, 'completed');
  assert.deepEqual(noisy.output.notices, [`NOTICE: hello from ${alice}`]);
  const back = await db.pool.query(`SELECT count(*)::int AS n FROM public.${alice}_ledger WHERE n = 100`);
  assert.equal(back.rows[0].n, 1);
});

test('exactly once: a fenced-off attempt rolls back its effects together with its record', async () => {
  const clock = new TestClock(new Date());
  const a = agent({ clock });
  const b = agent({ clock });
  // The job waits at a gate (an advisory lock this test holds) after its insert: A is still in
  // the job, its insert done, when its run is taken over, whatever the timing.
  const gate = await db.pool.connect();
  const key = randomBytes(3).readUIntBE(0, 3);
  await gate.query('SELECT pg_advisory_lock($1)', [key]);
  await defineSql('once', `INSERT INTO public.${alice}_ledger (n) VALUES (7); SELECT pg_advisory_xact_lock(${key})`);
  const runId = await a.trigger('once');
  try {
    await internals(a).services.producer.runOnce(); // A starts the job…
    const waiting = async (): Promise<number> => (await gate.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND NOT granted", [key])).rows[0].n;
    await eventually(async () => (await waiting()) === 1, { what: "A's job to insert and wait at the gate" });
    // …and is presumed dead: its run is taken over (what the rescuer does), and B claims it.
    await db.pool.query(`UPDATE ${s}.runs SET status = 'pending', node_id = NULL WHERE run_id = $1`, [runId]);
    await internals(b).services.producer.runOnce();
    await eventually(async () => (await waiting()) === 2, { what: "B's job to wait at the gate too" });
  } finally {
    await gate.query('SELECT pg_advisory_unlock($1)', [key]);
    gate.release();
  }
  await internals(a).services.executor.waitForIdle(5000);
  await internals(b).services.executor.waitForIdle(5000);
  await internals(b).services.completer.drain();
  const rows = await db.pool.query(`SELECT count(*)::int AS n FROM public.${alice}_ledger WHERE n = 7`);
  assert.equal(rows.rows[0].n, 1, "A's insert was rolled back with its fenced completion");
  const logs = await db.pool.query(`SELECT attempt, status, node_id FROM ${s}.job_logs WHERE run_id = $1`, [runId]);
  assert.deepEqual(logs.rows, [{ attempt: 2, status: 'completed', node_id: b.nodeId }]);
});

test('maintenance statements that cannot run in a transaction block work as jobs', async () => {
  const kairos = agent();
  await db.pool.query(`GRANT CREATE ON SCHEMA public TO ${alice}`);
  await defineSql('vacuum', `VACUUM ANALYZE public.${alice}_ledger`);
  await defineSql('index', `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${alice}_ledger_n ON public.${alice}_ledger (n)`);
  await kairos.trigger('vacuum');
  await kairos.trigger('index');
  await drain(kairos);
  assert.equal((await lastLog('vacuum')).status, 'completed', (await lastLog('vacuum')).message);
  assert.equal((await lastLog('vacuum')).output.command, 'VACUUM');
  assert.equal((await lastLog('index')).status, 'completed', (await lastLog('index')).message);
  const index = await db.pool.query('SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = $1', [`${alice}_ledger_n`]);
  assert.equal(index.rows[0].n, 1);
});

test('a SQL job in another database of the same server', async () => {
  const other = `kairos_other_${randomBytes(3).toString('hex')}`;
  await db.pool.query(`CREATE DATABASE ${other}`);
  const { default: pg } = await import('pg');
  const url = new URL(db.connectionString);
  url.pathname = `/${other}`;
  const there = new pg.Client({ connectionString: url.toString() });
  await there.connect();
  try {
    await there.query(`CREATE TABLE marks (db text); ALTER TABLE marks OWNER TO ${alice}`);
    const kairos = agent();
    await defineSql('elsewhere', 'INSERT INTO marks SELECT current_database()', ', database => $4'.replace('$4', `'${other}'`));
    await kairos.trigger('elsewhere');
    await drain(kairos);
    assert.equal((await lastLog('elsewhere')).status, 'completed', (await lastLog('elsewhere')).message);
    assert.deepEqual((await there.query('SELECT db FROM marks')).rows, [{ db: other }]);
    await kairos.stop();
  } finally {
    await there.end();
    await db.pool.query(`DROP DATABASE ${other} WITH (FORCE)`);
  }
});

test('a SQL job times out (statement_timeout) and can be cancelled from another node', async () => {
  const kairos = agent();
  await kairos.start();
  await defineSql('slow', 'SELECT pg_sleep(30)', ", timeout => '200 milliseconds'");
  const slow = await kairos.trigger('slow');
  assert.equal((await waitForRun(kairos, slow)).next, 'failed');
  assert.match((await lastLog('slow')).message, /statement timeout|timed out after 200 ms/);

  await defineSql('cancel-me', 'SELECT pg_sleep(30)');
  const other = db.node({ queues: ['none'] });
  await other.start();
  const run = await kairos.trigger('cancel-me');
  // Running in this schema, and some job asleep in pg_sleep: pg_stat_activity is server-wide, and
  // other test files run SQL jobs at the same time.
  await eventually(async () => (await db.pool.query(`SELECT EXISTS (SELECT 1 FROM "${db.schema}".runs WHERE run_id = $1 AND status = 'running')
      AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_temp.kairos_run_job%' AND wait_event = 'PgSleep' AND state = 'active') AS ok`, [run])).rows[0].ok, 10_000, 'the job to start');
  const started = Date.now();
  assert.equal(await other.cancel(run), 'cancelling');
  assert.equal((await waitForRun(kairos, run)).next, 'cancelled');
  assert.ok(Date.now() - started < 5000);
  await Promise.all([kairos.stop(), other.stop()]);
});
