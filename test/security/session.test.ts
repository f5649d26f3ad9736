/**
 * Issue #12, classes 1 and 2: nothing a SQL job does may run with the agent's rights, during the
 * job or later in the session. A tenant's job changes session state (search_path, other
 * settings) so that the statements Kairos runs after it resolve to the tenant's functions and
 * operators, or leaves work behind that runs later (a cursor WITH HOLD, a prepared statement, a
 * temporary table's ON COMMIT action, LISTEN, advisory locks, deferred triggers). Each is tried
 * against an agent connected as a superuser and one connected as the non-superuser owner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drain } from '../../src/testing/index.js';
import { stage, type Installation } from './tenants.js';

const st = await stage();
const { mallory, victor, evil, canary } = st;

/** Each job's command: a way to leave the tenant's code where the agent would run it. */
const hijacks: Record<string, string> = {
  'search_path set_config': `SELECT set_config('search_path', '${evil}, pg_catalog, pg_temp', false)`,
  'search_path SET LOCAL': `SET LOCAL search_path = ${evil}, pg_catalog, pg_temp`,
  'search_path SET': `SET search_path = ${evil}, pg_catalog`,
  'search_path set_config local': `SELECT set_config('search_path', '${evil}, pg_catalog', true)`,
  'pg_temp first, a temp now()': `CREATE FUNCTION pg_temp.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT ${evil}.now()';
     SELECT set_config('search_path', 'pg_temp, pg_catalog', false)`,
  'temp table shadowing a catalog': `CREATE TEMP TABLE pg_settings AS SELECT ${evil}.spy() AS name, 1 AS setting;
     CREATE TEMP TABLE pg_stat_activity AS SELECT ${evil}.spy() AS pid`,
  'other settings at odd values': `SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'sql_standard'; SET TimeZone = 'Pacific/Kiritimati';
     SET extra_float_digits = -15; SET bytea_output = 'escape'; SET application_name = 'kairos-node-forged';
     SET default_transaction_read_only = on; SET statement_timeout = '17min'; SET lock_timeout = '13min'; SET search_path = ${evil}`,
  // 1 ms timeouts may cancel what follows the job in its transaction (the attempt then fails,
  // under load): a failure of its own job, never a statement of the agent's run bent by them.
  'timeouts of 1 ms': `SET statement_timeout = 1; SET lock_timeout = 1; SET search_path = ${evil}`,
  'cursor WITH HOLD': `DECLARE c CURSOR WITH HOLD FOR SELECT ${evil}.spy()`,
  'cursor WITH HOLD in DO': `DO $$ BEGIN EXECUTE 'DECLARE c2 CURSOR WITH HOLD FOR SELECT ${evil}.spy()'; END $$`,
  'prepared statements': `PREPARE p1 AS SELECT ${evil}.spy(); PREPARE kairos1_completeRuns AS SELECT ${evil}.spy();
     PREPARE kairos1_claimRuns AS SELECT ${evil}.spy(); PREPARE kairos1_failRuns AS SELECT ${evil}.spy()`,
  'LISTEN': `LISTEN kairos_evil`,
  'temp table ON COMMIT DELETE ROWS with an index expression': `CREATE TEMP TABLE t1 (x int) ON COMMIT DELETE ROWS;
     CREATE INDEX ON t1 (${evil}.spy_index(x)); INSERT INTO t1 VALUES (1)`,
  'temp table ON COMMIT DROP': `CREATE TEMP TABLE t2 (x int) ON COMMIT DROP; INSERT INTO t2 VALUES (1)`,
  'deferred constraint trigger created after SET CONSTRAINTS': `CREATE TEMP TABLE t3 (x int);
     CREATE CONSTRAINT TRIGGER tr3 AFTER INSERT ON pg_temp.t3 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${evil}.spy_trigger();
     SET CONSTRAINTS ALL DEFERRED; INSERT INTO pg_temp.t3 VALUES (1)`,
  'deferred trigger that defers again while fired': `CREATE TEMP TABLE t5 (x int);
     CREATE FUNCTION pg_temp.redefer() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN
       IF NEW.x < 3 THEN SET CONSTRAINTS ALL DEFERRED; INSERT INTO pg_temp.t5 VALUES (NEW.x + 1); ELSE PERFORM ${evil}.spy(); END IF;
       RETURN NULL; END $t$;
     CREATE CONSTRAINT TRIGGER tr5 AFTER INSERT ON pg_temp.t5 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.redefer();
     INSERT INTO pg_temp.t5 VALUES (1)`,
  'a permanent table whose deferred trigger defers for ever': `CREATE TABLE IF NOT EXISTS ${evil}.forever (x int);
     CREATE OR REPLACE FUNCTION ${evil}.forever() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN
       SET CONSTRAINTS ALL DEFERRED; INSERT INTO ${evil}.forever VALUES (NEW.x + 1); PERFORM ${evil}.spy(); RETURN NULL; END $t$;
     DROP TRIGGER IF EXISTS tr6 ON ${evil}.forever;
     CREATE CONSTRAINT TRIGGER tr6 AFTER INSERT ON ${evil}.forever DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${evil}.forever();
     INSERT INTO ${evil}.forever VALUES (1)`,
  'session advisory lock': `SELECT pg_advisory_lock(hashtext('kairos-migrate:whatever'))`,
};

