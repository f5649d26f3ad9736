import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fixture, eventually } from '../helpers.js';

const db = await fixture();
const s = `"${db.schema}"`;

test('a SQL job is exactly once across a kill -9 of the agent running it', async () => {
  const table = `public.crash_${db.schema}`;
  await db.pool.query(`CREATE TABLE ${table} (n int)`);
  try {
    await db.pool.query(`SELECT * FROM ${s}.define_job('crashy', $1, run_as => current_user)`, [`INSERT INTO ${table} VALUES (1); SELECT pg_sleep(2)`]);
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/sql-agent.ts', db.connectionString, db.schema], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      child.on('exit', () => reject(new Error('agent exited early')));
    });
    const runId = (await db.pool.query(`SELECT ${s}.trigger_job('crashy') AS id`)).rows[0].id;
    // The command runs inside its owner's function (see src/executors/sql/run.ts): wait for that call.
    // pg_stat_activity is server-wide (other files run SQL jobs too): this run is running here, and
    // some job sleeps inside its owner's function.
    await eventually(async () => (await db.pool.query(`SELECT EXISTS (SELECT 1 FROM ${s}.runs WHERE run_id = $1 AND status = 'running')
      AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_temp.kairos_run_job%' AND wait_event = 'PgSleep' AND state = 'active') AS ok`, [runId])).rows[0].ok, 10_000, 'the job to start');
    child.kill('SIGKILL');
    // Its transaction dies with its connection; the lease runs out and another node takes over.
    const heir = db.node({ runSqlJobs: true, rescueInterval: 200, pollInterval: 200 });
    await heir.start();
    await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'completed'", [runId])) === 1, 20_000, 'the rescued run to complete');
    await heir.stop();
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 1, 'the insert happened exactly once');
    const logs = await db.pool.query(`SELECT attempt, status FROM ${s}.job_logs WHERE run_id = $1 ORDER BY log_id`, [runId]);
    assert.deepEqual(logs.rows, [{ attempt: 1, status: 'rescued' }, { attempt: 2, status: 'completed' }]);
  } finally {
    await db.pool.query(`DROP TABLE ${table}`);
  }
});
