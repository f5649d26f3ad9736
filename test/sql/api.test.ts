import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture } from '../helpers.js';

const db = await fixture();
const s = `"${db.schema}"`;
const tag = randomBytes(3).toString('hex');
const bob = `bob_${tag}`;
const carol = `carol_${tag}`;
await db.pool.query(`CREATE ROLE ${bob} NOLOGIN IN ROLE job_scheduler; CREATE ROLE ${carol} NOLOGIN IN ROLE job_scheduler`);
after(async () => {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  for (const role of [bob, carol]) await client.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
  await client.end();
});

/** Run statements as `role` in one session (SET ROLE), returning the last result. */
async function as(role: string, ...statements: Array<[string, unknown[]?]>): Promise<pg.QueryResult> {
  const client = await db.pool.connect();
  try {
    await client.query(`SET ROLE ${role}`);
    let result!: pg.QueryResult;
    for (const [sql, values] of statements) result = await client.query(sql, values);
    return result;
  } finally {
    await client.query('RESET ROLE');
    client.release();
  }
}

const jobCount = async (): Promise<number> => (await db.pool.query(`SELECT count(*)::int AS n FROM ${s}.jobs`)).rows[0].n;

test('row-level security: a role sees and changes only the jobs of roles it is a member of', async () => {
  await as(bob, [`SELECT ${s}.add_job('bob-job', 'sql', 'SELECT 1', '1 hour')`]);
  await as(carol, [`SELECT ${s}.add_job('carol-job', 'sql', 'SELECT 2', '1 hour')`]);
  const seenByCarol = await as(carol, [`SELECT job_name FROM ${s}.member_job ORDER BY 1`]);
  assert.deepEqual(seenByCarol.rows.map((r) => r.job_name), ['carol-job']);
  const direct = await as(carol, [`SELECT job_name FROM ${s}.jobs ORDER BY 1`]);
  assert.deepEqual(direct.rows.map((r) => r.job_name), ['carol-job'], 'the table itself is filtered too');
  await assert.rejects(as(carol, [`SELECT ${s}.toggle_job('bob-job', false)`]), /no job named 'bob-job'/);
  await assert.rejects(as(carol, [`SELECT ${s}.delete_job('bob-job')`]), /no job named/);
  const stolen = await as(carol, [`UPDATE ${s}.jobs SET command = 'SELECT 666' WHERE job_name = 'bob-job'`]);
  assert.equal(stolen.rowCount, 0);
  await assert.rejects(as(carol, [`SELECT * FROM ${s}.insert_job('SELECT 3', current_catalog, NULL, '${bob}')`]), (e: { code?: string; message: string }) => e.code === '42501' && /not a member/.test(e.message));
  // Membership opens the door; the monitor role reads everything.
  await db.pool.query(`GRANT ${bob} TO ${carol}`);
  const member = await as(carol, [`SELECT job_name FROM ${s}.member_job ORDER BY 1`]);
  assert.deepEqual(member.rows.map((r) => r.job_name), ['bob-job', 'carol-job']);
  const mine = await as(carol, [`SELECT job_name FROM ${s}.my_job ORDER BY 1`]);
  assert.deepEqual(mine.rows.map((r) => r.job_name), ['carol-job']);
  await db.pool.query(`REVOKE ${bob} FROM ${carol}`);
  const monitor = await as('job_monitor', [`SELECT count(*)::int AS n FROM ${s}.jobs`]);
  assert.equal(monitor.rows[0].n, await jobCount());
  await assert.rejects(as('job_monitor', [`DELETE FROM ${s}.jobs`]), /permission denied/);
});

test('logs follow the same rules', async () => {
  await as(bob, [`SELECT ${s}.execute_job(job_id) FROM ${s}.jobs WHERE job_name = 'bob-job'`]);
  assert.equal((await as(bob, [`SELECT count(*)::int AS n FROM ${s}.my_job_log`])).rows[0].n, 1);
  assert.equal((await as(carol, [`SELECT count(*)::int AS n FROM ${s}.member_job_log`])).rows[0].n, 0);
  assert.equal((await as(carol, [`SELECT count(*)::int AS n FROM ${s}.job_logs`])).rows[0].n, 0);
});

