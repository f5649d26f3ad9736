/**
 * Issue #12, classes 4 and 5 and their variants: a tenant (a role granted job_scheduler) writes
 * rows straight into Kairos's tables to make Kairos act on, or report about, jobs it does not own:
 * a run naming another role's job, history on another role's job or run, runs already "running"
 * on a node, explicit run ids, borrowed lock keys, alert rules on another role's job, and writes
 * to the tables it should not write at all. Each must be refused, and what the API itself writes
 * for a tenant (execute_job's log, a cancelled run's log, enqueue, trigger_job) must still work.
 */
import { test, after } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import assert from 'node:assert/strict';
import { drain } from '../../src/testing/index.js';
import { stage } from './tenants.js';

const st = await stage();
const { mallory, victor } = st;
const install = st.superuserInstall;
const { s, pool } = install;
const ledger = `public.ledger_${st.tag}`;
await pool.query(`CREATE TABLE ${ledger} (who text); GRANT INSERT ON ${ledger} TO ${victor}, ${mallory}`);

/** Run `sql` as `role`; 'refused <code>' or 'changed <n> rows'. */
async function outcome(role: string, sql: string, values: unknown[] = []): Promise<string> {
  return st.as(pool, role, sql, values).then((r) => `changed ${r.rowCount ?? 0} rows`, (e: { code?: string; message: string }) => `refused ${e.code}: ${e.message}`);
}

const victorJob = async (): Promise<number> => {
  await st.as(pool, victor, `SELECT * FROM ${s}.define_job('victor-job', $1, every => '1 hour')`, [`INSERT INTO ${ledger} VALUES ('victor-job ran')`]);
  return (await pool.query(`SELECT job_id FROM ${s}.jobs WHERE job_name = 'victor-job'`)).rows[0].job_id as number;
};
const vid = await victorJob();
await st.as(pool, mallory, `SELECT * FROM ${s}.define_job('mallory-job', 'SELECT 1')`);
const mid = (await pool.query(`SELECT job_id FROM ${s}.jobs WHERE job_name = 'mallory-job'`)).rows[0].job_id as number;
// A logged run of victor's, whose id mallory could try to write history under.
const victorRun = (await st.as(pool, victor, `SELECT ${s}.trigger_job('victor-job') AS id`)).rows[0].id as number;
await drain(install.node());
const nodeId = `forged-node-${st.tag}`;

test('a tenant cannot create or change runs that make Kairos act on another role\'s job', async () => {
  const attempts: Array<[string, unknown[]]> = [
    // The reported attack: a run of victor's job owned by mallory (the policy checked only `owner`).
    [`INSERT INTO ${s}.runs (job_id, task, job_type, owner) VALUES ($1, '@sql', 'sql', current_user)`, [vid]],
    [`INSERT INTO ${s}.runs (job_id, task, job_type) VALUES ($1, '@sql', 'sql')`, [vid]],
    // Its own job, but dressed as another kind (the executor is chosen by the run's kind).
    [`INSERT INTO ${s}.runs (job_id, task, job_type) VALUES ($1, '@shell', 'shell')`, [mid]],
    // A run already running on a node, or with an attempt, a lease or a node of its choosing.
    [`INSERT INTO ${s}.runs (task, status, node_id, attempt) VALUES ('x', 'running', $1, 1)`, [nodeId]],
    [`INSERT INTO ${s}.runs (task, lease_until) VALUES ('x', now() + interval '1 day')`, []],
    [`INSERT INTO ${s}.runs (task, rescues, cancel_requested) VALUES ('x', 99, true)`, []],
    // An explicit run id: the application's later runs would collide with it (or be shadowed by it).
    [`INSERT INTO ${s}.runs (run_id, task) VALUES (nextval(pg_get_serial_sequence('${s}.runs', 'run_id')) + 10, 'x')`, []],
    // Another task's advisory lock (an exclusive task's lock key): it would block that task.
    [`INSERT INTO ${s}.runs (task, lock_key) VALUES ('x', 'sendEmail')`, []],
    [`INSERT INTO ${s}.runs (job_id, task, job_type, lock_key) VALUES ($1, '@sql', 'sql', 'borrowed')`, [mid]],
  ];
  for (const [sql, values] of attempts) {
    assert.match(await outcome(mallory, sql, values), /^refused (42501|23514)/, sql);
  }
  // A run of its own it may change the payload of; never re-point at another job or owner.
  const own = (await st.as(pool, mallory, `SELECT ${s}.enqueue('mallory-task', '{}', job_key => 'k1') AS id`)).rows[0].id as number;
  for (const set of [`job_id = ${vid}`, `owner = '${victor}'`, `status = 'running'`, `node_id = '${nodeId}'`, `job_type = 'sql'`, `lock_key = 'x'`]) {
    assert.match(await outcome(mallory, `UPDATE ${s}.runs SET ${set} WHERE run_id = $1`, [own]), /^refused 42501/, set);
  }
  assert.equal(await outcome(mallory, `UPDATE ${s}.runs SET cancel_requested = true WHERE run_id = $1`, [own]), 'changed 1 rows');
  assert.equal(await st.db.count('runs', 'job_id = $1', [vid]), 0, 'no run of victor\'s job was created');
});