/** The hijacks that cannot be made safe are refused: the attempt fails and rolls back. */
const refused: Record<string, RegExp> = {
  'a permanent table whose deferred trigger defers for ever': /^failed: deferred triggers kept deferring/,
  'timeouts of 1 ms': /^(completed|failed: canceling statement)/,
};

/** Define every hijack as a job of mallory's, run them all on a fresh node, and return the outcomes. */
async function runHijacks(install: Installation, prefix: string): Promise<Map<string, string>> {
  const node = install.node({ concurrency: 2 });
  const names = Object.keys(hijacks).map((what, i) => [`${prefix}-${i}`, what] as const);
  for (const [name, what] of names) {
    await install.pool.query(`SELECT * FROM ${install.s}.define_job($1, $2, run_as => $3)`, [name, hijacks[what], mallory]);
  }
  // The job after each hijack, on the same connections (the pool is small): it must see a clean session.
  await install.pool.query(`SELECT * FROM ${install.s}.define_job($1, $2, run_as => $3)`, [`${prefix}-after`, `SELECT current_setting('search_path')`, victor]);
  for (const [name] of names) await node.trigger(name);
  await drain(node, { timeoutMs: 30_000 });
  const left = await install.pool.query(`SELECT r.status, r.attempt, r.last_error, j.job_name FROM ${install.s}.runs r JOIN ${install.s}.jobs j USING (job_id)`);
  assert.deepEqual(left.rows, [], 'every run was recorded');
  const outcomes = new Map<string, string>();
  const { rows } = await install.pool.query<{ job_name: string; status: string; message: string | null }>(
    `SELECT j.job_name, l.status, l.message FROM ${install.s}.job_logs l JOIN ${install.s}.jobs j USING (job_id) WHERE j.job_name LIKE $1`,
    [`${prefix}-%`],
  );
  for (const row of rows) outcomes.set(names.find(([n]) => n === row.job_name)?.[1] ?? row.job_name, `${row.status}${row.message ? `: ${row.message}` : ''}`);
  return outcomes;
}

for (const which of ['superuser', 'non-superuser owner'] as const) {
  test(`a SQL job leaves nothing that runs with the agent's rights (agent: ${which})`, async () => {
    const install = which === 'superuser' ? st.superuserInstall : st.ownerInstall;
    const outcomes = await runHijacks(install, which === 'superuser' ? 'su' : 'own');
    assert.deepEqual(await st.canaryRows(), [], `tenant code ran as the agent; outcomes: ${JSON.stringify([...outcomes])}`);
    // The hijacks themselves are legal SQL for mallory: they complete, and are recorded as such.
    for (const what of Object.keys(hijacks)) {
      const expected = refused[what] ?? /^completed/;
      assert.match(outcomes.get(what) ?? 'no log', expected, `${what}: ${outcomes.get(what)}`);
    }
    const role = await st.db.pool.query(`SELECT rolsuper FROM pg_roles WHERE rolname = $1`, [mallory]);
    assert.equal(role.rows[0].rolsuper, false);
  });
}

test('after a job, the next job and Kairos\'s own statements see a clean session', async () => {
  const install = st.ownerInstall;
  const node = install.node({ concurrency: 1 });
  await install.pool.query(`SELECT * FROM ${install.s}.define_job('dirty', $1, run_as => $2)`,
    [`SELECT set_config('search_path', '${evil}', false); SET TimeZone = 'Asia/Kathmandu'; PREPARE leftover AS SELECT 1; LISTEN leftover; DECLARE held CURSOR WITH HOLD FOR SELECT 1`, mallory]);
  await install.pool.query(`SELECT * FROM ${install.s}.define_job('clean', $1, run_as => $2)`,
    [`DO $$ BEGIN
        IF current_setting('search_path') LIKE '%${evil}%' THEN RAISE 'search_path leaked: %', current_setting('search_path'); END IF;
        IF current_setting('TimeZone') = 'Asia/Kathmandu' THEN RAISE 'TimeZone leaked'; END IF;
        IF EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = 'leftover') THEN RAISE 'prepared statement leaked'; END IF;
        IF EXISTS (SELECT 1 FROM pg_listening_channels() c WHERE c = 'leftover') THEN RAISE 'LISTEN leaked'; END IF;
        IF EXISTS (SELECT 1 FROM pg_cursors WHERE name = 'held') THEN RAISE 'cursor leaked'; END IF;
      END $$`, victor]);
  await node.trigger('dirty');
  assert.equal(await drain(node), 1);
  await node.trigger('clean');
  assert.equal(await drain(node), 1);
  const { rows } = await install.pool.query(`SELECT j.job_name, l.status, l.message, l.finished_at > now() - interval '1 minute' AS recent
    FROM ${install.s}.job_logs l JOIN ${install.s}.jobs j USING (job_id) WHERE j.job_name IN ('dirty', 'clean') ORDER BY j.job_name`);
  assert.deepEqual(rows.map((r) => [r.job_name, r.status, r.message, r.recent]), [['clean', 'completed', null, true], ['dirty', 'completed', null, true]]);
  assert.deepEqual(await st.canaryRows(), []);
});

test('the canary catches code run as the agent (the oracle can fail)', async () => {
  // The agent itself calling the attacker's function writes a row: the check above is not vacuous.
  await st.ownerInstall.pool.query(`SELECT ${evil}.spy()`);
  assert.deepEqual(await st.canaryRows(), [`spy() ran as ${st.ownerInstall.agentRole}`]);
  await st.db.pool.query(`TRUNCATE ${canary}`);
});
