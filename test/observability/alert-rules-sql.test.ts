import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture } from '../helpers.js';

const db = await fixture();
const s = `"${db.schema}"`;
const SECRET = 'sql-secret-0123456789abcdef';
const bob = `bob_${randomBytes(3).toString('hex')}`;
// Roles are cluster-wide: take the lock migrations take when they create roles.
await db.pool.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtext('kairos-create-roles')); CREATE ROLE ${bob} NOLOGIN IN ROLE job_scheduler; COMMIT`);
after(async () => {
  // After the fixture dropped the schema (its pool is closed by then).
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  await client.query(`DROP ROLE IF EXISTS ${bob}`);
  await client.end();
});
await db.pool.query(`SELECT * FROM ${s}.define_job('nightly', 'SELECT 1')`);
await db.pool.query(`SELECT * FROM ${s}.define_job('bobs-job', 'SELECT 1', run_as => '${bob}')`);

/** Run `sql` as `role` in one session. */
async function as<T = Record<string, unknown>>(role: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = await db.pool.connect();
  try {
    await client.query(`SET ROLE ${role}`);
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.query('RESET ROLE');
    client.release();
  }
}

test('add_alert stores global and per-job rules, remove_alert deletes them', async () => {
  const add = async (args: string, values: unknown[] = []): Promise<number> => (await db.pool.query(`SELECT ${s}.add_alert(${args}) AS id`, values)).rows[0].id;
  const hook = await add(`'webhook', 'https://hooks.example.com/kairos', secret => $1`, [SECRET]);
  const notify = await add(`'notify', 'ops_alerts', job_name => 'nightly', events => '{failed,disabled,failed}', late_after => '5 minutes'`);
  const log = await add(`'log'`);
  const rows = (await db.pool.query(`SELECT rule_id, job_id IS NOT NULL AS per_job, channel, target, events, late_after_ms, secret IS NOT NULL AS has_secret FROM ${s}.alert_rules ORDER BY rule_id`)).rows;
  assert.deepEqual(rows, [
    { rule_id: hook, per_job: false, channel: 'webhook', target: 'https://hooks.example.com/kairos', events: ['broken', 'disabled', 'expired', 'failed', 'late', 'missed'], late_after_ms: 60000, has_secret: true },
    { rule_id: notify, per_job: true, channel: 'notify', target: 'ops_alerts', events: ['disabled', 'failed'], late_after_ms: 300000, has_secret: false },
    { rule_id: log, per_job: false, channel: 'log', target: null, events: ['broken', 'disabled', 'expired', 'failed', 'late', 'missed'], late_after_ms: 60000, has_secret: false },
  ]);
  for (const id of [hook, notify, log]) await db.pool.query(`SELECT ${s}.remove_alert($1)`, [id]);
  assert.equal(await db.count('alert_rules'), 0);
  await db.pool.query(`SELECT ${s}.add_alert('log', job_name => 'nightly')`);
  await db.pool.query(`SELECT ${s}.unschedule('nightly')`).catch(() => db.pool.query(`DELETE FROM ${s}.jobs WHERE job_name = 'nightly'`));
  assert.equal(await db.count('alert_rules'), 0, 'a job\'s rules go with the job');
  await db.pool.query(`SELECT * FROM ${s}.define_job('nightly', 'SELECT 1')`);
});

test('bad input is refused with SQLSTATE 22023 (P0002 for unknown names) and writes nothing', async () => {
  const cases: Array<[string, unknown[], string, RegExp]> = [
    [`'email', 'ops@example.com'`, [], '22023', /channel must be one of webhook, notify, log, got 'email'/],
    [`NULL`, [], '22023', /channel must be one of/],
    [`'webhook', 'ftp://example.com/x', secret => $1`, [SECRET], '22023', /http:\/\/ or https:\/\/ URL/],
    [`'webhook', 'https://user:pw@example.com/x', secret => $1`, [SECRET], '22023', /http:\/\/ or https:\/\/ URL/],
    [`'webhook', 'https://example.com/x'`, [], '22023', /needs a secret of at least 16 characters/],
    [`'webhook', 'https://example.com/x', secret => 'short-secret'`, [], '22023', /needs a secret of at least 16 characters .*\(not shown\)/],
    [`'notify', '1bad'`, [], '22023', /channel name/],
    [`'notify', NULL`, [], '22023', /channel name/],
    [`'notify', $1`, [`kairos:${db.schema}`], '22023', /is Kairos's own/],
    [`'log', 'somewhere'`, [], '22023', /a log alert takes no target/],
    [`'notify', 'ops', secret => $1`, [SECRET], '22023', /only webhooks take a secret/],
    [`'log', events => '{}'`, [], '22023', /at least one of failed, disabled, late, expired, missed/],
    [`'log', events => '{failed,exploded}'`, [], '22023', /events must be among .*got 'exploded'/],
    [`'log', events => NULL`, [], '22023', /at least one/],
    [`'log', late_after => '-1 minute'`, [], '22023', /late_after must be a positive interval/],
    [`'log', late_after => '1 month'`, [], '22023', /without months or years/],
    [`'log', job_name => 'no-such-job'`, [], 'P0002', /no job named 'no-such-job'/],
  ];
  for (const [args, values, code, message] of cases) {
    await assert.rejects(db.pool.query(`SELECT ${s}.add_alert(${args})`, values), (e: { code?: string; message: string }) => {
      assert.equal(e.code, code, `${args}: ${e.message}`);
      assert.match(e.message, message);
      assert.ok(!e.message.includes(SECRET) && !e.message.includes('short-secret'), 'no secret in the error');
      return true;
    });
  }
  await assert.rejects(db.pool.query(`SELECT ${s}.remove_alert(987654)`), (e: { code?: string; message: string }) => e.code === 'P0002' && /no alert rule with id 987654/.test(e.message));
  assert.equal(await db.count('alert_rules'), 0);
});

test('job_scheduler members add rules for their own jobs only, never global ones, and never read secrets', async () => {
  const [row] = await as<{ id: number }>(bob, `SELECT ${s}.add_alert('webhook', 'https://example.com/bob', job_name => 'bobs-job', secret => $1) AS id`, [SECRET]);
  const id = row!.id;
  assert.ok(id > 0);
  await assert.rejects(as(bob, `SELECT ${s}.add_alert('log')`), (e: { code?: string; message: string }) => e.code === '42501' && /may not add a rule for every job/.test(e.message));
  await assert.rejects(as(bob, `SELECT ${s}.add_alert('log', job_name => 'nightly')`), (e: { code?: string }) => e.code === 'P0002', 'another owner\'s job is invisible');
  assert.deepEqual(await as(bob, `SELECT rule_id, channel FROM ${s}.alert_rules`), [{ rule_id: id, channel: 'webhook' }]);
  await assert.rejects(as(bob, `SELECT secret FROM ${s}.alert_rules`), (e: { code?: string }) => e.code === '42501');
  await assert.rejects(as('job_monitor', `SELECT secret FROM ${s}.alert_rules`), (e: { code?: string }) => e.code === '42501');
  assert.equal((await as('job_monitor', `SELECT count(*)::int AS n FROM ${s}.alert_rules`))[0]?.n, 1, 'the monitor sees every rule, without secrets');
  await as(bob, `SELECT ${s}.remove_alert($1)`, [id]);
  assert.equal(await db.count('alert_rules'), 0);
});
