/**
 * Issue #14, items 11 and 13. A SQL job's history keeps PostgreSQL's diagnostics (SQLSTATE,
 * DETAIL, HINT, CONTEXT; '00000' for a success, as seed 003's job_sqlstate) and the notices raised
 * before an error, and never a stack trace; the owner views show them to the owner only.
 * execute_job of a job of another database refuses (a session cannot switch databases), while
 * trigger_job's run executes in the job's database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { drain } from '../../src/testing/index.js';
import { stage } from '../security/tenants.js';

const st = await stage();
const { mallory, victor } = st;
const install = st.superuserInstall;
const { s, pool } = install;

/** Define a SQL job as `role` and run it once through the agent; its newest history row (the table's). */
async function runAs(role: string, name: string, command: string): Promise<Record<string, unknown>> {
  await st.as(pool, role, `SELECT * FROM ${s}.define_job($1, $2)`, [name, command]);
  await st.as(pool, role, `SELECT ${s}.trigger_job($1)`, [name]);
  await drain(install.node());
  const { rows } = await pool.query(`SELECT l.* FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id) WHERE j.job_name = $1 ORDER BY log_id DESC LIMIT 1`, [name]);
  assert.ok(rows[0], `a history row of ${name}`);
  return rows[0] as Record<string, unknown>;
}

const pick = (row: Record<string, unknown>) => ({ status: row.status, sqlstate: row.sqlstate, detail: row.detail, hint: row.hint });

test('a failed SQL job records its SQLSTATE, DETAIL, HINT and CONTEXT, its earlier notices, and no stack trace', async () => {
  const zero = await runAs(mallory, 'diag-zero', 'SELECT 1/0');
  assert.deepEqual(pick(zero), { status: 'failed', sqlstate: '22012', detail: null, hint: null });
  assert.equal(zero.message, 'division by zero');
  assert.equal(zero.context, null, 'a top-level statement has no context; the frames of Kairos\'s wrapper are left out');

  const raised = await runAs(mallory, 'diag-raise', `DO $$ BEGIN
      RAISE NOTICE 'step one done';
      RAISE WARNING 'almost there';
      RAISE EXCEPTION 'order % is stuck', 42 USING ERRCODE = 'P0001', DETAIL = 'the carrier refused it', HINT = 'retry tomorrow';
    END $$`);
  assert.deepEqual(pick(raised), { status: 'failed', sqlstate: 'P0001', detail: 'the carrier refused it', hint: 'retry tomorrow' });
  assert.equal(raised.context, 'PL/pgSQL function inline_code_block line 4 at RAISE');
  const output = raised.output as { notices?: string[]; diagnostics?: unknown; error?: { stack?: string } };
  assert.deepEqual(output.notices, ['NOTICE: step one done', 'WARNING: almost there']);
  assert.equal(output.diagnostics, undefined, 'the diagnostics live in the columns, not twice');
  for (const row of [zero, raised]) {
    const text = JSON.stringify(row.output);
    assert.doesNotMatch(text, /stack|\/src\/|\/dist\/|node_modules/, text);
  }
  // A constraint's detail, as PostgreSQL words it.
  await pool.query(`CREATE TABLE public.diag_${st.tag} (n int PRIMARY KEY); ALTER TABLE public.diag_${st.tag} OWNER TO ${mallory}`);
  const dup = await runAs(mallory, 'diag-dup', `INSERT INTO public.diag_${st.tag} VALUES (1), (1)`);
  assert.deepEqual(pick(dup), { status: 'failed', sqlstate: '23505', detail: 'Key (n)=(1) already exists.', hint: null });
});

test('a successful SQL job records 00000; a task job none', async () => {
  const ok = await runAs(mallory, 'diag-ok', 'SELECT 1');
  assert.deepEqual(pick(ok), { status: 'completed', sqlstate: '00000', detail: null, hint: null });
  assert.equal(ok.context, null);
  const kairos = install.node({ runSqlJobs: false });
  kairos.task(`diag-task-${st.tag}`, async () => { throw new Error('task says no'); });
  await kairos.enqueue(`diag-task-${st.tag}`, {}, { retries: 0 });
  await drain(kairos);
  const { rows } = await pool.query(`SELECT * FROM ${s}.job_logs WHERE task = $1`, [`diag-task-${st.tag}`]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].sqlstate, null);
  // A task handler's own frames stay (this file); Kairos's own files do not.
  const stack = String(rows[0].output.error.stack);
  assert.match(stack, /diagnostics\.test\.ts/);
  assert.doesNotMatch(stack, /\/src\/engine\/|node:internal/);
});