test('shell jobs need the shell role', async () => {
  await assert.rejects(as(bob, [`SELECT ${s}.add_job('sh', 'shell', 'echo hi', '1 hour')`]), (e: { code?: string; message: string }) => {
    assert.equal(e.code, '42501');
    assert.match(e.message, /must be a member of role "?kairos_shell/);
    return true;
  });
  await db.pool.query(`GRANT kairos_shell TO ${bob}`);
  await as(bob, [`SELECT ${s}.add_job('sh', 'shell', 'echo hi', '1 hour')`]);
  await db.pool.query(`REVOKE kairos_shell FROM ${bob}`);
});

test('bad input to the SQL API is refused with a clear error and writes nothing', async () => {
  const before = await jobCount();
  const cases: Array<[string, RegExp, string?]> = [
    [`SELECT ${s}.add_job('x', 'python', 'print(1)', '1 hour')`, /job type must be 'sql' or 'shell'/],
    [`SELECT ${s}.add_job('x', 'sql', '', '1 hour')`, /must not be empty/],
    [`SELECT ${s}.add_job('x', 'sql', 'SELEC 1', '1 hour')`, /invalid SQL: syntax error at or near "SELEC"/],
    [`SELECT ${s}.add_job('x', 'sql', 'SELECT 1', '1 month')`, /no fixed length/],
    [`SELECT ${s}.add_job('x', 'sql', 'SELECT 1', '10 milliseconds')`, /at least 1 second/],
    [`SELECT ${s}.add_job('x', 'sql', 'SELECT 1', NULL, NULL)`, /give an interval/],
    [`SELECT ${s}.add_job('x', 'sql', 'SELECT 1', '1 hour', NULL, 0)`, /max_attempts must be at least 1/],
    [`SELECT ${s}.add_job('', 'sql', 'SELECT 1', '1 hour')`, /job name must be 1-200 characters/],
    [`SELECT ${s}.add_job(E'bad\\nname', 'sql', 'SELECT 1', '1 hour')`, /job name/],
    [`SELECT ${s}.toggle_job('nope', true)`, /no job named 'nope'/, 'P0002'],
    [`SELECT ${s}.delete_job('nope')`, /no job named/, 'P0002'],
    [`SELECT ${s}.execute_job(999999)`, /no job with id 999999/, 'P0002'],
    [`SELECT * FROM ${s}.define_job('x', 'SELECT 1', every => '1 hour', catch_up => 'sometimes')`, /catch_up must be skip, latest or all/],
    [`SELECT * FROM ${s}.define_job('x', 'SELECT 1', every => '1 hour', overlap => 'maybe')`, /overlap must be/],
    [`SELECT * FROM ${s}.define_job('x', 'SELECT 1', every => '1 hour', timezone => 'Mars/Olympus')`, /unknown time zone/],
    [`SELECT * FROM ${s}.define_job('x', 'SELECT 1', every => '1 hour', at => now())`, /only one of cron, every and at/],
    [`SELECT * FROM ${s}.define_job('x', 'SELECT 1', run_as => 'no_such_role_${tag}')`, /does not exist/],
    [`SELECT ${s}.enqueue('bad task!', '{}')`, /task must be/],
    [`SELECT ${s}.enqueue('t', '{}', conflict => 'merge')`, /conflict must be raise, ignore or replace/],
    [`SELECT ${s}.set_steps('nope', '[]')`, /no job named/, 'P0002'],
    [`SELECT ${s}.cancel_run(424242)`, /no pending or running run 424242/, 'P0002'],
  ];
  for (const [sql, message, code] of cases) {
    await assert.rejects(db.pool.query(sql), (error: { code?: string; message: string }) => {
      assert.match(error.message, message, sql);
      assert.equal(error.code, code ?? '22023', sql);
      return true;
    }, sql);
  }
  assert.equal(await jobCount(), before);
});

test('enqueue from a trigger: the run commits with the row that caused it', async () => {
  await db.pool.query(`CREATE TABLE public.signups_${tag} (email text)`);
  await db.pool.query(`CREATE FUNCTION public.on_signup_${tag}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM ${s}.enqueue('welcome-email', jsonb_build_object('email', NEW.email), job_key => NEW.email, conflict => 'ignore'); RETURN NEW; END $$`);
  await db.pool.query(`CREATE TRIGGER t AFTER INSERT ON public.signups_${tag} FOR EACH ROW EXECUTE FUNCTION public.on_signup_${tag}()`);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO public.signups_${tag} VALUES ('a@example.com')`);
    await client.query('ROLLBACK');
    await client.query(`INSERT INTO public.signups_${tag} VALUES ('b@example.com'), ('b@example.com')`);
  } finally {
    client.release();
  }
  const runs = await db.pool.query(`SELECT task, payload, key FROM ${s}.runs WHERE task = 'welcome-email'`);
  assert.deepEqual(runs.rows, [{ task: 'welcome-email', payload: { email: 'b@example.com' }, key: 'b@example.com' }]);
  await db.pool.query(`DROP TABLE public.signups_${tag}; DROP FUNCTION public.on_signup_${tag}()`);
});

test('jobs carry labels (job classes) for filtering', async () => {
  const { Kairos } = await import('../../src/index.js');
  const { silentLogger } = await import('../../src/testing/index.js');
  await db.pool.query(`SELECT * FROM ${s}.define_job('labelled', 'SELECT 1', every => '1 day', labels => '{maintenance,nightly}')`);
  const client = new Kairos({ connectionString: db.connectionString, schema: db.schema, logger: silentLogger, migrate: false });
  assert.deepEqual((await client.listJobs({ label: 'maintenance' })).map((j) => j.name), ['labelled']);
  assert.deepEqual(await client.listJobs({ label: 'reporting' }), []);
  await client.stop();
});

test('a job_scheduler member can disable its job while a run is queued ahead: the run and its occurrence go', async () => {
  await as(bob, [`SELECT ${s}.add_job('bob-ahead', 'sql', 'SELECT 1', '1 hour')`]);
  const { rows: [job] } = await db.pool.query(`SELECT job_id FROM ${s}.jobs WHERE job_name = 'bob-ahead'`);
  // What the ticker writes when it plans an occurrence ahead of its due time.
  await db.pool.query(
    `WITH o AS (INSERT INTO ${s}.occurrences (job_id, scheduled_at, outcome) VALUES ($1, now() + interval '10 minutes', 'run') RETURNING scheduled_at)
     INSERT INTO ${s}.runs (job_id, task, job_type, scheduled_at, run_at, owner) SELECT $1, '@sql', 'sql', scheduled_at, scheduled_at, '${bob}' FROM o`,
    [job.job_id],
  );
  await as(bob, [`SELECT ${s}.toggle_job('bob-ahead', false)`]);
  assert.equal(await db.count('runs', 'job_id = $1', [job.job_id]), 0);
  assert.equal(await db.count('occurrences', 'job_id = $1', [job.job_id]), 0);
  assert.equal((await db.pool.query(`SELECT enabled FROM ${s}.jobs WHERE job_id = $1`, [job.job_id])).rows[0].enabled, false);
});

test('enqueue() keeps a payload as given, null fields and nested nulls included (migration 0033)', async () => {
  const payload = { a: null, b: 1, nested: { c: null, list: [null, 2] } };
  const { rows: [{ id }] } = await db.pool.query(`SELECT ${s}.enqueue('payload-nulls', $1::jsonb) AS id`, [JSON.stringify(payload)]);
  const { rows: [run] } = await db.pool.query(`SELECT payload FROM ${s}.runs WHERE run_id = $1`, [id]);
  assert.deepEqual(run.payload, payload);
});
