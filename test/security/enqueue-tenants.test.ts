/**
 * Issue #13, one owner per rule: the SQL API's enqueue() goes through insert_runs (migration
 * 0019), the TypeScript batch path's statement, as the caller. A tenant (a role granted
 * job_scheduler) may enqueue with each conflict policy, its 'replace' replaces every option of its
 * own pending run (the column grants and policies of 0014 and 0015 allow it), and a key held by
 * another role's run is refused with unique_violation under every policy, as before, without
 * changing that run or telling its id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stage, type Installation } from './tenants.js';

const st = await stage();
const { mallory, victor } = st;

const FIELDS = 'task, queue, priority, payload, key, status, run_at, expires_at, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key, owner';

for (const install of [st.superuserInstall, st.ownerInstall] as Installation[]) {
  const { s, pool } = install;
  const as = (role: string, sql: string, values: unknown[] = []) => st.as(pool, role, sql, values);
  const id = async (role: string, sql: string, values: unknown[] = []): Promise<number> => (await as(role, sql, values)).rows[0].id as number;
  const row = async (runId: number): Promise<Record<string, unknown>> =>
    (await pool.query(`SELECT ${FIELDS} FROM ${s}.runs WHERE run_id = $1`, [runId])).rows[0];
  const label = install.superuser ? 'superuser agent' : 'owner agent';

  test(`a tenant enqueues with raise, ignore and replace (${label})`, async () => {
    const at = '2031-05-01T00:00:00Z';
    const first = await id(mallory, `SELECT ${s}.enqueue('t-own', '{"v": 1}', job_key => 'k', run_at => $1) AS id`, [at]);
    assert.ok(await id(mallory, `SELECT ${s}.enqueue('t-own', '{}') AS id`) > first, 'raise without a key');
    await assert.rejects(as(mallory, `SELECT ${s}.enqueue('t-own', '{"v": 2}', job_key => 'k')`), (e: { code?: string }) => e.code === '23505');
    assert.equal(await id(mallory, `SELECT ${s}.enqueue('t-own', '{"v": 3}', job_key => 'k', conflict => 'ignore') AS id`), first);
    assert.deepEqual((await row(first)).payload, { v: 1 });
    const fresh = await id(mallory, `SELECT ${s}.enqueue('t-own', '{"v": 4}', job_key => 'k2', conflict => 'ignore') AS id`);
    assert.equal((await row(fresh)).owner, mallory);
    // A run of its own with every option set (as the engine would write it), then replaced from SQL.
    await pool.query(`UPDATE ${s}.runs SET timeout_ms = 5000, backoff_ms = 7, backoff_max_ms = 70, lock_key = 't-own', expires_at = run_at + interval '1 hour' WHERE run_id = $1`, [first]);
    const replaced = await id(mallory, `SELECT ${s}.enqueue('t-own', '{"v": 5}', job_key => 'k', conflict => 'replace', priority => 2, queue => 'q', retries => 0, run_at => $1, delay => '30 seconds') AS id`, [at]);
    assert.equal(replaced, first);
    const r = await row(first);
    assert.deepEqual([r.payload, r.priority, r.queue, r.max_retries, (r.run_at as Date).toISOString(), r.expires_at, r.timeout_ms, r.backoff_ms, r.backoff_max_ms, r.lock_key, r.owner],
      [{ v: 5 }, 2, 'q', 0, '2031-05-01T00:00:30.000Z', null, null, 1000, 3_600_000, null, mallory]);
    // 'replace' with a key no run holds inserts.
    const inserted = await id(mallory, `SELECT ${s}.enqueue('t-own', '{}', job_key => 'k3', conflict => 'replace') AS id`);
    assert.equal((await row(inserted)).key, 'k3');
    // Its own running run is not replaced: the message and SQLSTATE of before.
    await pool.query(`UPDATE ${s}.runs SET status = 'running', node_id = 'n', attempt = 1 WHERE run_id = $1`, [inserted]);
    await assert.rejects(as(mallory, `SELECT ${s}.enqueue('t-own', '{"v": 6}', job_key => 'k3', conflict => 'replace')`),
      (e: { code?: string; message: string }) => e.code === '23505' && e.message === `run ${inserted} with key 'k3' is already running; replace only applies to pending runs`);
  });

  test(`a tenant cannot replace, ignore into or learn the id of another role's run (${label})`, async () => {
    const pending = await id(victor, `SELECT ${s}.enqueue('shared', '{"victor": 1}', job_key => 'p', run_at => now() + interval '1 hour') AS id`);
    const running = await id(victor, `SELECT ${s}.enqueue('shared', '{"victor": 2}', job_key => 'r') AS id`);
    await pool.query(`UPDATE ${s}.runs SET status = 'running', node_id = 'n', attempt = 1 WHERE run_id = $1`, [running]);
    const before = [await row(pending), await row(running)];
    for (const key of ['p', 'r']) {
      for (const conflict of ['raise', 'ignore', 'replace']) {
        const what = `${conflict} on victor's ${key === 'p' ? 'pending' : 'running'} run`;
        await assert.rejects(as(mallory, `SELECT ${s}.enqueue('shared', '{"mallory": 1}', job_key => $1, conflict => $2)`, [key, conflict]),
          (e: { code?: string; message: string }) => {
            assert.equal(e.code, '23505', what);
            assert.doesNotMatch(e.message, new RegExp(`\\b(${pending}|${running})\\b`), what);
            return true;
          });
      }
    }
    assert.deepEqual([await row(pending), await row(running)], before, 'victor\'s runs are unchanged');
    assert.equal(Number((await pool.query(`SELECT count(*) AS n FROM ${s}.runs WHERE task = 'shared'`)).rows[0].n), 2, 'mallory inserted nothing');
    // And insert_runs itself, called directly: the same refusals (no row for a key it cannot see).
    const items = JSON.stringify([{ task: 'shared', queue: 'default', priority: 5, key: 'p', max_retries: 0, backoff_ms: 1, backoff_max_ms: 1, payload: {} }]);
    for (const conflict of ['ignore', 'replace']) {
      const { rows } = await as(mallory, `SELECT * FROM ${s}.insert_runs($1, NULL, NULL, $2)`, [items, conflict]);
      assert.deepEqual(rows.map((r) => [r.run_id, r.inserted]), [[null, false]], conflict);
    }
    assert.deepEqual([await row(pending), await row(running)], before);
  });
}

test('a tenant may not write the newly granted columns of another role\'s run, nor an arbitrary lock key on its own', async () => {
  const { s, pool } = st.superuserInstall;
  const victorRun = (await st.as(pool, victor, `SELECT ${s}.enqueue('v-task', '{}', job_key => 'v') AS id`)).rows[0].id as number;
  const own = (await st.as(pool, mallory, `SELECT ${s}.enqueue('m-task', '{}', job_key => 'm') AS id`)).rows[0].id as number;
  const update = (sql: string, value: number): Promise<string> => st.as(pool, mallory, sql, [value]).then((r) => `changed ${r.rowCount}`, (e: { code?: string }) => `refused ${e.code}`);
  assert.equal(await update(`UPDATE ${s}.runs SET timeout_ms = 1, backoff_ms = 1, backoff_max_ms = 1, expires_at = now() WHERE run_id = $1`, victorRun), 'changed 0');
  assert.equal(await update(`UPDATE ${s}.runs SET lock_key = 'v-task' WHERE run_id = $1`, own), 'refused 42501');
  assert.equal(await update(`UPDATE ${s}.runs SET lock_key = 'm-task', timeout_ms = 1000 WHERE run_id = $1`, own), 'changed 1');
});
