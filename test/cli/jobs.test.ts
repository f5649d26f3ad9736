import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { kairos } from './run-cli.js';
import { parseCron } from '../../src/core/cron.js';

const db = await fixture();
const base = ['--database-url', db.connectionString, '--schema', db.schema];
const run = (...args: string[]) => kairos([...args.slice(0, 2), ...base, ...args.slice(2)]);
after(() => undefined);

test('kairos jobs add / list / show / disable / enable / run / delete', async () => {
  const added = await run('jobs', 'add', 'nightly-vacuum', '--sql', 'VACUUM', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /job nightly-vacuum saved: cron 0 3 \* \* \* \(Europe\/Berlin\)/);
  const listed = await run('jobs', 'list', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const jobs = JSON.parse(listed.stdout) as Array<{ name: string; nextRun: string }>;
  assert.equal(jobs[0]?.name, 'nightly-vacuum');
  assert.equal(new Date(jobs[0]!.nextRun).toISOString(), parseCron('0 3 * * *', 'Europe/Berlin').next(new Date())!.toISOString());
  const table = await run('jobs', 'list');
  assert.match(table.stdout, /^NAME\s+TYPE\s+SCHEDULE/m);
  assert.equal((await run('jobs', 'disable', 'nightly-vacuum')).code, 0);
  const shown = await run('jobs', 'show', 'nightly-vacuum', '--json');
  assert.equal(JSON.parse(shown.stdout).enabled, false);
  assert.equal((await run('jobs', 'enable', 'nightly-vacuum')).code, 0);
  const queued = await run('jobs', 'run', 'nightly-vacuum', '--json');
  const runId = JSON.parse(queued.stdout).runId as number;
  assert.ok(runId > 0);
  const runs = await run('runs', 'list', '--json');
  assert.deepEqual(JSON.parse(runs.stdout).map((r: { id: number }) => r.id), [runId]);
  const cancelled = await run('runs', 'cancel', String(runId));
  assert.match(cancelled.stdout, new RegExp(`run ${runId} cancelled`));
  const history = await run('history', '--json');
  assert.equal(JSON.parse(history.stdout)[0].status, 'cancelled');
  assert.equal((await run('jobs', 'delete', 'nightly-vacuum')).code, 0);
  assert.equal(await db.count('jobs'), 0);
});

test('exit codes: bad input 2, not found 4, and nothing written', async () => {
  const badCron = await run('jobs', 'add', 'x', '--sql', 'SELECT 1', '--cron', '61 * * * *');
  assert.equal(badCron.code, 2, badCron.stderr);
  assert.match(badCron.stderr, /minute/);
  const badSql = await run('jobs', 'add', 'x', '--sql', 'SELEC 1', '--every', '1h');
  assert.equal(badSql.code, 2);
  assert.match(badSql.stderr, /invalid SQL: syntax error/);
  const both = await run('jobs', 'add', 'x', '--sql', 'SELECT 1', '--shell', 'echo');
  assert.equal(both.code, 2);
  const missing = await run('jobs', 'show', 'nope');
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /No job named "nope"/);
  assert.equal((await run('runs', 'cancel', '99999')).code, 4);
  assert.equal(await db.count('jobs'), 0);
});

test('backfill creates each missed occurrence once; preview lists fire times; purge trims history', async () => {
  await run('jobs', 'add', 'hourly', '--task', 'report', '--cron', '0 * * * *');
  const first = await run('jobs', 'backfill', 'hourly', '--from', '2030-01-01T00:00:00Z', '--to', '2030-01-01T05:00:00Z', '--json');
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).created, 6);
  const again = await run('jobs', 'backfill', 'hourly', '--from', '2030-01-01T00:00:00Z', '--to', '2030-01-01T07:00:00Z', '--json');
  assert.equal(JSON.parse(again.stdout).created, 2, 'only the occurrences not yet created');
  assert.equal(await db.count('runs'), 8);
  const preview = await kairos(['schedule', 'preview', '0 9 * * MON-FRI', '--tz', 'America/New_York', '--count', '3', '--json']);
  assert.equal(JSON.parse(preview.stdout).length, 3);
  await db.pool.query(`INSERT INTO "${db.schema}".job_logs (run_id, task, queue, attempt, status, finished_at) VALUES (1, 't', 'default', 1, 'completed', now() - interval '40 days'), (2, 't', 'default', 1, 'completed', now())`);
  const purged = await run('history', 'purge', '--older-than', '30d', '--json');
  assert.equal(JSON.parse(purged.stdout).deleted, 1);
});
