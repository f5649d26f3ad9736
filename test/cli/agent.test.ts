import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, eventually } from '../helpers.js';
import { kairos, startCli } from './run-cli.js';

const db = await fixture();
const s = `"${db.schema}"`;

test('kairos start runs SQL and JS task jobs, and stops cleanly on SIGTERM', async () => {
  const agent = startCli(['start', '--database-url', db.connectionString, '--schema', db.schema, '--tasks', 'test/fixtures/tasks.mjs', '--log-format', 'json', '--log-level', 'info', '--node-name', 'agent-1', '--poll-interval', '1']);
  try {
    await agent.waitFor('kairos agent started');
    assert.match(agent.output(), /"tasks":\["tasks","greet"\]/, 'a default export is named after its file');
    await db.pool.query(`CREATE TABLE IF NOT EXISTS public.agent_marks_${db.schema} (v text)`);
    await db.pool.query(`SELECT * FROM ${s}.define_job('mark', 'INSERT INTO public.agent_marks_${db.schema} VALUES (''sql'')')`);
    await db.pool.query(`SELECT ${s}.trigger_job('mark')`);
    const taskRun = (await db.pool.query(`SELECT ${s}.enqueue('greet', '{"name": "ada"}') AS id`)).rows[0].id;
    await eventually(async () => (await db.count('job_logs', "status = 'completed'")) === 2, 15_000, 'both jobs');
    const log = (await db.pool.query(`SELECT output, node_id FROM ${s}.job_logs WHERE run_id = $1`, [taskRun])).rows[0];
    assert.deepEqual(log.output, { greeting: 'hello ada' });
    assert.match(log.node_id, /^agent-1-/);
    agent.child.kill('SIGTERM');
    const result = await agent.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /"msg":"stopped"/);
    assert.doesNotMatch(result.stderr, /:kairos@|password/, 'no secret in the logs');
    await db.pool.query(`DROP TABLE public.agent_marks_${db.schema}`);
  } finally {
    agent.child.kill('SIGKILL');
  }
});

test('kairos start reads a YAML file, with flags over env over file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-agent-'));
  const file = join(dir, 'kairos.yaml');
  writeFileSync(file, `kairos:\n  schema: ${db.schema}\n  concurrency: 3\n  node_name: from-file\n  log_level: info\n  log_format: json\n`);
  const agent = startCli(['start', '--config', file, '--concurrency', '4'], { DATABASE_URL: db.connectionString, KAIROS_NODE_NAME: 'from-env' });
  await agent.waitFor('kairos agent started');
  const nodes = await db.pool.query(`SELECT name, concurrency FROM ${s}.nodes WHERE stopped_at IS NULL AND name = 'from-env'`);
  assert.deepEqual(nodes.rows, [{ name: 'from-env', concurrency: 4 }]);
  agent.child.kill('SIGINT');
  assert.equal((await agent.exited).code, 0);
});

test('kairos start refuses a bad configuration or an unreachable database, non-zero and clear', async () => {
  const bad = await kairos(['start', '--database-url', db.connectionString, '--concurrency', 'lots']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /concurrency/);
  const down = await kairos(['start', '--database-url', 'postgres://kairos:s3cret@127.0.0.1:1/nowhere', '--log-format', 'json']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the database at postgres:\/\/kairos:\*\*\*@127\.0\.0\.1:1\/nowhere/);
  assert.doesNotMatch(down.stderr, /s3cret/);
  const notInstalled = await kairos(['start', '--database-url', db.connectionString, '--schema', 'not_installed_here']);
  assert.equal(notInstalled.code, 1);
  assert.match(notInstalled.stderr, /not installed in schema "not_installed_here".*--migrate/);
});

test('without a database, kairos start runs on the embedded PostgreSQL, and other commands find it', async () => {
  const agent = startCli(['start', '--log-format', 'json', '--log-level', 'info'], { DATABASE_URL: undefined });
  try {
    await agent.waitFor('kairos agent started', 60_000);
    assert.match(agent.output(), /using the embedded PostgreSQL/);
    const added = await kairos(['jobs', 'add', 'embedded-check', '--sql', 'SELECT 1', '--every', '1h'], { env: { DATABASE_URL: undefined } });
    assert.equal(added.code, 0, added.stderr);
    const listed = await kairos(['jobs', 'list', '--json'], { env: { DATABASE_URL: undefined } });
    assert.ok(JSON.parse(listed.stdout).some((j: { name: string }) => j.name === 'embedded-check'));
    await kairos(['jobs', 'delete', 'embedded-check'], { env: { DATABASE_URL: undefined } });
    agent.child.kill('SIGTERM');
    const result = await agent.exited;
    assert.equal(result.code, 0, result.stderr);
  } finally {
    agent.child.kill('SIGKILL');
  }
});
