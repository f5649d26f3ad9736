/**
 * Issue #15: the agent logs each run at info (start; end with its duration; a failure with its
 * error) and a job that keeps failing (two or more consecutive failures, or disabled) at warn.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { startCli } from './run-cli.js';

const db = await fixture();
const s = `"${db.schema}"`;

/** The JSON log records the agent printed so far. */
const records = (text: string): Array<Record<string, unknown>> =>
  text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

test('kairos start logs runs at info and repeated failures at warn', async () => {
  const agent = startCli(['start', '--database-url', db.connectionString, '--schema', db.schema, '--log-format', 'json', '--log-level', 'info', '--poll-interval', '1']);
  try {
    await agent.waitFor('kairos agent started');
    await db.pool.query(`SELECT * FROM ${s}.define_job('fine', 'SELECT 1')`);
    await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => 'broken-math', command => 'SELECT 1/0', retries => 0, max_attempts => 2)`);
    const fine = Number((await db.pool.query(`SELECT ${s}.trigger_job('fine') AS id`)).rows[0].id);
    await agent.waitFor(`run ${fine} of fine completed in`);
    const first = Number((await db.pool.query(`SELECT ${s}.trigger_job('broken-math') AS id`)).rows[0].id);
    await agent.waitFor(`run ${first} of broken-math failed`);
    const second = Number((await db.pool.query(`SELECT ${s}.trigger_job('broken-math') AS id`)).rows[0].id);
    await agent.waitFor(`run ${second} of broken-math failed`);
    await agent.waitFor('job broken-math disabled itself');
    const logs = records(agent.output());
    const of = (run: number) => logs.filter((r) => r.run === run);
    const started = of(fine).find((r) => /started$/.test(String(r.msg)));
    const done = of(fine).find((r) => /completed in \d+ ms$/.test(String(r.msg)));
    assert.equal(started?.level, 30, 'start at info');
    assert.equal(done?.level, 30, 'end at info');
    assert.equal(typeof done?.durationMs, 'number');
    const failedOnce = of(first).find((r) => r.status === 'failed');
    assert.equal(failedOnce?.level, 30, 'a first failure at info');
    assert.equal(failedOnce?.error, 'division by zero');
    assert.equal(failedOnce?.sqlstate, '22012');
    const failedTwice = of(second).find((r) => r.status === 'failed');
    assert.equal(failedTwice?.level, 40, 'a repeated failure at warn');
    assert.equal(failedTwice?.consecutiveFailures, 2);
    assert.match(String(failedTwice?.msg), /failed: division by zero \(2 consecutive failures/);
    const disabled = logs.find((r) => /disabled itself/.test(String(r.msg)));
    assert.equal(disabled?.level, 40);
    agent.child.kill('SIGTERM');
    assert.equal((await agent.exited).code, 0);
  } finally {
    agent.child.kill('SIGKILL');
  }
});
