/**
 * Scenario 7 of the chaos suite: history growth. A week of a per-second schedule, compressed in
 * time: each simulated day the pruner runs (TestClock), then a day of attempt records (and step
 * records) is written in bulk. With a retention of one day, the history must stay bounded (old
 * day partitions dropped, sizes within a small multiple of one day's volume) and nothing within
 * retention may be lost. Also: the 0006 migration keeps rows, ids, grants and policies; rows of a
 * day without a partition move into it when it is created; concurrent maintenance is safe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture, eventually } from '../helpers.js';
import { TestClock } from '../../src/testing/index.js';
import { migrate } from '../../src/store/migrate.js';
import { readMigrations, renderSql, DEFAULT_ROLES } from '../../src/store/sql.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();
const s = `"${db.schema}"`;
const DAY = 86_400_000;
/** One attempt per second; one step record every 10 s. */
const PER_DAY = 86_400;
const STEP_EVERY = 10;
const START = Date.parse('2031-03-01T00:00:00Z');
const retention = { completed: '1d', failed: '1d', cancelled: '1d' };

const q = async <R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []) => (await db.pool.query<R>(sql, values)).rows;
const one = async (sql: string, values: unknown[] = []): Promise<number> => Number(Object.values((await q(sql, values))[0]!)[0]);
const dayName = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');

/** Bytes of a history table: every partition, its indexes and TOAST. */
const size = (table: string) => one(`SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('${s}.${table}')`);

