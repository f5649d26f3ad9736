// A SQL job whose connection dies mid-statement is handed back, not failed — a bounded number of
// times — and its node survives the dead connection (found by the database-faults scenario).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually } from '../helpers.js';

const db = await fixture();
const s = `"${db.schema}"`;

test('a SQL job that loses its connection is handed back (rolled back each time), then fails after retries + maxRescues', async () => {
  const table = `${s}.handback_effects`;
  await db.pool.query(`CREATE TABLE ${table} (n int)`);
  // Its own backend is terminated mid-job, as a server restart or pg_terminate_backend would.
  await db.pool.query(`SELECT 1 FROM ${s}.define_job('cut-off', $1, retries => 1)`, [`INSERT INTO ${table} VALUES (1); SELECT pg_terminate_backend(pg_backend_pid())`]);
  const node = db.node({ runSqlJobs: true, maxRescues: 1, pollInterval: 100, rescueInterval: 100 });
  await node.start();
  const runId = Number((await db.pool.query(`SELECT ${s}.trigger_job('cut-off') AS id`)).rows[0].id);
  const final = "status IN ('failed', 'completed')";
  await eventually(async () => (await db.count('job_logs', `run_id = $1 AND ${final}`, [runId])) === 1, 20_000, 'the run to end');
  const logs = await db.pool.query(`SELECT attempt, status, message FROM ${s}.job_logs WHERE run_id = $1 ORDER BY log_id`, [runId]);
  // retries 1 + maxRescues 1: attempts 1 and 2 are handed back, attempt 3 is a plain failure.
  assert.deepEqual(logs.rows.map((r) => `${r.attempt}:${r.status}`), ['1:released', '2:released', '3:failed']);
  assert.match(String(logs.rows[0].message), /database connection lost/);
  assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 0, 'every cut-off attempt rolled back');
  assert.equal(await db.count('runs'), 0, 'nothing left in the queue');
  // The node is alive and well: it still runs jobs.
  await db.pool.query(`SELECT 1 FROM ${s}.define_job('fine', $1)`, [`INSERT INTO ${table} VALUES (2)`]);
  const fine = Number((await db.pool.query(`SELECT ${s}.trigger_job('fine') AS id`)).rows[0].id);
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'completed'", [fine])) === 1, 10_000, 'a later job to complete');
  await node.stop();
});
