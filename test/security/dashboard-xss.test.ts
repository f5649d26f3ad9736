/**
 * A tenant attacks the dashboard's users (issue #12, actor "a role granted job_scheduler" against
 * "a dashboard user"): every text a tenant can put in Kairos's tables — through the SQL API or
 * plain DML around its checks — is markup aimed at the operator's browser. Every page an operator
 * opens must show it as text: no tag of the tenant's survives, in the HTML or the live JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drain } from '../../src/testing/index.js';
import { Client, serve } from '../dashboard/serve.js';
import { stage } from './tenants.js';

const st = await stage();
const { mallory } = st;
const { s, pool, schema } = st.superuserInstall;
const mark = (where: string): string => `<img src=x onerror=alert('${where}')><script>alert('${where}')</script>"'\`</textarea></title>`;

// Through the API where it accepts free text, around it (plain DML) where it would refuse.
await st.as(pool, mallory, `SELECT * FROM ${s}.define_job('xss-api', $1, description => $2, labels => $3, every => '1 hour')`,
  [`DO $$ BEGIN RAISE NOTICE '%', ${quote(mark('notice'))}; RAISE EXCEPTION '%', ${quote(mark('error'))} USING DETAIL = ${quote(mark('detail'))}; END $$`, mark('description'), [mark('label')]]);
await st.as(pool, mallory, `INSERT INTO ${s}.jobs (job_name, job_type, command, schedule_kind, queue, node_name, node_tags, description, timezone, cron)
  VALUES ($1, 'sql', $2, 'manual', $3, $4, $5, $6, 'UTC', $7)`,
  [mark('name'), mark('command'), mark('queue'), mark('node'), [mark('tag')], mark('dml-description'), mark('cron')]);
await st.as(pool, mallory, `SELECT ${s}.trigger_job('xss-api', $1::jsonb)`, [JSON.stringify({ [mark('key')]: mark('payload') })]);
await st.as(pool, mallory, `SELECT ${s}.enqueue($1, $2::jsonb, job_key => $3)`, ['xss-task', JSON.stringify({ x: mark('task-payload') }), mark('run-key')]);
await drain(st.superuserInstall.node());

function quote(text: string): string {
  return `$q$${text}$q$`;
}

const served = await serve({ pool, schema });

test('text a tenant wrote is never markup in any page an operator opens', async () => {
  const client = new Client(served);
  const ids = (await pool.query<{ job_id: number }>(`SELECT job_id FROM ${s}.jobs ORDER BY job_id`)).rows.map((r) => r.job_id);
  assert.ok(ids.length >= 2);
  const paths = ['/', '/jobs', '/jobs?q=%3Cimg', '/runs', '/nodes', '/calendar', ...ids.flatMap((id) => [`/jobs/${id}`, `/jobs/${id}/edit`])];
  let seen = 0;
  for (const path of paths) {
    const reply = await client.request(path);
    assert.ok(reply.status < 500, `${path}: ${reply.status}`);
    for (const tag of ['<img src=x', '<script>alert(', '</textarea></title>']) {
      assert.ok(!reply.text.includes(tag), `${path} carries the tenant's ${tag}`);
    }
    if (reply.text.includes('onerror=alert(')) seen++;
  }
  // The texts are shown (escaped), so the check above looked at pages that hold them.
  assert.ok(seen >= 3, `the tenant's texts appear escaped on some pages (${seen})`);
  // Before the schema is dropped (the fixture's clean-up runs first).
  await served.dashboard.close();
});
