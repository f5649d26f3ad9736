/**
 * Issue #14, item 11: where a history message is shown, a SQL job's diagnostics are shown with it:
 * `kairos history` (a sqlstate column, DETAIL and HINT after the message; all four fields in
 * --json), `kairos jobs show`, and the dashboard's History table on the job page.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { drain } from '../../src/testing/index.js';
import { kairos as cli } from '../cli/run-cli.js';
import { Client, serve } from '../dashboard/serve.js';

const db = await fixture();
const s = `"${db.schema}"`;
const base = ['--database-url', db.connectionString, '--schema', db.schema];
const jobId = Number((await db.pool.query(`SELECT job_id FROM ${s}.define_job(job_name => 'diag-shown', command => $1, run_as => current_user)`,
  ["DO $$ BEGIN RAISE NOTICE 'before'; RAISE EXCEPTION 'stuck <order>' USING DETAIL = 'carrier & co refused', HINT = 'retry tomorrow'; END $$"])).rows[0].job_id);
await db.pool.query(`SELECT ${s}.trigger_job('diag-shown')`);
const node = db.node({ runSqlJobs: true });
await drain(node);
await node.stop();

test('kairos history and jobs show give the SQLSTATE, DETAIL and HINT of a failed SQL job', async () => {
  const json = await cli(['history', ...base, '--job', 'diag-shown', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const [entry] = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
  assert.equal(entry?.status, 'failed');
  assert.equal(entry?.sqlstate, 'P0001');
  // --json gives the API's HistoryEntry: the diagnostics in fields of their own.
  assert.deepEqual([entry?.message, entry?.detail, entry?.hint], ['stuck <order>', 'carrier & co refused', 'retry tomorrow']);
  const text = await cli(['history', ...base, '--job', 'diag-shown']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /SQLSTATE +MESSAGE/);
  assert.match(text.stdout, /P0001 +stuck <order> +DETAIL: carrier & co refused +HINT: retry tomorrow/);
  const show = await cli(['jobs', 'show', ...base, 'diag-shown']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /P0001 +stuck <order> +DETAIL: carrier & co refused +HINT: retry tomorrow/);
  // The TypeScript API: HistoryEntry's fields, the earlier notice in the output.
  const [api] = await db.node().history({ job: 'diag-shown', limit: 1 });
  assert.deepEqual({ sqlstate: api?.sqlstate, detail: api?.detail, hint: api?.hint }, { sqlstate: 'P0001', detail: 'carrier & co refused', hint: 'retry tomorrow' });
  assert.equal(api?.context, 'PL/pgSQL function inline_code_block line 1 at RAISE', 'the job\'s own context, not the frames of Kairos\'s wrapper');
  assert.deepEqual((api?.output as { notices: string[] }).notices, ['NOTICE: before']);
});

test("the dashboard's History table shows the diagnostics under the message, escaped", async () => {
  const open = await serve({ pool: db.pool, schema: db.schema });
  const page = await new Client(open).request(`/jobs/${jobId}`);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const table = /<table class="grid history">[\s\S]*?<\/table>/.exec(page.text)?.[0] ?? '';
  assert.match(table, /stuck &lt;order&gt;/);
  assert.match(table, /SQLSTATE P0001 · DETAIL: carrier &amp; co refused · HINT: retry tomorrow/);
  assert.match(table, /<summary>context<\/summary><pre>PL\/pgSQL function inline_code_block line 1 at RAISE<\/pre>/);
});
