import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';

const db = await fixture();
const s = `"${db.schema}"`;
const dana = `dana_${randomBytes(3).toString('hex')}`;
await db.pool.query(`CREATE ROLE ${dana} NOLOGIN`);
await db.pool.query(`CREATE TABLE public.${dana}_t (step text); ALTER TABLE public.${dana}_t OWNER TO ${dana}`);
after(async () => {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS public.${dana}_t`);
  await client.query(`DROP OWNED BY ${dana}; DROP ROLE ${dana}`).catch(() => undefined);
  await client.end();
});

const lastLog = async (name: string) => (await db.pool.query(`SELECT l.* FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id) WHERE j.job_name = $1 ORDER BY log_id DESC LIMIT 1`, [name])).rows[0];
const define = (name: string, type: string, command: string, extra = '') =>
  db.pool.query(`SELECT * FROM ${s}.define_job(job_name => $1, command => $2, job_type => $3, run_as => $4 ${extra})`, [name, command, type, dana]);

test('shell jobs: refused unless the node allows them and the owner holds the shell role', async () => {
  await db.pool.query(`GRANT kairos_shell TO ${dana}`);
  await define('echo', 'shell', 'printf "hello %s" world');
  await db.pool.query(`REVOKE kairos_shell FROM ${dana}`);
  const noShell = db.node({ runSqlJobs: true, allowShell: false, queues: ['default'] });
  const shellNode = db.node({ runSqlJobs: true, allowShell: true });
  // A node without --allow-shell does not even claim shell jobs.
  const runId = await noShell.trigger('echo');
  assert.equal(await drain(noShell), 0);
  assert.equal(await drain(shellNode), 1);
  let log = await lastLog('echo');
  assert.equal(log.status, 'failed');
  assert.match(log.message, /must be a member of role|need their owner to be a member of role kairos_shell/);
  await db.pool.query(`GRANT kairos_shell TO ${dana}`);
  await shellNode.trigger('echo');
  await drain(shellNode);
  log = await lastLog('echo');
  assert.equal(log.status, 'completed', log.message);
  assert.equal(log.output.stdout, 'hello world');
  assert.equal(log.output.exitCode, 0);
  assert.ok(runId > 0);
});

test('shell jobs: exit codes, stderr and timeouts are recorded', async () => {
  await db.pool.query(`GRANT kairos_shell TO ${dana}`);
  await define('fails', 'shell', `sh -c 'echo oops >&2; exit 3'`);
  await define('hangs', 'shell', 'sleep 30', ", timeout => '300 milliseconds'");
  const node = db.node({ runSqlJobs: true, allowShell: true });
  await node.trigger('fails');
  await node.trigger('hangs');
  await drain(node);
  const failed = await lastLog('fails');
  assert.equal(failed.status, 'failed');
  assert.equal(failed.message, 'exit code 3: oops');
  assert.equal(failed.output.exitCode, 3);
  await define('envy', 'shell', 'echo "$GREETING from $(pwd)"', `, options => '{"shell": true, "env": {"GREETING": "hi"}, "cwd": "/tmp"}'`);
  await node.trigger('envy');
  await drain(node);
  const envy = await lastLog('envy');
  assert.equal(envy.status, 'completed', envy.message);
  assert.equal(envy.output.stdout, 'hi from /tmp\n');
  const hung = await lastLog('hangs');
  assert.equal(hung.status, 'failed');
  assert.match(hung.message, /timed out after 300 ms/);
});

test('multi-step jobs: on-error rules, step logs, and resumable steps on retry', async () => {
  await db.pool.query(`GRANT kairos_shell TO ${dana}`);
  await define('pipeline', 'steps', 'pipeline', ", retries => 1");
  await db.pool.query(`SELECT ${s}.set_steps('pipeline', $1)`, [JSON.stringify([
    { name: 'extract', kind: 'sql', command: `INSERT INTO public.${dana}_t VALUES ('extract')`, resumable: true },
    { name: 'optional', kind: 'sql', command: 'SELECT 1/0', on_error: 'ignore' },
    { name: 'lenient', kind: 'shell', command: 'false', on_error: 'success' },
    { name: 'load', kind: 'sql', command: `INSERT INTO public.${dana}_t SELECT 'load' WHERE (SELECT count(*) FROM public.${dana}_t WHERE step = 'load-ready') > 0` },
    { name: 'must-pass', kind: 'sql', command: `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM public.${dana}_t WHERE step = 'load-ready') THEN RAISE EXCEPTION 'not ready'; END IF; END $$` },
  ])]);
  const clock = new TestClock(new Date());
  const node = db.node({ clock, runSqlJobs: true, allowShell: true });
  const runId = await node.trigger('pipeline');
  await drain(node);
  let steps = await db.pool.query(`SELECT attempt, name, status FROM ${s}.step_logs WHERE run_id = $1 ORDER BY step_log_id`, [runId]);
  assert.deepEqual(steps.rows.map((r) => `${r.attempt}:${r.name}:${r.status}`), ['1:extract:succeeded', '1:optional:ignored', '1:lenient:succeeded', '1:load:succeeded', '1:must-pass:failed']);
  assert.equal((await lastLog('pipeline')).status, 'retrying');
  assert.match((await lastLog('pipeline')).message, /step 5 \(must-pass\) failed: not ready/);
  // Fix the cause; the retry skips the resumable step that already succeeded.
  await db.pool.query(`INSERT INTO public.${dana}_t VALUES ('load-ready')`);
  clock.advance(60_000);
  await drain(node);
  steps = await db.pool.query(`SELECT name, status FROM ${s}.step_logs WHERE run_id = $1 AND attempt = 2 ORDER BY step_log_id`, [runId]);
  assert.deepEqual(steps.rows.map((r) => `${r.name}:${r.status}`), ['extract:skipped', 'optional:ignored', 'lenient:succeeded', 'load:succeeded', 'must-pass:succeeded']);
  assert.equal((await lastLog('pipeline')).status, 'completed');
  const rows = await db.pool.query(`SELECT step, count(*)::int AS n FROM public.${dana}_t GROUP BY 1 ORDER BY 1`);
  assert.deepEqual(rows.rows, [{ step: 'extract', n: 1 }, { step: 'load', n: 1 }, { step: 'load-ready', n: 1 }]);
});
