import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { migrate, KairosValidationError } from '../../src/index.js';
import { latestVersion, schemaVersion } from '../../src/store/migrate.js';

const url = process.env.DATABASE_URL!;

test('migrations are idempotent and safe when many processes run them at once', async () => {
  const schema = `mig_${Date.now().toString(36)}`;
  const pools = Array.from({ length: 5 }, () => new pg.Pool({ connectionString: url, max: 1 }));
  try {
    const results = await Promise.all(pools.map((pool) => migrate(pool, schema)));
    assert.equal(results.filter((r) => r.applied.length > 0).length, 1, 'exactly one caller applied the migrations');
    assert.ok(results.every((r) => r.version === latestVersion()));
    const again = await migrate(pools[0]!, schema);
    assert.deepEqual(again.applied, []);
    assert.equal(await schemaVersion(pools[0]!, schema), latestVersion());
    // Day partitions of the history (0006) come and go with the calendar: only top-level tables.
    const tables = await pools[0]!.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition) ORDER BY 1',
      [schema],
    );
    assert.deepEqual(tables.rows.map((r) => r.table_name), ['alert_rules', 'handoffs', 'job_logs', 'job_steps', 'jobs', 'member_job', 'member_job_log', 'migrations', 'my_job', 'my_job_log', 'nodes', 'notify_secret', 'occurrences', 'runs', 'settings', 'step_logs', 'tasks']);
    const columns = await pools[0]!.query("SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'jobs'", [schema]);
    const names = new Set(columns.rows.map((r) => r.column_name));
    for (const legacy of ['job_id', 'job_name', 'job_type', 'command', 'schedule_interval', 'schedule_time', 'enabled', 'last_run', 'next_run', 'last_status', 'last_message', 'max_attempts', 'current_attempts', 'created_at', 'updated_at']) {
      assert.ok(names.has(legacy), `jobs keeps pg_scheduler's column ${legacy}`);
    }
    await pools[0]!.query(`DROP SCHEMA "${schema}" CASCADE`);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test('two installations in one database do not see each other', async () => {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await migrate(pool, 'iso_a');
    await migrate(pool, 'iso_b');
    await pool.query("INSERT INTO iso_a.runs (task) VALUES ('x')");
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM iso_b.runs')).rows[0].n, 0);
    await pool.query('DROP SCHEMA iso_a CASCADE; DROP SCHEMA iso_b CASCADE');
  } finally {
    await pool.end();
  }
});

test('a bad schema name is refused before anything is created', async () => {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    for (const bad of ['', 'Kairos', 'a-b', 'x; DROP TABLE y', 'pg_kairos', 'a'.repeat(51), '1abc']) {
      await assert.rejects(migrate(pool, bad), KairosValidationError, bad);
    }
    const found = await pool.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('Kairos', 'a-b', 'pg_kairos')");
    assert.equal(found.rows[0].n, 0);
  } finally {
    await pool.end();
  }
});
