/**
 * The job page's History table over HTTP against a real PostgreSQL: each attempt's start,
 * duration and node. Its Duration column was "—" on every row (issue #14, defect 18): the query's
 * extract() is numeric since PostgreSQL 14, which node-pg reads as a string, and formatMs shows a
 * dash for anything but a finite number.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { drain } from '../../src/testing/index.js';
import { Client, serve } from './serve.js';

const db = await fixture();
const s = `"${db.schema}"`;
const open = await serve({ pool: db.pool, schema: db.schema });

const define = async (name: string, command: string): Promise<number> =>
  Number((await db.pool.query(`SELECT job_id FROM ${s}.define_job(job_name => $1, command => $2, run_as => current_user)`, [name, command])).rows[0].job_id);

/** The History table's row of run `runId` on the page of job `jobId`. */
async function historyRow(jobId: number, runId: number): Promise<string> {
  const page = await new Client(open).request(`/jobs/${jobId}`);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const table = /<table class="grid history">[\s\S]*?<\/table>/.exec(page.text)?.[0];
  assert.ok(table, 'the page has a History table');
  const row = new RegExp(`<tr><td>${runId}</td>[\\s\\S]*?</tr>`).exec(table)?.[0];
  assert.ok(row, `a history row for run ${runId}`);
  return row;
}

test('the History table shows each recorded duration (and a dash only where none was recorded)', async () => {
  const id = await define('history-durations', 'SELECT 1');
  await db.pool.query(
    `INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status, run_time, finished_at, duration, node_id, message)
     VALUES ($1, 515151, '@sql', 'default', 1, 'completed', '2026-03-01 10:00:00+00', '2026-03-01 10:00:03.25+00', interval '3250 ms', 'node-h1', 'ok'),
            ($1, 515152, '@sql', 'default', 1, 'failed', '2026-03-01 11:00:00+00', '2026-03-01 11:00:00.85+00', interval '850 ms', 'node-h2', 'boom'),
            ($1, 515153, '@sql', 'default', 1, 'expired', NULL, '2026-03-01 12:00:00+00', NULL, NULL, 'never started')`,
    [id],
  );
  const completed = await historyRow(id, 515151);
  assert.match(completed, /<td><time datetime="2026-03-01T10:00:00.000Z">[^<]*<\/time><\/td><td>3\.3 s<\/td><td>node-h1<\/td>/);
  assert.match(await historyRow(id, 515152), /<td>850 ms<\/td><td>node-h2<\/td>/);
  // Never started: no duration and no node, shown as dashes (not "0 ms").
  assert.match(await historyRow(id, 515153), /<td>—<\/td><td>—<\/td>/);
});

test('an attempt a node ran shows its measured duration and the node', async () => {
  const id = await define('history-ran', 'SELECT pg_sleep(0.05)');
  const node = db.node({ runSqlJobs: true });
  const runId = await node.trigger('history-ran');
  assert.equal(await drain(node), 1);
  const [{ ms }] = (await db.pool.query(`SELECT extract(epoch FROM duration)::float8 * 1000 AS ms FROM ${s}.job_logs WHERE run_id = $1`, [runId])).rows;
  assert.ok(ms >= 50 && ms < 1000, `recorded duration ${ms} ms`);
  const row = await historyRow(id, runId);
  assert.match(row, new RegExp(`<td>${Math.round(ms)} ms</td><td>${node.nodeId}</td>`));
});
