/**
 * What the history records of an attempt's time, for every job type: run_time (when it started),
 * finished_at (when it ended) and duration (how long it ran). A SQL job records its completion
 * inside its own transaction, whose now() is the time the transaction began: finished_at must
 * still be the real end (issue #14, defect 14), and a test clock must still be honoured.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';

const db = await fixture();
const s = `"${db.schema}"`;
const erin = `erin_${randomBytes(3).toString('hex')}`;
await db.pool.query(`CREATE ROLE ${erin} NOLOGIN`);
await db.pool.query(`GRANT kairos_shell TO ${erin}`);
after(async () => {
  // The fixture's own cleanup ends db.pool first: use a client of our own.
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  await client.query(`DROP OWNED BY ${erin}; DROP ROLE ${erin}`).catch(() => undefined);
  await client.end();
});

/** How long each job below sleeps, in ms. */
const SLEEP_MS = 300;
/**
 * Rounding slack, in ms: the history keeps microseconds, and duration is measured by the node
 * (performance.now()) while run_time and finished_at are read from the database's clock.
 */
const SLACK_MS = 5;

const define = (name: string, type: string, command: string) =>
  db.pool.query(`SELECT * FROM ${s}.define_job(job_name => $1, command => $2, job_type => $3, run_as => $4)`, [name, command, type, erin]);

interface Times { status: string; started: number; finished: number; durationMs: number; message: string | null }
/** The last history entry of a run, its times as epoch ms (to the microsecond) and its duration in ms. */
async function times(runId: number): Promise<Times> {
  const { rows } = await db.pool.query(
    `SELECT status, message, extract(epoch FROM run_time)::float8 * 1000 AS started, extract(epoch FROM finished_at)::float8 * 1000 AS finished,
            extract(epoch FROM duration)::float8 * 1000 AS duration_ms
       FROM ${s}.job_logs WHERE run_id = $1 ORDER BY log_id DESC LIMIT 1`,
    [runId],
  );
  assert.ok(rows[0], `a history entry for run ${runId}`);
  return { status: rows[0].status, message: rows[0].message, started: rows[0].started, finished: rows[0].finished, durationMs: rows[0].duration_ms };
}

/**
 * The attempt ran at least SLEEP_MS, and the node's measure of it lies within what the database
 * saw: it started after the claim (run_time) and was recorded after it ended (finished_at).
 */
function assertTimes(what: string, t: Times, status: string): void {
  assert.equal(t.status, status, `${what}: ${t.message}`);
  assert.ok(t.durationMs >= SLEEP_MS, `${what}: duration ${t.durationMs} ms is at least the ${SLEEP_MS} ms it slept`);
  const elapsed = t.finished - t.started;
  assert.ok(elapsed >= SLEEP_MS, `${what}: finished_at is ${elapsed} ms after run_time, not at least the ${SLEEP_MS} ms it slept`);
  assert.ok(t.durationMs <= elapsed + SLACK_MS, `${what}: duration ${t.durationMs} ms fits between run_time and finished_at (${elapsed} ms)`);
}

test('a SQL job records its real finish: finished_at is after run_time by at least what it ran, not its transaction\'s start', async () => {
  await define('sleepy-sql', 'sql', `SELECT pg_sleep(${SLEEP_MS / 1000})`);
  await define('sleepy-sql-fails', 'sql', `SELECT pg_sleep(${SLEEP_MS / 1000}); SELECT 1/0`);
  const node = db.node({ runSqlJobs: true });
  const ok = await node.trigger('sleepy-sql');
  const failed = await node.trigger('sleepy-sql-fails');
  assert.equal(await drain(node), 2);
  assertTimes('completed SQL job (recorded in its own transaction)', await times(ok), 'completed');
  assertTimes('failed SQL job', await times(failed), 'failed');
});

test('task, shell and multi-step jobs: duration and finished_at', async () => {
  await define('sleepy-shell', 'shell', `sleep ${SLEEP_MS / 1000}`);
  await define('sleepy-steps', 'steps', 'sleepy-steps');
  await db.pool.query(`SELECT ${s}.set_steps('sleepy-steps', $1)`, [JSON.stringify([
    { name: 'first', kind: 'sql', command: `SELECT pg_sleep(${SLEEP_MS / 2000})` },
    { name: 'second', kind: 'shell', command: `sleep ${SLEEP_MS / 2000}` },
  ])]);
  const node = db.node({ runSqlJobs: true, allowShell: true, tasks: { sleepy: () => new Promise((resolve) => setTimeout(resolve, SLEEP_MS)) } });
  const task = (await node.enqueue('sleepy', {})).id;
  const shell = await node.trigger('sleepy-shell');
  const steps = await node.trigger('sleepy-steps');
  assert.equal(await drain(node), 3);
  assertTimes('task', await times(task), 'completed');
  assertTimes('shell job', await times(shell), 'completed');
  assertTimes('multi-step job', await times(steps), 'completed');
});

test('with a test clock, a SQL job\'s finished_at is the clock\'s time (the injected now is honoured)', async () => {
  await define('clocked-sql', 'sql', `SELECT pg_sleep(${SLEEP_MS / 1000})`);
  const clock = new TestClock('2031-05-06T07:08:09.000Z');
  const node = db.node({ clock, runSqlJobs: true });
  const runId = await node.trigger('clocked-sql');
  assert.equal(await drain(node), 1);
  const t = await times(runId);
  assert.equal(t.status, 'completed', t.message ?? '');
  assert.equal(new Date(t.finished).toISOString(), '2031-05-06T07:08:09.000Z');
  assert.equal(new Date(t.started).toISOString(), '2031-05-06T07:08:09.000Z');
  assert.ok(t.durationMs >= SLEEP_MS, `duration ${t.durationMs} ms is measured, not taken from the clock`);
});

test('step logs take their times from the database clock, or the test clock when one is injected', async () => {
  await define('clocked-steps', 'steps', 'clocked-steps');
  await db.pool.query(`SELECT ${s}.set_steps('clocked-steps', $1)`, [JSON.stringify([{ name: 'nap', kind: 'sql', command: `SELECT pg_sleep(${SLEEP_MS / 1000})` }])]);
  const clock = new TestClock('2031-05-06T07:08:09.000Z');
  const clocked = db.node({ clock, runSqlJobs: true });
  const runId = await clocked.trigger('clocked-steps');
  assert.equal(await drain(clocked), 1);
  const stepTimes = async (id: number) =>
    (await db.pool.query(
      `SELECT finished_at, extract(epoch FROM finished_at - started_at)::float8 * 1000 AS elapsed, extract(epoch FROM duration)::float8 * 1000 AS duration_ms
         FROM ${s}.step_logs WHERE run_id = $1`, [id])).rows[0];
  const withClock = await stepTimes(runId);
  assert.equal(withClock.finished_at.toISOString(), '2031-05-06T07:08:09.000Z', 'the test clock\'s time');
  assert.ok(withClock.duration_ms >= SLEEP_MS && Math.abs(withClock.elapsed - withClock.duration_ms) < 1, 'started_at is the duration before finished_at');
  const node = db.node({ runSqlJobs: true });
  const before = (await db.pool.query('SELECT clock_timestamp() AS t')).rows[0].t as Date;
  const real = await node.trigger('clocked-steps');
  assert.equal(await drain(node), 1);
  const t = await stepTimes(real);
  assert.ok(t.finished_at.getTime() - before.getTime() >= SLEEP_MS, 'finished by the database clock, after the step slept');
});
