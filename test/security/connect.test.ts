/**
 * Issue #12, class 3: a job runs only in a database its owner may connect to. The agent connects
 * with its own credentials and then takes the owner's role, so PostgreSQL's own CONNECT check never
 * sees the owner: Kairos checks it when the job is defined (every path: the SQL API, plain DML,
 * steps) and again on the target connection before the job's SQL runs (CONNECT revoked later).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { drain } from '../../src/testing/index.js';
import { stage } from './tenants.js';

const st = await stage();
const { mallory, victor } = st;
const install = st.superuserInstall;
const { s, pool } = install;
const weborder = `weborder_${st.tag}`;
await pool.query(`CREATE DATABASE ${weborder}`);
await pool.query(`REVOKE CONNECT ON DATABASE ${weborder} FROM PUBLIC; GRANT CONNECT ON DATABASE ${weborder} TO ${victor}`);
const otherUrl = new URL(install.url);
otherUrl.pathname = `/${weborder}`;
const other = new pg.Pool({ connectionString: otherUrl.toString(), max: 2 });
await other.query(`CREATE TABLE orders (n int); INSERT INTO orders VALUES (1), (2); GRANT SELECT, DELETE ON orders TO PUBLIC`);
after(async () => {
  await other.end();
  const client = new pg.Client({ connectionString: install.url });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${weborder} WITH (FORCE)`);
  await client.end();
});

async function outcome(role: string, sql: string, values: unknown[] = []): Promise<string> {
  return st.as(pool, role, sql, values).then(() => 'accepted', (e: { code?: string; message: string }) => `refused ${e.code}: ${e.message}`);
}

test('a role without CONNECT cannot define a job in that database, by any path', async () => {
  const attempts: Array<[string, unknown[]]> = [
    [`SELECT * FROM ${s}.define_job('m-define', 'DELETE FROM orders', database => $1)`, [weborder]],
    [`SELECT * FROM ${s}.insert_job('DELETE FROM orders', $1::name, '{"@daily"}')`, [weborder]],
    [`SELECT ${s}.schedule_in_database('m-cron', '0 3 * * *', 'DELETE FROM orders', $1)`, [weborder]],
    [`INSERT INTO ${s}.jobs (job_name, job_type, command, schedule_kind, database_name) VALUES ('m-dml', 'sql', 'DELETE FROM orders', 'manual', $1)`, [weborder]],
    [`INSERT INTO ${s}.my_job (job_name, job_type, command, schedule_kind, database_name) VALUES ('m-view', 'sql', 'DELETE FROM orders', 'manual', $1)`, [weborder]],
  ];
  for (const [sql, values] of attempts) assert.match(await outcome(mallory, sql, values), /^refused 42501: role .* may not connect to database/, sql);
  // Moving an existing job there, or a step of it, is refused too.
  await st.as(pool, mallory, `SELECT * FROM ${s}.define_job('m-here', 'SELECT 1')`);
  const id = (await pool.query(`SELECT job_id FROM ${s}.jobs WHERE job_name = 'm-here'`)).rows[0].job_id as number;
  for (const [sql, values] of [
    [`SELECT * FROM ${s}.update_job($1, datname => $2::name)`, [id, weborder]],
    [`SELECT ${s}.alter_job($1::bigint, database => $2)`, [id, weborder]],
    [`UPDATE ${s}.jobs SET database_name = $2 WHERE job_id = $1`, [id, weborder]],
    [`SELECT ${s}.set_steps('m-here', $1::jsonb)`, [JSON.stringify([{ name: 'a', kind: 'sql', command: 'DELETE FROM orders', database: weborder }])]],
  ] as Array<[string, unknown[]]>) assert.match(await outcome(mallory, sql, values), /^refused 42501: role .* may not connect/, sql);
  // A database that does not exist cannot run anything: refused when defined, not when run.
  assert.match(await outcome(mallory, `SELECT * FROM ${s}.define_job('m-nowhere', 'SELECT 1', database => 'no_such_db_${st.tag}')`), /^refused 22023: database .* does not exist/);
  // Victor may connect: his job is accepted.
  assert.equal(await outcome(victor, `SELECT * FROM ${s}.define_job('v-orders', 'DELETE FROM orders WHERE n = 1', database => $1)`, [weborder]), 'accepted');
  assert.equal(await st.db.count('jobs', 'database_name = $1', [weborder]), 1);
});

test('CONNECT is checked again when the job runs: revoked after it was defined, nothing runs there', async () => {
  await pool.query(`REVOKE CONNECT ON DATABASE ${weborder} FROM ${victor}`);
  const agent = install.node();
  await agent.trigger('v-orders');
  await drain(agent);
  const { rows } = await pool.query(`SELECT l.status, l.message FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id) WHERE j.job_name = 'v-orders'`);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].status, 'failed');
  assert.match(rows[0].message, /may not connect to database/);
  assert.equal((await other.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, 2, 'the DELETE did not run');
  // Granted again, the same job runs.
  await pool.query(`GRANT CONNECT ON DATABASE ${weborder} TO ${victor}`);
  await agent.trigger('v-orders');
  await drain(agent);
  assert.equal((await other.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, 1);
});
