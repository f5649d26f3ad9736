/**
 * Issue #15: exit codes as docs/sql.md says (2 bad input, unknown flags and missing options
 * included; 4 not found), statuses and limits checked, `--at` read as UTC when it has no offset
 * (as the dashboard reads it), `--tz` refused where it would be ignored. Bad input changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { kairos } from './run-cli.js';
import { defineParams } from '../../src/dashboard/form.js';

const db = await fixture();
const base = ['--database-url', db.connectionString, '--schema', db.schema];
const run = (...args: string[]) => kairos([...args.slice(0, 2), ...base, ...args.slice(2)]);

test('unknown flags, missing options and arguments exit 2, with a did-you-mean', async () => {
  const unknown = await run('jobs', 'list', '--jsn');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option '--jsn'[\s\S]*Did you mean --json\?/);
  const missingOption = await run('history', 'purge');
  assert.equal(missingOption.code, 2);
  assert.match(missingOption.stderr, /required option '--older-than <duration>' not specified/);
  const missingArgument = await kairos(['jobs', 'show', ...base]);
  assert.equal(missingArgument.code, 2);
  const unknownCommand = await kairos(['jbos']);
  assert.equal(unknownCommand.code, 2);
  assert.match(unknownCommand.stderr, /Did you mean jobs\?/);
  const help = await kairos(['--help']);
  assert.equal(help.code, 0);
});

test('not found exits 4: show, delete, cancel', async () => {
  for (const args of [['jobs', 'show', 'nope'], ['jobs', 'delete', 'nope'], ['runs', 'show', '424242'], ['runs', 'cancel', '424242']]) {
    const result = await run(...args);
    assert.equal(result.code, 4, `${args.join(' ')}: ${result.stderr}`);
  }
});

test('runs list --status and history purge --status take only known statuses, listing them', async () => {
  const bogus = await run('runs', 'list', '--status', 'bogus');
  assert.equal(bogus.code, 2);
  assert.equal(bogus.stderr.trim(), 'kairos: --status "bogus" is not a status; valid: pending, running');
  const close = await run('runs', 'list', '--status', 'runing');
  assert.match(close.stderr, /did you mean running\?/);
  await db.pool.query(`INSERT INTO "${db.schema}".job_logs (run_id, task, queue, attempt, status, finished_at) VALUES (1, 't', 'default', 1, 'failed', now() - interval '40 days')`);
  const purge = await run('history', 'purge', '--older-than', '1d', '--status', 'faild');
  assert.equal(purge.code, 2);
  assert.match(purge.stderr, /--status "faild" is not a status; valid: completed, failed, .*skipped; did you mean failed\?/);
  assert.equal(await db.count('job_logs'), 1, 'nothing purged');
  const history = await kairos(['history', ...base, '--status', 'bogus']);
  assert.equal(history.code, 2);
  assert.match(history.stderr, /--status "bogus" is not a status/);
});

test('--limit is a positive whole number', async () => {
  for (const [cmd, sub] of [['runs', 'list'], ['history', 'list'], ['logs', 'list']] as const) {
    for (const bad of ['0', '-3', 'ten', '1.5', '100001']) {
      const result = await run(cmd, sub, '--limit', bad);
      assert.equal(result.code, 2, `${cmd} --limit ${bad}`);
      assert.match(result.stderr, /--limit must be a whole number from 1 to 100000/);
    }
  }
});

test('--at without an offset is UTC in the CLI as in the dashboard; with one, as written', async () => {
  const plain = await run('jobs', 'add', 'xmas', '--sql', 'SELECT 1', '--at', '2036-12-24T18:00', '--json');
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(JSON.parse(plain.stdout).nextRun, '2036-12-24T18:00:00.000Z');
  assert.equal((defineParams({ name: 'xmas', kind: 'sql', command: 'SELECT 1', schedule_kind: 'once', at: '2036-12-24T18:00' }).at as Date).toISOString(), '2036-12-24T18:00:00.000Z', 'the dashboard reads it the same');
  const offset = await run('jobs', 'add', 'xmas2', '--sql', 'SELECT 1', '--at', '2036-12-24T18:00:00+02:00', '--json');
  assert.equal(JSON.parse(offset.stdout).nextRun, '2036-12-24T16:00:00.000Z');
  // Under another local zone, the same text is the same instant.
  const elsewhere = await kairos(['jobs', 'add', 'xmas3', ...base, '--sql', 'SELECT 1', '--at', '2036-12-24T18:00', '--json'], { env: { TZ: 'America/New_York' } });
  assert.equal(JSON.parse(elsewhere.stdout).nextRun, '2036-12-24T18:00:00.000Z');
});

test('a malformed offset says how to write one; --tz with --every (or --at) is refused; nothing written', async () => {
  const before = await db.count('jobs');
  const short = await run('jobs', 'add', 'bad-at', '--sql', 'SELECT 1', '--at', '2036-12-24T18:00+2:00');
  assert.equal(short.code, 2);
  assert.match(short.stderr, /an offset has two-digit hours: \+02:00, not \+2:00\); write it as ISO 8601, e\.g\. 2026-12-24T18:00:00Z .* 2026-12-24T18:00:00\+02:00/);
  const noDay = await run('jobs', 'add', 'bad-at', '--sql', 'SELECT 1', '--at', '2036-02-30T10:00');
  assert.equal(noDay.code, 2);
  assert.match(noDay.stderr, /there is no 2036-02-30/);
  const tz = await run('jobs', 'add', 'bad-tz', '--sql', 'SELECT 1', '--every', '1h', '--tz', 'Europe/Paris');
  assert.equal(tz.code, 2);
  assert.match(tz.stderr, /--tz applies to --cron only; an --every interval has no time zone/);
  const tzAt = await run('jobs', 'add', 'bad-tz', '--sql', 'SELECT 1', '--at', '2036-12-24T18:00', '--tz', 'Europe/Paris');
  assert.equal(tzAt.code, 2);
  assert.match(tzAt.stderr, /give --at an offset instead, e\.g\. 2026-12-24T18:00:00\+02:00/);
  const cron = await run('jobs', 'add', 'ok-tz', '--sql', 'SELECT 1', '--cron', '0 9 * * *', '--tz', 'Europe/Paris');
  assert.equal(cron.code, 0, cron.stderr);
  assert.equal(await db.count('jobs'), before + 1, 'only the valid job was written');
});

test('history --follow with --status is refused rather than the status ignored', async () => {
  const result = await kairos(['history', ...base, '--follow', '--status', 'failed']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--status cannot be combined with --follow/);
});
