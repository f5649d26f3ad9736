import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';

const url = process.env.DATABASE_URL!;

import { kairos } from './run-cli.js';

test('kairos migrate installs a schema and is idempotent', async () => {
  const schema = `cli_${Date.now().toString(36)}`;
  const first = await kairos(['migrate', '--database-url', url, '--schema', schema]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`schema ${schema}: version \\d+ \\(applied`));
  const second = await kairos(['migrate', '--schema', schema], { env: { DATABASE_URL: url } });
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /already up to date/);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
});

test('kairos migrate refuses bad input with a clear message and a non-zero exit', async () => {
  const badSchema = await kairos(['migrate', '--database-url', url, '--schema', 'Robert"); DROP']);
  assert.equal(badSchema.code, 2);
  assert.match(badSchema.stderr, /Expected `schema` to be a lower-case identifier/);
  const noUrl = await kairos(['migrate'], { env: { DATABASE_URL: undefined } });
  assert.equal(noUrl.code, 2, 'a missing option is bad input');
  assert.match(noUrl.stderr, /--database-url/);
  const unreachable = await kairos(['migrate', '--database-url', 'postgres://u:hunter2@127.0.0.1:1/x']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach the database at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x: connection refused/);
  assert.doesNotMatch(unreachable.stderr, /hunter2/);
  const unknown = await kairos(['frobnicate']);
  assert.equal(unknown.code, 2, 'an unknown command is bad input');
});

test('kairos demo runs jobs, retries the flaky one, and stops cleanly on Ctrl-C', async () => {
  const schema = `demo_${Date.now().toString(36)}`;
  const result = await kairos(['demo', '--database-url', url, '--schema', schema], {
    signalAfter: { texts: ['flaky succeeded on attempt 3', 'reminder (one-time)', 'heartbeat fired'], signal: 'SIGINT' },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /heartbeat fired/);
  assert.match(result.stdout, /reminder \(one-time\)/);
  assert.match(result.stdout, /retry scheduled\s+flaky/);
  assert.match(result.stdout, /✔ completed\s+send-email/);
  assert.match(result.stdout, /Ctrl-C: stopping Kairos/);
  assert.match(result.stdout, /stopped cleanly/);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const logs = await pool.query(`SELECT task, status, count(*)::int AS n FROM "${schema}".job_logs GROUP BY 1, 2`);
  const count = (task: string, status: string): number => logs.rows.find((r) => r.task === task && r.status === status)?.n ?? 0;
  assert.equal(count('flaky', 'retrying'), 2);
  assert.equal(count('flaky', 'completed'), 1);
  assert.ok(count('heartbeat', 'completed') >= 1);
  const nodes = await pool.query(`SELECT stopped_at FROM "${schema}".nodes`);
  assert.ok(nodes.rows.every((r) => r.stopped_at !== null), 'the node deregistered on shutdown');
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
});
