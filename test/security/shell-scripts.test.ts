/**
 * /bin/sh shell jobs (issue #14, item 12) against a hostile tenant: a role granted job_scheduler
 * but not kairos_shell cannot get a command line run by /bin/sh on the agent's host — not through
 * define_job with `options.shell`, not through seed 000's add_or_update_job (whose shell jobs are
 * /bin/sh command lines), not through a pgAgent-style batch step, and not by writing the rows
 * around the API (INSERT into jobs, turning its own SQL job into a shell script). The oracle is a
 * file the command would create.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stage } from './tenants.js';
import { eventually } from '../helpers.js';

const st = await stage();
const { s, pool } = st.superuserInstall;
const dir = mkdtempSync(join(tmpdir(), 'kairos-sh-attack-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const proof = (name: string): string => join(dir, `${name}.txt`);
const script = (name: string): string => `echo pwned | tee ${proof(name)} > /dev/null`;

test('a tenant without kairos_shell cannot define a /bin/sh shell job or step through the SQL API', async () => {
  const attempts: Array<[string, string, unknown[]]> = [
    ['define_job with options.shell', `SELECT ${s}.define_job($1, $2, job_type => 'shell', options => '{"shell": true}')`, ['sh-define', script('sh-define')]],
    ['seed 000 add_or_update_job', `SELECT ${s}.add_or_update_job($1, 'shell', $2, interval '1 minute')`, ['sh-seed', script('sh-seed')]],
  ];
  for (const [what, sql, values] of attempts) {
    await assert.rejects(st.as(pool, st.mallory, sql, values), /kairos_shell/, what);
  }
  await st.as(pool, st.mallory, `SELECT ${s}.define_job('sh-steps', 'sh-steps', job_type => 'steps')`);
  await assert.rejects(
    st.as(pool, st.mallory, `SELECT ${s}.set_steps('sh-steps', $1)`, [JSON.stringify([{ name: 'x', kind: 'shell', command: script('sh-steps') }])]),
    /kairos_shell/, 'a batch step',
  );
  assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${s}.jobs WHERE job_type = 'shell'`)).rows[0].n, 0, 'no shell job stored');
});

test('a shell script written around the API (INSERT, or an UPDATE of its own SQL job) never runs, even on an agent that allows shell', async () => {
  const inserted = await st.as(pool, st.mallory,
    `INSERT INTO ${s}.jobs (job_name, job_type, command, options, schedule_kind, next_run) VALUES ('sh-insert', 'shell', $1, '{"shell": true}', 'manual', NULL) RETURNING job_id`,
    [script('sh-insert')]).then(() => true, () => false);
  await st.as(pool, st.mallory, `SELECT ${s}.define_job('sh-update', 'SELECT 1')`);
  const updated = await st.as(pool, st.mallory, `UPDATE ${s}.jobs SET job_type = 'shell', command = $1, options = '{"shell": true}' WHERE job_name = 'sh-update'`, [script('sh-update')])
    .then(() => true, () => false);
  const node = st.superuserInstall.node({ allowShell: true, pollInterval: 100 });
  await node.start();
  const runs: number[] = [];
  for (const [name, written] of [['sh-insert', inserted], ['sh-update', updated]] as const) {
    if (!written) continue;
    // A run of the tampered job, as the tenant would ask for one.
    const id = await st.as(pool, st.mallory, `SELECT ${s}.trigger_job($1) AS id`, [name]).then((r) => Number(r.rows[0].id), () => null);
    if (id !== null) runs.push(id);
  }
  // Row-level security lets a tenant write its own job rows (T6); what such a row asks for is
  // checked again when it runs. Both writes are accepted today, so both runs must exist here.
  assert.equal(runs.length, [inserted, updated].filter(Boolean).length, 'a run of each tampered job');
  assert.ok(runs.length > 0 || (!inserted && !updated), 'either refused at write time or run (and refused) below');
  for (const id of runs) {
    await eventually(async () => (await pool.query(`SELECT count(*)::int AS n FROM ${s}.job_logs WHERE run_id = $1`, [id])).rows[0].n > 0, { timeoutMs: 15_000, what: `run ${id} finished` });
  }
  await node.stop();
  for (const name of ['sh-define', 'sh-seed', 'sh-steps', 'sh-insert', 'sh-update']) assert.equal(existsSync(proof(name)), false, `${name}'s command did not run`);
  const logs = await pool.query(`SELECT status, message FROM ${s}.job_logs WHERE run_id = ANY($1::bigint[])`, [runs]);
  assert.equal(logs.rows.length, runs.length);
  for (const row of logs.rows) {
    assert.equal(row.status, 'failed', row.message);
    assert.match(row.message, /kairos_shell/, 'refused for the missing shell role');
  }
});
