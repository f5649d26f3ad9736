/**
 * Issue #14, part 1: the task registry (`tasks`, migration 0032) gives the run options of runs
 * whose enqueuer did not give them, for every role's runs. Only the agent (the schema's owner, or
 * a superuser) writes it, at start(); a tenant (a job_scheduler member) reads it through its own
 * inserts and cannot write it, so it cannot make another tenant's runs exclusive or not, nor
 * change their timeout, retries, queue or priority.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTask } from '../../src/index.js';
import { stage, type Installation } from './tenants.js';

const st = await stage();
const { mallory, victor } = st;

for (const install of [st.superuserInstall, st.ownerInstall] as Installation[]) {
  const { s, pool } = install;
  const as = (role: string, sql: string, values: unknown[] = []) => st.as(pool, role, sql, values);
  const label = install.superuser ? 'superuser agent' : 'owner agent';
  const denied = (e: { code?: string }) => e.code === '42501';

  test(`a tenant cannot write the task registry; the agent's published definition applies to every tenant's runs (${label})`, async () => {
    const node = install.node({ queues: ['none'], tasks: { guarded: defineTask(async () => undefined, { exclusive: true, timeout: 4000, retries: 6 }) } });
    await node.start();
    const published = (await pool.query(`SELECT lock_key, timeout_ms, max_retries FROM ${s}.tasks WHERE task = 'guarded'`)).rows;
    assert.deepEqual(published, [{ lock_key: 'task:guarded', timeout_ms: 4000, max_retries: 6 }]);

    await assert.rejects(as(mallory, `UPDATE ${s}.tasks SET lock_key = NULL, timeout_ms = NULL WHERE task = 'guarded'`), denied);
    await assert.rejects(as(mallory, `DELETE FROM ${s}.tasks WHERE task = 'guarded'`), denied);
    await assert.rejects(as(mallory, `INSERT INTO ${s}.tasks (task, lock_key) VALUES ('victims-task', 'lock:x')`), denied);
    await assert.rejects(as(mallory, `INSERT INTO ${s}.tasks (task) VALUES ('guarded') ON CONFLICT (task) DO UPDATE SET lock_key = NULL`), denied);
    await assert.rejects(as(mallory, `TRUNCATE ${s}.tasks`), denied);
    assert.deepEqual((await pool.query(`SELECT lock_key, timeout_ms, max_retries FROM ${s}.tasks WHERE task = 'guarded'`)).rows, published);
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${s}.tasks WHERE task = 'victims-task'`)).rows[0].n, 0);

    // Both tenants' runs get the agent's definition; an explicit option of one tenant is its own run's only.
    const mine = (await as(mallory, `SELECT ${s}.enqueue('guarded', '{}', run_at => now() + interval '1 hour', retries => 0) AS id`)).rows[0].id;
    const theirs = (await as(victor, `SELECT ${s}.enqueue('guarded', '{}', run_at => now() + interval '1 hour') AS id`)).rows[0].id;
    const row = async (id: unknown) => (await pool.query(`SELECT owner, lock_key, timeout_ms, max_retries FROM ${s}.runs WHERE run_id = $1`, [id])).rows[0];
    assert.deepEqual(await row(mine), { owner: mallory, lock_key: 'task:guarded', timeout_ms: 4000, max_retries: 0 });
    assert.deepEqual(await row(theirs), { owner: victor, lock_key: 'task:guarded', timeout_ms: 4000, max_retries: 6 });
    // The published lock is the only one a tenant's run of the task may carry.
    await assert.rejects(as(mallory, `SELECT * FROM ${s}.insert_runs('[{"task": "guarded", "payload": {}, "lock_key": "lock:other"}]', NULL, NULL, 'raise')`), denied);
    await node.stop();
  });
}
