/**
 * Issue #15: one JSON shape per entity, camelCase as the TypeScript API returns it, whichever
 * command prints it; every action prints a result object under --json; lists say on stderr when
 * --limit cut them; shell jobs' output tails in `history` and a readable `runs show`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually } from '../helpers.js';
import { kairos, startCli } from './run-cli.js';
import { drain } from '../../src/testing/index.js';

const db = await fixture();
const base = ['--database-url', db.connectionString, '--schema', db.schema];
const s = `"${db.schema}"`;
// A command of two words (`jobs list`) or one (`history`), then the connection options.
const run = (...args: string[]) => {
  const words = args[0] === 'history' && !['list', 'purge'].includes(args[1]!) ? 1 : 2;
  return kairos([...args.slice(0, words), ...base, ...args.slice(words)]);
};
const json = async (...args: string[]): Promise<unknown> => {
  const result = await run(...args);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown;
};
const sorted = (o: object): string[] => Object.keys(o).sort();

test('a job has one JSON shape: list, show, add, enable and disable print the API\'s Job', async () => {
  const added = (await json('jobs', 'add', 'shape', '--sql', 'SELECT 1', '--every', '1h', '--json')) as Record<string, unknown>;
  const node = db.node();
  const api = JSON.parse(JSON.stringify((await node.listJobs())[0])) as Record<string, unknown>;
  const detail = JSON.parse(JSON.stringify(await node.getJob('shape'))) as Record<string, unknown>;
  assert.deepEqual(added, detail, 'jobs add --json: getJob()\'s object');
  assert.ok('nextRun' in added && 'lastStatus' in added && !('next_run' in added));
  const [listed] = (await json('jobs', 'list', '--json')) as Array<Record<string, unknown>>;
  assert.deepEqual(listed, api, 'jobs list --json: listJobs()\'s objects');
  const { history, ...shown } = (await json('jobs', 'show', 'shape', '--json')) as Record<string, unknown>;
  assert.deepEqual(shown, detail, 'jobs show --json: getJob()\'s object, plus its history');
  const { running, pending, ...rest } = shown;
  assert.deepEqual([rest, running, pending], [listed, 0, 0], 'the list\'s Job with the live counts');
  assert.deepEqual(history, []);
  const disabled = (await json('jobs', 'disable', 'shape', '--json')) as Record<string, unknown>;
  assert.deepEqual(sorted(disabled), sorted(detail));
  assert.equal(disabled.enabled, false);
  const enabled = (await json('jobs', 'enable', 'shape', '--json')) as Record<string, unknown>;
  assert.equal(enabled.enabled, true);
});

test('every action prints a result object under --json: run, cancel, delete, backfill, purge', async () => {
  await run('jobs', 'add', 'acts', '--task', 'report', '--cron', '0 * * * *');
  const { runId } = (await json('jobs', 'run', 'acts', '--json')) as { runId: number };
  assert.ok(runId > 0);
  assert.deepEqual(await json('runs', 'cancel', String(runId), '--json'), { runId, result: 'cancelled' });
  assert.deepEqual(await json('jobs', 'backfill', 'acts', '--from', '2030-01-01T00:00', '--to', '2030-01-01T01:00', '--json'), { job: 'acts', created: 2 });
  assert.deepEqual(await json('jobs', 'delete', 'acts', '--json'), { job: 'acts', deleted: true });
  assert.deepEqual(await json('history', 'purge', '--older-than', '1d', '--json'), { deleted: 0 });
});

test('history --json and history --follow --json print the same HistoryEntry', async () => {
  await db.pool.query(`SELECT * FROM ${s}.define_job('followed', 'SELECT 1', every => '1 hour')`);
  const follower = startCli(['history', ...base, '--follow', '--json', '--job', 'followed']);
  try {
    // The follower reads where the history ends before printing anything new; give it an entry to wait behind.
    await eventually(async () => (await db.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'kairos' AND state IS NOT NULL")).rows[0].n > 0, 15_000, 'the follower connected');
    await db.pool.query(`SELECT ${s}.trigger_job('followed')`);
    await drain(db.node({ runSqlJobs: true }));
    await follower.waitFor('"status":"completed"');
    const [listed] = (await json('history', '--job', 'followed', '--json')) as Array<Record<string, unknown>>;
    const followed = JSON.parse(follower.output().trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.deepEqual(followed, listed);
    assert.ok('runId' in listed! && 'jobName' in listed! && 'finishedAt' in listed!);
  } finally {
    follower.child.kill('SIGTERM');
    await follower.exited;
  }
});

test('runs list and history say when --limit cut the list, on stderr', async () => {
  await db.pool.query(`SELECT * FROM ${s}.define_job('many', 'SELECT 1')`);
  for (let i = 0; i < 3; i++) await db.pool.query(`SELECT ${s}.trigger_job('many')`);
  const cut = await run('runs', 'list', '--job', 'many', '--limit', '2', '--json');
  assert.equal(cut.code, 0, cut.stderr);
  assert.equal((JSON.parse(cut.stdout) as unknown[]).length, 2);
  assert.match(cut.stderr, /showing first 2 of more; use --limit/);
  const whole = await run('runs', 'list', '--job', 'many', '--limit', '3', '--json');
  assert.equal((JSON.parse(whole.stdout) as unknown[]).length, 3);
  assert.equal(whole.stderr, '', 'nothing said when all were shown');
  await db.pool.query(`INSERT INTO ${s}.job_logs (run_id, task, queue, attempt, status, finished_at) SELECT g, 't', 'default', 1, 'completed', now() FROM generate_series(900, 904) g`);
  const history = await run('history', '--limit', '4');
  assert.match(history.stderr, /showing first 4 of more; use --limit/);
});

test('a shell job\'s output tails show in history and in a readable runs show', async () => {
  const command = 'sh -c "echo out-line; echo err-line >&2; exit 3"';
  await db.pool.query(`SELECT * FROM ${s}.define_job('noisy', $1, job_type => 'shell', retries => 0)`, [command]);
  const runId = Number((await db.pool.query(`SELECT ${s}.trigger_job('noisy') AS id`)).rows[0].id);
  await drain(db.node({ runSqlJobs: true, allowShell: true }));
  const history = await run('history', '--job', 'noisy');
  assert.equal(history.code, 0, history.stderr);
  assert.match(history.stdout, /OUTPUT/);
  assert.match(history.stdout, /failed .*stderr: err-line/);
  const shown = await run('runs', 'show', String(runId));
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^run: +${runId}$`, 'm'));
  assert.match(shown.stdout, /^job: +noisy$/m);
  assert.match(shown.stdout, /^ {2}attempt 1: failed$/m);
  assert.match(shown.stdout, /^ {4}error: +exit code 3: err-line$/m);
  assert.match(shown.stdout, /^ {4}exit code: +3$/m);
  assert.match(shown.stdout, /^ {4}stdout:\n {6}out-line$/m);
  assert.match(shown.stdout, /^ {4}stderr:\n {6}err-line$/m);
  assert.doesNotMatch(shown.stdout, /^\{/m, 'not a JSON blob');
  const asJson = (await json('runs', 'show', String(runId), '--json')) as { live: unknown; last: { runId: number; output: { stdout: string } } };
  assert.equal(asJson.live, null);
  assert.equal(asJson.last.runId, runId);
  assert.match(asJson.last.output.stdout, /out-line/);
});
