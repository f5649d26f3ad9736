/**
 * Security of the installation (issue #5, hostile input): SECURITY DEFINER functions pin their
 * search_path; passwords in connection strings never reach logs, errors or Kairos's tables; a SQL
 * job owned by an unprivileged role cannot reach beyond that role, and a role cannot take over or
 * run another owner's job through the SQL API.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { fixture, eventually } from '../helpers.js';
import { Kairos } from '../../src/index.js';
import { drain } from '../../src/testing/index.js';
import { asRole } from './as-role.js';

const db = await fixture();
const s = `"${db.schema}"`;
const tag = randomBytes(3).toString('hex');
const mallory = `mallory_${tag}`;
const victor = `victor_${tag}`;
const secret = `public.secret_${tag}`;
await db.pool.query(`CREATE ROLE ${mallory} NOLOGIN IN ROLE job_scheduler; CREATE ROLE ${victor} NOLOGIN IN ROLE job_scheduler`);
await db.pool.query(`CREATE TABLE ${secret} (n int)`);
after(async () => {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${secret}; DROP SCHEMA IF EXISTS scratch_${tag} CASCADE`);
  for (const role of [mallory, victor, `agent_${tag}`]) await client.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
  await client.end();
});

/** Run statements as `role` in one session (SET ROLE), returning the last result. */
const as = (role: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> => asRole(db.pool, role, sql, values);

/**
 * SECURITY DEFINER functions of `schema` that do not pin search_path with pg_temp last: anyone
 * who can create objects in a schema on the caller's path (or a temporary table) could otherwise
 * run code with the definer's rights.
 */
async function unsafeDefiners(schema: string): Promise<string[]> {
  const result = await db.pool.query<{ fn: string }>(
    `SELECT p.oid::regprocedure::text AS fn FROM pg_proc p
      WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND p.prosecdef
        AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) c WHERE c ~ '^search_path=.*\\mpg_temp"?$')
      ORDER BY 1`,
    [schema],
  );
  return result.rows.map((r) => r.fn);
}

test('every SECURITY DEFINER function pins search_path (and the check catches one that does not)', async () => {
  assert.deepEqual(await unsafeDefiners(db.schema), []);
  const scratch = `scratch_${tag}`;
  await db.pool.query(`CREATE SCHEMA ${scratch}`);
  await db.pool.query(`CREATE FUNCTION ${scratch}.bare() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'`);
  await db.pool.query(`CREATE FUNCTION ${scratch}.public_path() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = public AS 'SELECT 1'`);
  await db.pool.query(`CREATE FUNCTION ${scratch}.temp_first() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_temp, pg_catalog AS 'SELECT 1'`);
  await db.pool.query(`CREATE FUNCTION ${scratch}.pinned() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT 1'`);
  await db.pool.query(`CREATE FUNCTION ${scratch}.invoker() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
  assert.deepEqual(await unsafeDefiners(scratch), [`${scratch}.bare()`, `${scratch}.public_path()`, `${scratch}.temp_first()`]);
});

// Trigger functions are left out: PostgreSQL refuses to call them other than as triggers.
test('nothing in the schema is executable or readable by PUBLIC', async () => {
  const functions = await db.pool.query(
    `SELECT p.oid::regprocedure::text AS fn FROM pg_proc p
      WHERE p.pronamespace = $1::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')
        AND p.prorettype <> 'trigger'::regtype ORDER BY 1`,
    [db.schema],
  );
  assert.deepEqual(functions.rows.map((r) => r.fn), []);
  const tables = await db.pool.query(
    `SELECT c.relname FROM pg_class c, aclexplode(c.relacl) a WHERE c.relnamespace = $1::regnamespace AND a.grantee = 0 ORDER BY 1`,
    [db.schema],
  );
  assert.deepEqual(tables.rows, []);
});

/** A pino logger writing JSON lines into `lines`, at debug level. */
function capture(lines: string[]): pino.Logger {
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(chunk.toString()); done(); } });
  return pino({ level: 'debug' }, sink);
}

test('passwords in connection strings never reach logs, errors or Kairos\'s tables', async () => {
  // A login of our own with a password that cannot occur by chance in a log line.
  const password = `Pw-${randomBytes(9).toString('hex')}`;
  const login = `agent_${tag}`;
  await db.pool.query(`CREATE ROLE ${login} LOGIN SUPERUSER PASSWORD '${password}'`);
  const agentUrl = new URL(db.connectionString);
  agentUrl.username = login;
  agentUrl.password = password;
  const wrong = `Wr0ng-${randomBytes(6).toString('hex')}`;
  const refused = `Unreach-${randomBytes(6).toString('hex')}`;
  const named = `Named-${randomBytes(6).toString('hex')}`;
  const lines: string[] = [];
  const logger = capture(lines);
  const shown: string[] = [];
  const keep = (error: unknown): void => {
    const e = error as Error & { cause?: unknown };
    shown.push(String(e), e.stack ?? '', JSON.stringify(e), String(e.cause ?? ''), JSON.stringify(e.cause ?? null));
  };

  // Unreachable server and wrong password: start() fails; the error does not carry the URL's password.
  const badUrl = new URL(agentUrl);
  badUrl.port = '1';
  badUrl.password = refused;
  const unreachable = new Kairos({ connectionString: badUrl.toString(), logger, schema: db.schema, migrate: false });
  await assert.rejects(unreachable.start(), (e) => (keep(e), true));
  await unreachable.stop().catch(keep);
  const wrongUrl = new URL(agentUrl);
  wrongUrl.password = wrong;
  const denied = new Kairos({ connectionString: wrongUrl.toString(), logger, schema: db.schema, migrate: false });
  await assert.rejects(denied.start(), (e) => (keep(e), true));
  await denied.stop().catch(keep);

  // A running agent: a SQL job with a bad query, one on an unreachable named connection.
  const remote = new URL(agentUrl);
  remote.port = '1';
  remote.password = named;
  const agent = db.node({ connectionString: agentUrl.toString(), logger, runSqlJobs: true, connections: { remote: remote.toString() } });
  await db.pool.query(`SELECT * FROM ${s}.define_job('bad-query', 'SELECT * FROM no_such_table_${tag}')`);
  await db.pool.query(`SELECT * FROM ${s}.define_job('far-away', 'SELECT 1', options => '{"connection": "remote"}')`);
  await agent.start();
  await agent.trigger('bad-query');
  await agent.trigger('far-away');
  await eventually(async () => (await db.count('job_logs', "status = 'failed' AND task = '@sql'")) === 2, 20_000, 'both SQL jobs to fail');
  await assert.rejects(agent.trigger('no-such-job'), (e) => (keep(e), true));
  await agent.stop();

  const rows = await db.pool.query(`SELECT
    (SELECT coalesce(json_agg(l), '[]') FROM ${s}.job_logs l)::text AS logs,
    (SELECT coalesce(json_agg(x), '[]') FROM ${s}.step_logs x)::text AS steps,
    (SELECT coalesce(json_agg(n), '[]') FROM ${s}.nodes n)::text AS nodes,
    (SELECT coalesce(json_agg(j), '[]') FROM ${s}.jobs j)::text AS jobs`);
  const messages = (await db.pool.query(`SELECT message FROM ${s}.job_logs WHERE status = 'failed' ORDER BY log_id`)).rows.map((r) => r.message as string);
  assert.match(messages.join('\n'), /no_such_table/, 'the failures were recorded');
  assert.ok(lines.length > 0, 'the logger was used');
  for (const [where, text] of [['log output', lines.join('')], ['errors', shown.join('\n')], ['tables', Object.values(rows.rows[0]).join('\n')]] as const) {
    for (const [what, value] of [['password', password], ['wrong password', wrong], ['unreachable password', refused], ['named connection password', named]]) {
      assert.ok(!text.includes(value!), `the ${what} appears in the ${where}`);
    }
  }
});

test('a role cannot change, run or take over another owner\'s job through the SQL API', async () => {
  await as(victor, `SELECT * FROM ${s}.define_job('victor-job', 'SELECT 1', every => '1 hour')`);
  const id = (await db.pool.query(`SELECT job_id FROM ${s}.jobs WHERE job_name = 'victor-job'`)).rows[0].job_id as number;
  const before = (await db.pool.query(`SELECT to_jsonb(j) - 'updated_at' AS j FROM ${s}.jobs j WHERE job_id = $1`, [id])).rows[0].j;
  const attempts: Array<[string, unknown[]]> = [
    [`SELECT * FROM ${s}.update_job($1, job_command => 'DELETE FROM ${secret}')`, [id]],
    [`SELECT ${s}.alter_job($1, command => 'DELETE FROM ${secret}')`, [id]],
    [`SELECT ${s}.set_steps('victor-job', '[{"kind": "sql", "command": "SELECT 2"}]')`, []],
    [`SELECT ${s}.trigger_job('victor-job')`, []],
    [`SELECT ${s}.toggle_job('victor-job', false)`, []],
    [`SELECT * FROM ${s}.define_job('victor-job', 'SELECT 666', every => '1 minute')`, []],
    [`SELECT * FROM ${s}.define_job('mine', 'SELECT 1', run_as => '${victor}')`, []],
    [`SELECT ${s}.schedule_in_database('victor-job', '* * * * *', 'SELECT 666', current_catalog)`, []],
    [`SELECT * FROM ${s}.delete_job($1::int)`, [id]],
    [`SELECT ${s}.unschedule($1::bigint)`, [id]],
    [`UPDATE ${s}.jobs SET owner = '${mallory}' WHERE job_id = $1`, [id]],
    [`INSERT INTO ${s}.runs (job_id, task, job_type, owner) VALUES ($1, '@sql', 'sql', '${victor}')`, [id]],
    [`INSERT INTO ${s}.jobs (job_name, command, job_type, schedule_kind, owner) VALUES ('forged', 'SELECT 1', 'sql', 'manual', '${victor}')`, []],
  ];
  for (const [sql, values] of attempts) {
    const outcome = await as(mallory, sql, values).then((r) => `changed ${r.rowCount ?? 0} rows`, (e: { code?: string }) => `refused ${e.code}`);
    assert.match(outcome, /^(refused (42501|P0002|22023)|changed 0 rows)$/, `${sql} as ${mallory}: ${outcome}`);
  }
  const afterwards = (await db.pool.query(`SELECT to_jsonb(j) - 'updated_at' AS j FROM ${s}.jobs j WHERE job_id = $1`, [id])).rows[0].j;
  assert.deepEqual(afterwards, before, 'the job is unchanged');
  assert.equal(await db.count('runs', 'job_id = $1', [id]), 0, 'and was not run');
  assert.equal(await db.count('jobs', "owner = $1", [victor]), 1);
});

test('a SQL job of an unprivileged role cannot use what the role was not granted', async () => {
  const agent = db.node({ runSqlJobs: true });
  const attempts = [
    `INSERT INTO ${secret} VALUES (1)`,
    `SELECT * FROM ${secret}`,
    `DELETE FROM ${s}.nodes`,
    `INSERT INTO ${s}.job_logs (run_id, task, queue, attempt, status, owner) VALUES (1, 'forged', 'default', 1, 'completed', '${victor}')`,
    `COPY (SELECT 1) TO PROGRAM 'true'`,
    `ALTER ROLE ${mallory} SUPERUSER`,
    `GRANT ${victor} TO ${mallory}`,
  ];
  for (const [i, command] of attempts.entries()) {
    await db.pool.query(`SELECT * FROM ${s}.define_job($1, $2, run_as => $3)`, [`m-${i}`, command, mallory]);
    await agent.trigger(`m-${i}`);
  }
  assert.equal(await drain(agent), attempts.length);
  const results = await db.pool.query(
    `SELECT j.job_name, l.status, l.message FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id) WHERE j.job_name LIKE 'm-%' ORDER BY j.job_name`,
  );
  for (const row of results.rows) {
    assert.equal(row.status, 'failed', `${row.job_name}: ${row.message}`);
    assert.match(row.message, /permission denied|must be|must have admin|not allowed|superuser|privilege|row-level security/i, `${row.job_name}: ${row.message}`);
  }
  assert.equal(await db.count('job_logs', "task = 'forged'"), 0);
  assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM ${secret}`)).rows[0].n, 0);
  const role = await db.pool.query(`SELECT rolsuper FROM pg_roles WHERE rolname = $1`, [mallory]);
  assert.equal(role.rows[0].rolsuper, false);
});