/** Write one day of history of job `jobId` starting at `dayStart` (ms), in one statement each. */
async function writeDay(jobId: number, dayStart: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status, scheduled_at, run_time, finished_at, duration, node_id, payload)
     SELECT $1, $3::bigint + g, 'tick', 'default', 1,
            CASE WHEN g % 97 = 0 THEN 'failed' WHEN g % 89 = 0 THEN 'cancelled' WHEN g % 83 = 0 THEN 'retrying' ELSE 'completed' END,
            t, t, t + interval '20 milliseconds', interval '20 milliseconds', 'node-a', '{"n": 1}'
       FROM generate_series(0, $4 - 1) g, LATERAL (SELECT $2::timestamptz + g * interval '1 second' AS t) x`,
    [jobId, new Date(dayStart), dayStart / 1000, PER_DAY],
  );
  await db.pool.query(
    `INSERT INTO ${s}.step_logs (run_id, attempt, job_id, position, name, status, started_at, finished_at)
     SELECT $3::bigint + g, 1, $1, 1, 'only', 'succeeded', t, t + interval '5 milliseconds'
       FROM generate_series(0, $4 - 1, $5) g, LATERAL (SELECT $2::timestamptz + g * interval '1 second' AS t) x`,
    [jobId, new Date(dayStart), dayStart / 1000, PER_DAY, STEP_EVERY],
  );
}

test('a week of per-second schedules compressed in time stays bounded and keeps what is within retention', async () => {
  const clock = new TestClock(new Date(START + 3_600_000));
  const maintainer = db.node({ clock, retention });
  const jobId = (await q<{ job_id: number }>(
    `INSERT INTO ${s}.jobs (job_name, command, schedule_kind, schedule_interval, enabled) VALUES ('tick', 'tick', 'interval', '1 second', false) RETURNING job_id`,
  ))[0]!.job_id;
  let pruned = { logs: 0, steps: 0, partitions: 0 };
  let daySize = 0;
  let largest = 0;
  for (let d = 0; d < 7; d++) {
    clock.set(new Date(START + d * DAY + 3_600_000));
    const result = await internals(maintainer).services.pruner.prune();
    assert.equal(result.ran, true);
    pruned = { logs: pruned.logs + result.logs, steps: pruned.steps + result.steps, partitions: pruned.partitions + result.partitions };
    await writeDay(jobId, START + d * DAY);
    largest = Math.max(largest, await size('job_logs'));
    if (d === 0) daySize = await size('job_logs');
  }
  const weekSize = await size('job_logs');
  const inserted = 7 * PER_DAY;
  const insertedSteps = 7 * (PER_DAY / STEP_EVERY);
  assert.equal(await one(`SELECT count(*) FROM ${s}.job_logs_completed_default`), 0, 'every row found its day partition');

  // The eighth day, one hour in: retention one day keeps day 7 (partly within retention) only.
  const now = START + 7 * DAY + 3_600_000;
  clock.set(new Date(now));
  const final = await internals(maintainer).services.pruner.prune();
  pruned = { logs: pruned.logs + final.logs, steps: pruned.steps + final.steps, partitions: pruned.partitions + final.partitions };
  const cutoff = new Date(now - DAY);
  const stepsCutoff = new Date(now - 2 * DAY);

  const left = await one(`SELECT count(*) FROM ${s}.job_logs`);
  assert.equal(left + pruned.logs, inserted, 'every record is either kept or counted as pruned');
  assert.equal(await one(`SELECT count(*) FROM ${s}.job_logs WHERE finished_at >= $1`, [cutoff]), PER_DAY - 3600, 'nothing within retention was lost');
  assert.equal(left, PER_DAY, 'only the day that is partly within retention is kept');
  const stepsLeft = await one(`SELECT count(*) FROM ${s}.step_logs`);
  assert.equal(stepsLeft + pruned.steps, insertedSteps);
  assert.equal(await one(`SELECT count(*) FROM ${s}.step_logs WHERE finished_at >= $1`, [stepsCutoff]), (PER_DAY - 3600) / STEP_EVERY + PER_DAY / STEP_EVERY);

  const days = await q<{ parent: string; day: string }>(`SELECT parent, day::text AS day FROM ${s}.history_partitions() WHERE NOT is_default`);
  const oldest = (parent: string) => days.filter((p) => p.parent === parent).map((p) => p.day).sort()[0];
  for (const parent of ['job_logs_completed', 'job_logs_failed', 'job_logs_cancelled']) {
    assert.equal(oldest(parent), '2031-03-07', `${parent}: older day partitions are dropped`);
  }
  assert.equal(oldest('step_logs'), '2031-03-06', 'steps keep one more day');
  assert.ok(pruned.partitions >= 4 * 5, `day partitions were dropped (${pruned.partitions})`);

  const kept = await size('job_logs');
  assert.ok(daySize > 1_000_000, `one day of history is a real volume (${daySize} bytes)`);
  assert.ok(largest <= 2.5 * daySize, `the history never held more than about two days (${largest} vs a day of ${daySize})`);
  assert.ok(kept <= 1.5 * daySize, `after the last pass about a day is left (${kept} vs ${daySize})`);
  assert.ok(kept < weekSize * 0.75, `the last pass dropped a day: ${weekSize} bytes became ${kept}`);
  assert.equal(final.logs, PER_DAY, 'the last pass dropped the day now wholly out of retention');
  assert.ok((await size('step_logs')) <= 3 * (await one(`SELECT pg_total_relation_size('${s}.step_logs_${dayName(now - DAY)}')`)) + 1_000_000);

  // Real completions through the engine land in today's partition and survive the next pass.
  const worker = db.node({ clock, retention, tasks: { real: () => 'ok' } });
  await worker.enqueueMany(Array.from({ length: 20 }, () => ({ task: 'real', payload: {} })));
  await worker.start();
  await eventually(async () => (await db.count('job_logs', "task = 'real' AND status = 'completed'")) === 20, 20_000, '20 completions');
  await worker.stop();
  const homes = await q<{ home: string }>(`SELECT DISTINCT tableoid::regclass::text AS home FROM ${s}.job_logs WHERE task = 'real'`);
  assert.deepEqual(homes.map((h) => h.home.replaceAll('"', '').split('.')[1]), [`job_logs_completed_${dayName(now)}`]);
  assert.equal((await internals(maintainer).services.pruner.prune()).ran, true);
  assert.equal(await db.count('job_logs', "task = 'real'"), 20);
});

test('a row of a day with no partition waits in the default partition and moves in when the day is prepared', async () => {
  const id = (await q<{ log_id: string }>(
    `INSERT INTO ${s}.job_logs (run_id, task, queue, attempt, status, finished_at) VALUES (1, 'far', 'default', 1, 'completed', '2040-02-03T12:00:00Z') RETURNING log_id`,
  ))[0]!.log_id;
  assert.equal(await one(`SELECT count(*) FROM ${s}.job_logs_completed_default WHERE log_id = $1`, [id]), 1);
  const created = await Promise.all(Array.from({ length: 4 }, () => db.pool.query(`SELECT ${s}.history_prepare('2040-02-02', 3) AS n`)));
  // completed, failed, cancelled, missed (0030) and the steps: three days each.
  assert.equal(created.reduce((sum, r) => sum + Number(r.rows[0].n), 0), 5 * 3, 'concurrent calls create each partition once');
  assert.equal(await one(`SELECT count(*) FROM ${s}.job_logs_completed_20400203 WHERE log_id = $1`, [id]), 1);
  assert.equal(await one(`SELECT count(*) FROM ${s}.job_logs_completed_default`), 0);
  await assert.rejects(db.pool.query(`SELECT ${s}.history_prepare('2040-02-02', 0)`), /1-366 days/);
  await assert.rejects(db.pool.query(`SELECT ${s}.history_prune_default('jobs', NULL, now(), 10)`), /job_logs or step_logs/);
});

test('missed and skipped entries follow retention.cancelled: their days are dropped, their default partition pruned', async () => {
  const row = (status: string, at: string) => q<{ log_id: string }>(
    `INSERT INTO ${s}.job_logs (run_id, task, queue, attempt, status, finished_at) VALUES (1, 'x', 'default', 0, $1, $2) RETURNING log_id`, [status, at]);
  await q(`SELECT ${s}.history_prepare('2041-05-01', 1)`);
  await row('missed', '2041-05-01T10:00:00Z');
  await row('skipped', '2041-05-01T11:00:00Z');
  const far = (await row('missed', '2041-09-09T10:00:00Z'))[0]!.log_id;
  assert.equal(await one(`SELECT count(*) FROM ${s}.job_logs_missed_20410501`), 2);
  assert.equal(await one(`SELECT count(*) FROM ${s}.job_logs_missed_default WHERE log_id = $1`, [far]), 1);
  // Only the cancelled cutoff reaches them; the failed and completed ones do not.
  const kept = await q(`SELECT * FROM ${s}.history_drop_expired('2041-06-01', '2041-06-01', NULL, NULL)`);
  assert.ok(!kept.some((r) => r.partition === 'job_logs_missed_20410501'));
  const dropped = await q(`SELECT * FROM ${s}.history_drop_expired(NULL, NULL, '2041-06-01', NULL)`);
  assert.deepEqual(dropped.filter((r) => r.partition === 'job_logs_missed_20410501').map((r) => Number(r.row_count)), [2]);
  assert.ok(!dropped.some((r) => /^job_logs_(completed|failed)_2041/.test(String(r.partition))));
  assert.equal(await one(`SELECT ${s}.history_prune_default('job_logs', ARRAY['failed'], '2041-10-01', 100)`), 0);
  assert.equal(await one(`SELECT ${s}.history_prune_default('job_logs', ARRAY['cancelled'], '2041-10-01', 100)`), 1, 'as the pruner asks for retention.cancelled');
  assert.equal(await one(`SELECT count(*) FROM ${s}.job_logs_missed_default`), 0);
  await assert.rejects(row('lost', '2041-05-01T10:00:00Z'), /job_logs|check constraint|partition/, 'an unknown status is still refused');
});

test('two nodes pruning at once: one does the pass, the other skips it', async () => {
  const clock = new TestClock('2031-03-20T00:00:00Z');
  const a = db.node({ clock, retention });
  const b = db.node({ clock, retention });
  const results = await Promise.all([internals(a).services.pruner.prune(), internals(b).services.pruner.prune(), internals(a).services.pruner.prune()]);
  assert.ok(results.some((r) => r.ran));
});

test('migration 0006 keeps the recorded history, its ids, grants and row-level security', async () => {
  const schema = `hist_${randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: db.connectionString, max: 2 });
  try {
    await pool.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const m of readMigrations().filter((x) => x.version <= 5)) {
      await pool.query(renderSql(m.text, schema, DEFAULT_ROLES));
      await pool.query(`INSERT INTO ${schema}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    }
    await pool.query(`INSERT INTO ${schema}.jobs (job_name, command, schedule_kind) VALUES ('j', 'j', 'manual')`);
    await pool.query(`INSERT INTO ${schema}.job_logs (job_id, run_id, task, queue, attempt, status, finished_at)
      SELECT 1, g, 't', 'default', 1, CASE WHEN g % 2 = 0 THEN 'completed' ELSE 'failed' END, now() - g * interval '1 day' FROM generate_series(0, 9) g`);
    await pool.query(`INSERT INTO ${schema}.step_logs (run_id, attempt, job_id, position, name, status, started_at, finished_at) VALUES (1, 1, 1, 1, 's', 'succeeded', now(), now())`);
    const before = await pool.query(`SELECT log_id, status, finished_at FROM ${schema}.job_logs ORDER BY log_id`);
    await migrate(pool, schema);
    const after = await pool.query(`SELECT log_id, status, finished_at FROM ${schema}.job_logs ORDER BY log_id`);
    assert.deepEqual(after.rows, before.rows, 'every record kept with its id');
    const next = await pool.query(`INSERT INTO ${schema}.job_logs (run_id, task, queue, attempt, status) VALUES (99, 't', 'default', 1, 'completed') RETURNING log_id`);
    assert.ok(Number(next.rows[0].log_id) > Math.max(...before.rows.map((r) => Number(r.log_id))), 'ids continue after the old ones');
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${schema}.step_logs`)).rows[0].n, 1);
    const policies = await pool.query(`SELECT tablename, policyname FROM pg_policies WHERE schemaname = $1 AND tablename IN ('job_logs', 'step_logs') ORDER BY 1, 2`, [schema]);
    assert.deepEqual(policies.rows.map((r) => `${r.tablename}.${r.policyname}`), ['job_logs.member_rows', 'job_logs.monitor_reads', 'step_logs.member_rows', 'step_logs.monitor_reads']);
    const rls = await pool.query(`SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relname IN ('job_logs', 'step_logs') AND relrowsecurity ORDER BY 1`, [schema]);
    assert.deepEqual(rls.rows.map((r) => r.relname), ['job_logs', 'step_logs']);
    const can = async (role: string, what: string, priv: string) =>
      (await pool.query(`SELECT has_table_privilege($1, $2, $3) AS ok`, [role, `${schema}.${what}`, priv])).rows[0].ok as boolean;
    assert.equal(await can('job_scheduler', 'job_logs', 'INSERT'), true);
    assert.equal(await can('job_scheduler', 'job_logs', 'DELETE'), false);
    assert.equal(await can('job_scheduler', 'my_job_log', 'SELECT'), true);
    assert.equal(await can('job_scheduler', 'member_job_log', 'SELECT'), true);
    assert.equal(await can('job_monitor', 'step_logs', 'SELECT'), true);
    const seq = await pool.query(`SELECT has_sequence_privilege('job_scheduler', $1, 'USAGE') AS ok`, [`${schema}.job_logs_log_seq`]);
    assert.equal(seq.rows[0].ok, true, 'the scheduler role can still insert history (execute_job does)');
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${schema}.member_job_log`)).rows[0].n, 11);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  }
});