test('the owner views show the diagnostics to the owner only', async () => {
  await runAs(victor, 'diag-victor', "DO $$ BEGIN RAISE EXCEPTION 'victor secret' USING DETAIL = 'victor detail'; END $$");
  await runAs(mallory, 'diag-mallory', 'SELECT 1/0');
  const mine = await st.as(pool, mallory, `SELECT sqlstate, detail, hint, context, message FROM ${s}.my_job_log WHERE sqlstate IS NOT NULL ORDER BY log_id`);
  assert.ok(mine.rows.some((r) => r.sqlstate === '22012'));
  assert.ok(mine.rows.every((r) => r.detail !== 'victor detail' && r.message !== 'victor secret'), JSON.stringify(mine.rows));
  const members = await st.as(pool, mallory, `SELECT detail FROM ${s}.member_job_log WHERE detail = 'victor detail'`);
  assert.equal(members.rowCount, 0);
  const victors = await st.as(pool, victor, `SELECT detail FROM ${s}.member_job_log WHERE detail = 'victor detail'`);
  assert.equal(victors.rowCount, 1);
  const options = await pool.query(`SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                     WHERE n.nspname = $1 AND c.relname IN ('my_job_log', 'member_job_log') ORDER BY 1`, [install.schema]);
  assert.deepEqual(options.rows.map((r) => r.reloptions), [['security_barrier=true'], ['security_barrier=true']]);
});

test('execute_job records the diagnostics too (GET STACKED DIAGNOSTICS)', async () => {
  await st.as(pool, mallory, `SELECT * FROM ${s}.define_job('diag-exec', $1)`, ["DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '22023', HINT = 'say yes'; END $$"]);
  await st.as(pool, mallory, `SELECT * FROM ${s}.define_job('diag-exec-ok', 'SELECT 1')`);
  await st.as(pool, mallory, `SELECT ${s}.execute_job(job_id) FROM ${s}.my_job WHERE job_name IN ('diag-exec', 'diag-exec-ok')`);
  const { rows } = await st.as(pool, mallory, `SELECT j.job_name, l.status, l.sqlstate, l.hint, l.message FROM ${s}.my_job_log l JOIN ${s}.my_job j USING (job_id)
                                                 WHERE j.job_name IN ('diag-exec', 'diag-exec-ok') ORDER BY 1`);
  assert.deepEqual(rows, [
    { job_name: 'diag-exec', status: 'failed', sqlstate: '22023', hint: 'say yes', message: 'no' },
    { job_name: 'diag-exec-ok', status: 'completed', sqlstate: '00000', hint: null, message: 'Success' },
  ]);
});