// Found by this test: SET ROLE is no boundary on the agent's session. SQL jobs now run inside a
// SECURITY DEFINER function their owner creates (PostgreSQL refuses every role change there),
// deferred triggers fire inside it, and maintenance statements run one at a time.
test('a SQL job cannot switch back to the agent\'s role (RESET ROLE, SET ROLE, set_config, SESSION AUTHORIZATION)', async () => {
  const agent = db.node({ runSqlJobs: true });
  const escapes = [
    `RESET ROLE; INSERT INTO ${secret} VALUES (1)`,
    `SET ROLE NONE; INSERT INTO ${secret} VALUES (2)`,
    `SELECT set_config('role', 'none', true); INSERT INTO ${secret} VALUES (3)`,
    `SET SESSION AUTHORIZATION DEFAULT; INSERT INTO ${secret} VALUES (4)`,
    `DO $$ BEGIN EXECUTE 'RESET ROLE'; EXECUTE 'INSERT INTO ${secret} VALUES (5)'; END $$`,
    `DO $$ BEGIN EXECUTE format('SET ROLE %I', session_user); EXECUTE 'INSERT INTO ${secret} VALUES (6)'; END $$`,
    // Autocommit maintenance statements run alone: nothing rides along after them.
    `VACUUM; RESET ROLE; INSERT INTO ${secret} VALUES (7)`,
    // A procedure called by the job runs inside the owner's function too.
    `CREATE PROCEDURE pg_temp.p() LANGUAGE plpgsql AS $$ BEGIN RESET ROLE; INSERT INTO ${secret} VALUES (8); END $$; CALL pg_temp.p()`,
    // A deferred trigger would fire at COMMIT, after the agent took its role back.
    `CREATE TEMP TABLE t (x int);
     CREATE FUNCTION pg_temp.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RESET ROLE; INSERT INTO ${secret} VALUES (9); RETURN NULL; END $$;
     CREATE CONSTRAINT TRIGGER tr AFTER INSERT ON pg_temp.t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.f();
     INSERT INTO pg_temp.t VALUES (1)`,
  ];
  for (const [i, command] of escapes.entries()) {
    await db.pool.query(`SELECT * FROM ${s}.define_job($1, $2, run_as => $3)`, [`escape-${i}`, command, mallory]);
    await agent.trigger(`escape-${i}`);
  }
  assert.equal(await drain(agent), escapes.length);
  const leaked = await db.pool.query(`SELECT n FROM ${secret} ORDER BY n`);
  assert.deepEqual(leaked.rows.map((r) => r.n), [], 'no job wrote with the agent\'s rights');
});
