/**
 * The SQL API caps payloads like the TypeScript API (issue #12, item 8; migration 0015): a tenant
 * (a member of job_scheduler) calling enqueue, trigger_job, define_job or set_steps with JSON over
 * settings.max_payload_bytes, or inserting such a run or job directly, is refused with 22023 and
 * nothing is written. The schema owner sets the cap; a tenant cannot.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture } from '../helpers.js';
import { MAX_PAYLOAD_BYTES } from '../../src/core/validate.js';
import { asRole } from './as-role.js';

const db = await fixture();
const s = `"${db.schema}"`;
const tenant = `tenant_${randomBytes(3).toString('hex')}`;
await db.pool.query(`CREATE ROLE ${tenant} NOLOGIN IN ROLE job_scheduler`);
after(async () => {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  await client.query(`DROP OWNED BY ${tenant}; DROP ROLE ${tenant}`).catch(() => undefined);
  await client.end();
});

/** Run one statement as `role` (SET ROLE in its session). */
const as = (role: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> => asRole(db.pool, role, sql, values);

/** A JSON string value whose jsonb text is exactly `bytes` bytes (the quotes included). */
const jsonOfBytes = (bytes: number): string => JSON.stringify('x'.repeat(bytes - 2));

/** What every refused call must leave unchanged. */
async function state(): Promise<string> {
  const r = await db.pool.query(`SELECT (SELECT count(*) FROM ${s}.runs) AS runs,
    (SELECT coalesce(jsonb_agg(to_jsonb(j) - 'updated_at' ORDER BY job_id), '[]') FROM ${s}.jobs j) AS jobs,
    (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY job_id, position), '[]') FROM ${s}.job_steps t) AS steps`);
  return JSON.stringify(r.rows[0]);
}

/** Assert that `sql` as the tenant is refused with `code` (and `message`), writing nothing. */
async function refused(sql: string, values: unknown[], code: string, message?: RegExp): Promise<void> {
  const before = await state();
  await assert.rejects(as(tenant, sql, values), (error: { code?: string; message: string }) => {
    assert.equal(error.code, code, `${sql.slice(0, 80)}: ${error.message.slice(0, 200)}`);
    if (message) assert.match(error.message, message);
    return true;
  });
  assert.equal(await state(), before, `${sql.slice(0, 80)}: nothing is written`);
}

const setCap = (bytes: number | string): Promise<pg.QueryResult> => db.pool.query(`UPDATE ${s}.settings SET value = $1 WHERE key = 'max_payload_bytes'`, [String(bytes)]);
const over = (n: number, cap: number, field = 'payload'): RegExp =>
  new RegExp(`^${field} is ${n} bytes, over the installation's cap of ${cap} bytes \\(settings\\.max_payload_bytes\\)$`);

test('the default cap is the TypeScript API\'s (one rule)', async () => {
  const { rows } = await db.pool.query(`SELECT value FROM ${s}.settings WHERE key = 'max_payload_bytes'`);
  assert.deepEqual(rows, [{ value: String(MAX_PAYLOAD_BYTES) }]);
});

test('enqueue as a tenant: over the default cap is refused with 22023 and writes nothing; at the cap it works', async () => {
  const sql = `SELECT ${s}.enqueue('big-task', $1::jsonb)`;
  await refused(sql, [jsonOfBytes(MAX_PAYLOAD_BYTES + 1)], '22023', over(MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES));
  const { rows: [{ enqueue: id }] } = await as(tenant, sql, [jsonOfBytes(MAX_PAYLOAD_BYTES)]);
  const { rows: [run] } = await db.pool.query(`SELECT octet_length(payload::text) AS bytes, owner FROM ${s}.runs WHERE run_id = $1`, [id]);
  assert.deepEqual(run, { bytes: MAX_PAYLOAD_BYTES, owner: tenant });
  await db.pool.query(`DELETE FROM ${s}.runs`);
});

test('the schema owner changes the cap; every JSON argument of the API and direct writes follow it', async () => {
  await setCap(100);
  try {
    const at = jsonOfBytes(100);
    const big = jsonOfBytes(101);
    const message = over(101, 100);
    await refused(`SELECT ${s}.enqueue('t', $1::jsonb)`, [big], '22023', message);
    await refused(`SELECT ${s}.enqueue('t', $1::jsonb, job_key => 'k', conflict => 'replace')`, [big], '22023', message);
    await as(tenant, `SELECT ${s}.enqueue('t', $1::jsonb)`, [at]);
    await as(tenant, `SELECT * FROM ${s}.define_job('capped', 'SELECT 1', every => '1 hour')`);
    await as(tenant, `SELECT ${s}.trigger_job('capped', $1::jsonb)`, [at]);
    await refused(`SELECT ${s}.trigger_job('capped', $1::jsonb)`, [big], '22023', message);
    await refused(`SELECT * FROM ${s}.define_job('capped', 't', job_type => 'task', payload => $1::jsonb)`, [big], '22023', message);
    await refused(`SELECT * FROM ${s}.define_job('capped', 'SELECT 1', options => $1::jsonb)`, [`{"env": ${big}}`], '22023', over(110, 100, 'options'));
    const steps = JSON.stringify([{ kind: 'sql', command: `SELECT '${'x'.repeat(100)}'` }]);
    const stepBytes = Number((await db.pool.query('SELECT octet_length($1::jsonb::text) AS n', [steps])).rows[0].n);
    await refused(`SELECT ${s}.set_steps('capped', $1::jsonb)`, [steps], '22023', over(stepBytes, 100, 'steps'));
    // The API's functions are only one way in: a tenant may INSERT runs and UPDATE its jobs itself.
    await refused(`INSERT INTO ${s}.runs (task, payload) VALUES ('t', $1::jsonb)`, [big], '22023', message);
    await refused(`UPDATE ${s}.jobs SET payload = $1::jsonb WHERE job_name = 'capped'`, [big], '22023', message);
    await refused(`UPDATE ${s}.jobs SET options = $1::jsonb WHERE job_name = 'capped'`, [`{"env": ${big}}`], '22023', over(110, 100, 'options'));
    await refused(`INSERT INTO ${s}.jobs (job_name, command, job_type, schedule_kind, payload) VALUES ('forged', 't', 'task', 'manual', $1::jsonb)`, [big], '22023', message);
    assert.equal(await db.count('runs', 'octet_length(payload::text) > 100'), 0);
  } finally {
    await setCap(MAX_PAYLOAD_BYTES);
  }
  await as(tenant, `SELECT ${s}.enqueue('t', $1::jsonb)`, [jsonOfBytes(101)]);
  await db.pool.query(`DELETE FROM ${s}.runs; DELETE FROM ${s}.jobs`);
});

test('the cap applies to the owner\'s own calls of the API too, and a missing setting means the default', async () => {
  await setCap(50);
  try {
    await assert.rejects(db.pool.query(`SELECT ${s}.enqueue('t', $1::jsonb)`, [jsonOfBytes(51)]), (e: { code?: string }) => e.code === '22023');
  } finally {
    await setCap(MAX_PAYLOAD_BYTES);
  }
  await db.pool.query(`DELETE FROM ${s}.settings WHERE key = 'max_payload_bytes'`);
  try {
    await refused(`SELECT ${s}.enqueue('t', $1::jsonb)`, [jsonOfBytes(MAX_PAYLOAD_BYTES + 1)], '22023', over(MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES));
  } finally {
    await db.pool.query(`INSERT INTO ${s}.settings (key, value) VALUES ('max_payload_bytes', $1)`, [String(MAX_PAYLOAD_BYTES)]);
  }
});

test('the cap must be a whole number of bytes', async () => {
  for (const bad of ['lots', '-1', '1.5', '', '99999999999999999999']) {
    await assert.rejects(setCap(bad), (e: { code?: string }) => e.code === '23514', bad);
  }
  const { rows } = await db.pool.query(`SELECT value FROM ${s}.settings WHERE key = 'max_payload_bytes'`);
  assert.deepEqual(rows, [{ value: String(MAX_PAYLOAD_BYTES) }]);
});

test('a tenant can read the cap but not change, remove or shadow it', async () => {
  const { rows } = await as(tenant, `SELECT value FROM ${s}.settings WHERE key = 'max_payload_bytes'`);
  assert.deepEqual(rows, [{ value: String(MAX_PAYLOAD_BYTES) }]);
  for (const sql of [
    `UPDATE ${s}.settings SET value = '999999999' WHERE key = 'max_payload_bytes'`,
    `DELETE FROM ${s}.settings WHERE key = 'max_payload_bytes'`,
    `INSERT INTO ${s}.settings (key, value) VALUES ('max_payload_bytes ', '999999999')`,
    `TRUNCATE ${s}.settings`,
  ]) {
    await assert.rejects(as(tenant, sql), (e: { code?: string }) => e.code === '42501', sql);
  }
  const after = await db.pool.query(`SELECT value FROM ${s}.settings WHERE key = 'max_payload_bytes'`);
  assert.deepEqual(after.rows, [{ value: String(MAX_PAYLOAD_BYTES) }]);
});