test("execute_job of another database's job refuses and changes nothing; trigger_job's run runs in the job's database", async () => {
  const other = `kairos_diag_${randomBytes(3).toString('hex')}`;
  const table = `orders_${st.tag}`;
  await pool.query(`CREATE DATABASE ${other}`);
  const url = new URL(st.db.connectionString);
  url.pathname = `/${other}`;
  const there = new pg.Client({ connectionString: url.toString() });
  await there.connect();
  try {
    // The same table in both databases; the job deletes in its own (`other`).
    for (const client of [pool, there]) {
      await client.query(`CREATE TABLE public.${table} (n int); INSERT INTO public.${table} VALUES (1), (2); ALTER TABLE public.${table} OWNER TO ${mallory}`);
    }
    await pool.query(`GRANT CONNECT ON DATABASE ${other} TO ${mallory}`);
    await st.as(pool, mallory, `SELECT * FROM ${s}.define_job('diag-elsewhere', $1, database => $2)`, [`DELETE FROM public.${table} WHERE n = 1`, other]);
    const id = (await pool.query(`SELECT job_id FROM ${s}.jobs WHERE job_name = 'diag-elsewhere'`)).rows[0].job_id as number;
    const logs = async (): Promise<number> => (await pool.query(`SELECT count(*)::int AS n FROM ${s}.job_logs WHERE job_id = $1`, [id])).rows[0].n;

    await assert.rejects(st.as(pool, mallory, `SELECT ${s}.execute_job($1)`, [id]), (e: { code?: string; message: string }) => {
      assert.equal(e.code, '0A000');
      assert.match(e.message, new RegExp(`job diag-elsewhere runs in database ${other}; execute_job runs a job in the calling session's database \\(.+\\): use trigger_job\\(${id}\\)`));
      return true;
    });
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM public.${table}`)).rows[0].n, 2, 'nothing deleted here');
    assert.equal((await there.query(`SELECT count(*)::int AS n FROM public.${table}`)).rows[0].n, 2, 'nor there');
    assert.equal(await logs(), 0, 'no history written');
    const job = (await pool.query(`SELECT last_run, current_attempts FROM ${s}.jobs WHERE job_id = $1`, [id])).rows[0];
    assert.deepEqual(job, { last_run: null, current_attempts: 0 });

    // trigger_job (the SQL API; trigger() and the CLI and dashboard go through the same run): the agent runs it in `other`.
    await st.as(pool, mallory, `SELECT ${s}.trigger_job('diag-elsewhere')`);
    const kairos = install.node();
    await drain(kairos);
    const last = (await pool.query(`SELECT status, message, sqlstate FROM ${s}.job_logs WHERE job_id = $1 ORDER BY log_id DESC LIMIT 1`, [id])).rows[0];
    assert.deepEqual(last, { status: 'completed', message: null, sqlstate: '00000' });
    assert.deepEqual((await pool.query(`SELECT n FROM public.${table} ORDER BY n`)).rows, [{ n: 1 }, { n: 2 }], 'the caller\'s database untouched');
    assert.deepEqual((await there.query(`SELECT n FROM public.${table} ORDER BY n`)).rows, [{ n: 2 }], 'deleted in the job\'s database');
    // trigger() of the TypeScript API enqueues the same run.
    await there.query(`INSERT INTO public.${table} VALUES (1)`);
    await kairos.trigger('diag-elsewhere');
    await drain(kairos);
    assert.deepEqual((await there.query(`SELECT n FROM public.${table} ORDER BY n`)).rows, [{ n: 2 }]);
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM public.${table}`)).rows[0].n, 2);
    await kairos.stop();
  } finally {
    await there.end();
    await pool.query(`DROP TABLE IF EXISTS public.${table}`);
    await pool.query(`DROP DATABASE ${other} WITH (FORCE)`);
  }
});

test("a multi-step job's SQL step logs keep the diagnostics; the job's history has no stack trace", async () => {
  await st.as(pool, mallory, `SELECT * FROM ${s}.define_job('diag-steps', 'diag-steps', job_type => 'steps')`);
  await st.as(pool, mallory, `SELECT ${s}.set_steps('diag-steps', $1)`, [JSON.stringify([
    { name: 'noisy', kind: 'sql', command: "DO $$ BEGIN RAISE NOTICE 'half way'; RAISE EXCEPTION 'bad row' USING HINT = 'fix it'; END $$", on_error: 'ignore' },
    { name: 'divide', kind: 'sql', command: 'SELECT 1/0' },
  ])]);
  const runId = Number((await st.as(pool, mallory, `SELECT ${s}.trigger_job('diag-steps') AS id`)).rows[0].id);
  await drain(install.node());
  const steps = await pool.query(`SELECT name, status, output FROM ${s}.step_logs WHERE run_id = $1 ORDER BY step_log_id`, [runId]);
  assert.deepEqual(steps.rows.map((r) => [r.name, r.status, r.output?.diagnostics?.sqlstate, r.output?.diagnostics?.hint ?? null, r.output?.notices]), [
    ['noisy', 'ignored', 'P0001', 'fix it', ['NOTICE: half way']],
    ['divide', 'failed', '22012', null, []],
  ]);
  const { rows } = await pool.query(`SELECT status, message, sqlstate, output FROM ${s}.job_logs WHERE run_id = $1`, [runId]);
  assert.equal(rows.length, 1);
  assert.match(rows[0].message, /step 2 \(divide\) failed: division by zero/);
  assert.equal(rows[0].sqlstate, null, 'a steps job has per-step diagnostics, not one SQLSTATE');
  assert.doesNotMatch(JSON.stringify(rows[0].output), /stack|\/src\/|\/dist\//, JSON.stringify(rows[0].output));
});
