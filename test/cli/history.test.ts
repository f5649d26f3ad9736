/**
 * The CLI in the glossary's words (issue #13): `kairos history` lists the history (`kairos logs`
 * stays as its compatibility alias), and `jobs show` says "failure limit" and "consecutive failures".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { kairos } from './run-cli.js';

const db = await fixture();
const base = ['--database-url', db.connectionString, '--schema', db.schema];
const s = `"${db.schema}"`;
const jobId = Number((await db.pool.query(`SELECT job_id FROM ${s}.define_job(job_name => 'fragile', command => 'SELECT 1', every => '1 hour', max_attempts => 4)`)).rows[0].job_id);
await db.pool.query(
  `INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status, finished_at, message)
   VALUES ($1, 7001, '@sql', 'default', 1, 'failed', now() - interval '1 minute', 'boom'), (NULL, 7002, 'other', 'default', 1, 'completed', now(), NULL)`,
  [jobId],
);

test('kairos history lists the history, newest first; `history list` is the same; `kairos logs` is its alias', async () => {
  const history = await kairos(['history', ...base, '--json']);
  assert.equal(history.code, 0, history.stderr);
  const entries = JSON.parse(history.stdout) as Array<{ runId: number; jobName: string | null; task: string; status: string; message: string | null }>;
  assert.deepEqual(entries.map((e) => [e.runId, e.jobName ?? e.task, e.status]), [[7002, 'other', 'completed'], [7001, 'fragile', 'failed']]);
  const listed = await kairos(['history', 'list', ...base, '--job', 'fragile', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), entries.filter((e) => e.jobName === 'fragile'));
  const logs = await kairos(['logs', ...base, '--json']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.deepEqual(JSON.parse(logs.stdout), entries, '`kairos logs` runs `kairos history`');
  const help = await kairos(['history', '--help']);
  assert.match(help.stdout, /Usage: kairos history\|logs/);
  assert.match(help.stdout, /list \[options\]\s+the history, newest first/);
  assert.match(help.stdout, /purge \[options\]/);
});

test('kairos jobs show gives the failure limit and the consecutive failures', async () => {
  await db.pool.query(`UPDATE ${s}.jobs SET current_attempts = 2 WHERE job_id = $1`, [jobId]);
  const text = await kairos(['jobs', 'show', ...base, 'fragile']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^failure_limit\s+4$/m);
  assert.match(text.stdout, /^consecutive_failures\s+2$/m);
  const json = JSON.parse((await kairos(['jobs', 'show', ...base, 'fragile', '--json'])).stdout) as Record<string, unknown>;
  assert.deepEqual([json.disableAfterFailures, json.consecutiveFailures], [4, 2]);
  assert.deepEqual([json.maxAttempts, json.currentAttempts], [4, 2], 'the deprecated aliases, with the same values');
});