test('a run whose owner does not own its job is refused by the executor, not run as the job\'s owner', async () => {
  // Written by a superuser (as a forged row from before this check would have been).
  await pool.query(`INSERT INTO ${s}.runs (job_id, task, job_type, owner) VALUES ($1, '@sql', 'sql', $2)`, [vid, mallory]);
  const before = (await pool.query(`SELECT count(*)::int AS n FROM ${ledger}`)).rows[0].n as number;
  await drain(install.node());
  assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${ledger}`)).rows[0].n, before, 'victor\'s command did not run');
  const { rows } = await pool.query(`SELECT status, message, owner FROM ${s}.job_logs WHERE job_id = $1 AND status <> 'completed'`, [vid]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].status, 'failed');
  assert.match(rows[0].message, /owned by .*mallory.* not by the job's owner/);
});

test('a tenant cannot forge history on another role\'s job or run', async () => {
  const attempts: Array<[string, unknown[]]> = [
    // The reported attack: a log row on victor's job.
    [`INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status, owner) VALUES ($1, 1, '@sql', 'default', 1, 'completed', current_user)`, [vid]],
    // Its own job, but the run id of victor's logged run: victor's run history would show it.
    [`INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status) VALUES ($1, $2, '@sql', 'default', 2, 'completed')`, [mid, victorRun]],
    // No job: a task run's history (the application's), under any run id.
    [`INSERT INTO ${s}.job_logs (run_id, task, queue, attempt, status) VALUES ($1, 'sendEmail', 'default', 1, 'completed')`, [victorRun]],
    [`INSERT INTO ${s}.job_logs (run_id, task, queue, attempt, status) VALUES (123456789, 'sendEmail', 'default', 1, 'failed')`, []],
    // A node's name on it: operators would take it for a real attempt.
    [`INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status, node_id) VALUES ($1, 987654321, '@sql', 'default', 1, 'completed', $2)`, [mid, nodeId]],
    // Straight into a partition.
    [`INSERT INTO ${s}.job_logs_completed_default (job_id, run_id, task, queue, attempt, status) VALUES ($1, 1, '@sql', 'default', 1, 'completed')`, [vid]],
    [`INSERT INTO ${s}.step_logs (run_id, attempt, job_id, position, name, status) VALUES (1, 1, $1, 1, 'x', 'succeeded')`, [vid]],
    [`UPDATE ${s}.job_logs SET status = 'completed', message = NULL WHERE job_id = $1`, [vid]],
    [`DELETE FROM ${s}.job_logs WHERE job_id = $1`, [mid]],
    [`INSERT INTO ${s}.occurrences (job_id, scheduled_at) VALUES ($1, now())`, [vid]],
  ];
  const history = async (): Promise<unknown> => (await pool.query(`SELECT count(*)::int AS n, max(log_id) AS last FROM ${s}.job_logs`)).rows[0];
  const before = await history();
  for (const [sql, values] of attempts) {
    assert.match(await outcome(mallory, sql, values), /^(refused (42501|23514|42P01)|changed 0 rows)/, sql);
  }
  assert.deepEqual(await history(), before, 'no history row was written');
});

test('what the SQL API writes for a tenant still works: execute_job, cancelling a pending run, enqueue, trigger_job', async () => {
  await st.as(pool, mallory, `SELECT ${s}.execute_job($1)`, [mid]);
  const queued = (await st.as(pool, mallory, `SELECT ${s}.enqueue('mallory-task', '{"a": 1}') AS id`)).rows[0].id as number;
  assert.equal((await st.as(pool, mallory, `SELECT ${s}.cancel_run($1) AS r`, [queued])).rows[0].r, 'cancelled');
  const replaced = (await st.as(pool, mallory, `SELECT ${s}.enqueue('mallory-task', '{"b": 2}', job_key => 'k2') AS id`)).rows[0].id as number;
  assert.equal((await st.as(pool, mallory, `SELECT ${s}.enqueue('mallory-task', '{"b": 3}', job_key => 'k2', conflict => 'replace') AS id`)).rows[0].id, replaced);
  await st.as(pool, mallory, `SELECT ${s}.trigger_job('mallory-job')`);
  const logs = await pool.query(`SELECT status, task FROM ${s}.job_logs WHERE owner = $1 AND node_id IS NULL ORDER BY log_id`, [mallory]);
  assert.deepEqual(logs.rows, [{ status: 'completed', task: '@sql' }, { status: 'cancelled', task: 'mallory-task' }]);
  const run = await pool.query(`SELECT payload FROM ${s}.runs WHERE run_id = $1`, [replaced]);
  assert.deepEqual(run.rows[0].payload, { b: 3 });
});

test('a tenant cannot aim an alert rule at another role\'s job', async () => {
  assert.match(await outcome(mallory, `INSERT INTO ${s}.alert_rules (channel, target, job_id, events) VALUES ('notify', 'spy', $1, '{failed}')`, [vid]), /^refused 42501/);
  // A global rule hears every job's events: plain DML may not write one either.
  assert.match(await outcome(mallory, `INSERT INTO ${s}.alert_rules (channel, target, events) VALUES ('notify', 'spy', '{failed}')`), /^refused 42501/);
  assert.equal(await outcome(mallory, `INSERT INTO ${s}.alert_rules (channel, target, job_id, events) VALUES ('notify', 'mine', $1, '{failed}')`, [mid]), 'changed 1 rows');
  assert.match(await outcome(mallory, `SELECT ${s}.add_alert('notify', 'spy', 'victor-job')`), /^refused (42501|P0002)/);
});

test('a tenant writes no other table of the installation, and reads no hand-off or secret', async () => {
  for (const sql of [
    `INSERT INTO ${s}.nodes (node_id, name) VALUES ('${nodeId}', 'x')`,
    `UPDATE ${s}.nodes SET last_heartbeat = now()`,
    `DELETE FROM ${s}.nodes`,
    `INSERT INTO ${s}.handoffs (node_id, queues, tasks, lease_ms, stale_ms) VALUES ('${nodeId}', '{default}', '{x}', 1, 1)`,
    `SELECT * FROM ${s}.handoffs`,
    `UPDATE ${s}.settings SET value = 'x'`,
    `INSERT INTO ${s}.migrations (version, name) VALUES (999, 'x')`,
    `DELETE FROM ${s}.migrations`,
  ]) assert.match(await outcome(mallory, sql), /^(refused 42501|changed 0 rows)/, sql);
  // And as a guard for tables added later: what job_scheduler may write, table by table.
  const { rows } = await pool.query<{ t: string; p: string }>(
    `SELECT c.relname AS t, string_agg(DISTINCT p.p, ',' ORDER BY p.p) AS p
       FROM pg_class c CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) p(p)
      WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'v')
        AND (has_table_privilege('job_scheduler', c.oid, p.p) OR (p.p IN ('INSERT', 'UPDATE') AND has_any_column_privilege('job_scheduler', c.oid, p.p)))
      GROUP BY c.relname ORDER BY 1`,
    [install.schema],
  );
  assert.deepEqual(Object.fromEntries(rows.map((r) => [r.t, r.p])), {
    alert_rules: 'DELETE,INSERT',
    job_logs: 'INSERT',
    job_steps: 'DELETE,INSERT,UPDATE',
    jobs: 'DELETE,INSERT,UPDATE',
    member_job: 'DELETE,INSERT,UPDATE',
    my_job: 'DELETE,INSERT,UPDATE',
    occurrences: 'INSERT',
    runs: 'DELETE,INSERT,UPDATE',
  });
});

test('the same attacks from a LOGIN tenant on its own connection (as the docs set tenants up)', async () => {
  const login = `lt_${st.tag}`;
  const password = randomBytes(12).toString('hex');
  await pool.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}' IN ROLE job_scheduler`);
  const url = new URL(install.url);
  url.username = login;
  url.password = password;
  const own = new pg.Client({ connectionString: url.toString() });
  after(async () => {
    await own.end().catch(() => undefined);
    await pool.query(`DROP OWNED BY ${login}; DROP ROLE ${login}`).catch(() => undefined);
  });
  await own.connect();
  const attempt = (sql: string, values: unknown[] = []): Promise<string> =>
    own.query(sql, values).then((r) => `changed ${r.rowCount ?? 0} rows`, (e: { code?: string }) => `refused ${e.code}`);
  assert.match(await attempt(`INSERT INTO ${s}.runs (job_id, task, job_type) VALUES ($1, '@sql', 'sql')`, [vid]), /^refused 42501/);
  assert.match(await attempt(`INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status) VALUES ($1, 1, '@sql', 'default', 1, 'completed')`, [vid]), /^refused 42501/);
  assert.match(await attempt(`INSERT INTO ${s}.runs (task, status, node_id, attempt) VALUES ('x', 'running', 'n', 1)`), /^refused 42501/);
  assert.match(await attempt(`SELECT * FROM ${s}.handoffs`), /^refused 42501/);
  assert.equal(await attempt(`SELECT ${s}.enqueue('login-task', '{}')`), 'changed 1 rows');
});
