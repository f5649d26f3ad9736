/**
 * Shell jobs as the seeds define them (issue #14, item 12): seed 000's add_job and pgAgent-style
 * batch steps are /bin/sh scripts (pipes, redirections); an argv command line that cannot run as
 * written is refused when it is defined, not when it runs; and a refusal no retry can change
 * fails the run at once, without its retries, counting as one failed attempt.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { fixture } from '../helpers.js';
import { drain } from '../../src/testing/index.js';
import { splitArgv } from '../../src/executors/shell/spawn.js';

const db = await fixture();
const s = `"${db.schema}"`;
const dir = await mkdtemp(join(tmpdir(), 'kairos-sh-'));
const erin = `erin_${randomBytes(3).toString('hex')}`;
await db.pool.query(`CREATE ROLE ${erin} NOLOGIN`);
await db.pool.query(`GRANT kairos_shell TO ${erin}`);
after(async () => {
  await rm(dir, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  await client.query(`DROP OWNED BY ${erin}; DROP ROLE ${erin}`).catch(() => undefined);
  await client.end();
});

const logs = async (name: string) =>
  (await db.pool.query(`SELECT l.status, l.message, l.attempt FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id) WHERE j.job_name = $1 ORDER BY log_id`, [name])).rows;
const job = async (name: string) => (await db.pool.query(`SELECT * FROM ${s}.jobs WHERE job_name = $1`, [name])).rows[0];
const refusal = async (sql: string, values: unknown[]): Promise<{ code: string; message: string }> => {
  try {
    await db.pool.query(sql, values);
  } catch (error) {
    return error as { code: string; message: string };
  }
  assert.fail(`expected ${sql} to be refused`);
};

test("seed 000's README pipeline runs through /bin/sh, with > and >> redirections", async () => {
  const out = join(dir, 'notify.txt');
  // The README's example with `mail` replaced by something that writes a file the test reads.
  const cmd = `echo Backup completed | sed 's/completed/done/' > ${out}; echo again | tr a-z A-Z >> ${out}`;
  assert.equal((await db.pool.query(`SELECT ${s}.add_job('notify_backup', 'shell', $1, NULL, now())`, [cmd])).rows[0].add_job, 'created');
  assert.equal((await job('notify_backup')).options.shell, true);
  const node = db.node({ runSqlJobs: true, allowShell: true });
  await node.trigger('notify_backup');
  await drain(node);
  const [log] = await logs('notify_backup');
  assert.equal(log.status, 'completed', log.message);
  assert.equal(await readFile(out, 'utf8'), 'Backup done\nAGAIN\n');
  // add_or_update_job keeps the job's other options and the /bin/sh choice.
  await db.pool.query(`UPDATE ${s}.jobs SET options = options || '{"cwd": "/tmp"}' WHERE job_name = 'notify_backup'`);
  assert.equal((await db.pool.query(`SELECT ${s}.add_or_update_job('notify_backup', 'shell', 'pwd > ${out}', interval '1 hour')`)).rows[0].add_or_update_job, 'updated');
  assert.deepEqual((await job('notify_backup')).options, { cwd: '/tmp', shell: true });
});

test('pgAgent batch steps run through /bin/sh unless the step says shell: false', async () => {
  const out = join(dir, 'steps.txt');
  await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => 'batch', command => 'batch', job_type => 'steps', run_as => $1)`, [erin]);
  await db.pool.query(`SELECT ${s}.set_steps('batch', $1)`, [JSON.stringify([
    { name: 'pipe', kind: 'shell', command: `printf 'a\\nb\\n' | wc -l > ${out}` },
    { name: 'append', kind: 'shell', command: `echo tail >> ${out}`, options: { cwd: '/tmp' } },
    { name: 'argv', kind: 'shell', command: `touch ${join(dir, 'argv-ran')}`, options: { shell: false } },
  ])]);
  const steps = (await db.pool.query(`SELECT name, options FROM ${s}.job_steps ORDER BY position`)).rows;
  assert.deepEqual(steps.map((r) => r.options), [{ shell: true }, { cwd: '/tmp', shell: true }, { shell: false }]);
  const node = db.node({ runSqlJobs: true, allowShell: true });
  await node.trigger('batch');
  await drain(node);
  const [log] = await logs('batch');
  assert.equal(log.status, 'completed', log.message);
  assert.equal((await readFile(out, 'utf8')).replace(/ /g, ''), '2\ntail\n');
  await readFile(join(dir, 'argv-ran'), 'utf8');
});

test('an argv command that cannot run as written is refused at definition (22023), nothing stored', async () => {
  const refused = await refusal(`SELECT * FROM ${s}.define_job(job_name => 'piped', command => 'grep x /etc/hosts | wc -l', job_type => 'shell', run_as => $1)`, [erin]);
  assert.equal(refused.code, '22023');
  assert.match(refused.message, /the shell command 'grep x \/etc\/hosts \| wc -l' is not a plain command line \(quotes and backslashes only\): unquoted `\|` at column 19; give options \{"shell": true\} to run it through \/bin\/sh/);
  assert.equal(await job('piped'), undefined);
  for (const command of [`echo 'unclosed`, 'echo "$HOME"', 'echo done > /tmp/x', "'' ls", 'a\\']) {
    const error = await refusal(`SELECT * FROM ${s}.define_job(job_name => 'bad', command => $2, job_type => 'shell', run_as => $1)`, [erin, command]);
    assert.equal(error.code, '22023', command);
  }
  assert.equal(await job('bad'), undefined);
  const badOption = await refusal(`SELECT * FROM ${s}.define_job(job_name => 'bad', command => 'ls', job_type => 'shell', run_as => $1, options => '{"shell": "yes"}')`, [erin]);
  assert.equal(badOption.code, '22023');
  assert.match(badOption.message, /options.shell must be true \(a \/bin\/sh script\) or false \(an argv command line\), got "yes"/);
  // Through /bin/sh the same text is accepted.
  await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => 'piped', command => 'grep x /etc/hosts | wc -l', job_type => 'shell', run_as => $1, options => '{"shell": true}')`, [erin]);
  assert.equal((await job('piped')).options.shell, true);
  // A step: the whole set is refused and the old steps stay.
  await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => 'steps2', command => 'steps2', job_type => 'steps', run_as => $1)`, [erin]);
  await db.pool.query(`SELECT ${s}.set_steps('steps2', '[{"kind": "sql", "command": "SELECT 1"}]')`);
  const step = await refusal(`SELECT ${s}.set_steps('steps2', $1)`, [JSON.stringify([{ kind: 'shell', command: 'ls | wc', options: { shell: false } }])]);
  assert.equal(step.code, '22023');
  assert.match(step.message, /^step 1: the shell command 'ls \| wc' is not a plain command line/);
  assert.deepEqual((await db.pool.query(`SELECT st.kind, st.command FROM ${s}.job_steps st JOIN ${s}.jobs j USING (job_id) WHERE j.job_name = 'steps2'`)).rows, [{ kind: 'sql', command: 'SELECT 1' }]);
});

test('api_check_argv accepts exactly what splitArgv accepts (one rule in two languages)', async () => {
  const corpus = [
    'ls', 'ls -la /tmp', "echo 'a | b'", 'echo "a | b"', 'echo a\\|b', 'echo a|b', 'a && b', 'a; b', 'a > f', 'a >> f', 'a < f',
    '(a)', 'echo `x`', 'echo "`x`"', 'echo $HOME', 'echo "$HOME"', "echo '$HOME'", 'echo \\$HOME', 'echo $', 'echo "a$"', 'echo $%',
    'echo ${x}', 'echo $(x)', 'echo a#b', 'echo #c', '# c', "echo 'open", 'echo "open', 'echo \\', 'echo a\\\nb', 'a\nb', 'a\n', '\na',
    "'' x", '"" x', "x ''", '\\\n', 'https://x/?a=1', '~/bin/x *.txt', 'echo "a\\"b"', 'echo "a\\x"', 'x\r', 'a\tb', 'echo "\\$x"',
    "a'b'\"c\"", 'echo é | x', 'echo "é$é"', 'echo $é', 'echo "$1"', 'echo $@', 'echo "$-"', 'x &', 'a\r\nb', '\\ ', ' \\\n ',
  ];
  for (const command of corpus) {
    let ts: string;
    try {
      splitArgv(command);
      ts = 'accepted';
    } catch {
      ts = 'refused';
    }
    // planCommand also refuses an empty first word or no word at all.
    try {
      const argv = splitArgv(command);
      if (argv.length === 0 || argv[0] === '') ts = 'refused';
    } catch {
      // already refused
    }
    const sql = await db.pool.query(`SELECT ${s}.api_check_argv($1)`, [command]).then(() => 'accepted', (e: { code: string }) => (e.code === '22023' ? 'refused' : `error ${e.code}`));
    assert.equal(sql, ts, JSON.stringify(command));
  }
});

test('a refusal no retry can change fails the run at once and counts as one failed attempt', async () => {
  // An agent without --allow-shell running a batch job's shell step.
  await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => 'noshell', command => 'noshell', job_type => 'steps', run_as => $1, retries => 3, max_attempts => 5)`, [erin]);
  await db.pool.query(`SELECT ${s}.set_steps('noshell', '[{"kind": "shell", "command": "true"}]')`);
  const sqlOnly = db.node({ runSqlJobs: true, allowShell: false });
  await sqlOnly.trigger('noshell');
  await drain(sqlOnly);
  let history = await logs('noshell');
  assert.equal(history.length, 1);
  assert.equal(history[0].status, 'failed');
  assert.match(history[0].message, /shell jobs are disabled on this node \(start the agent with --allow-shell\); not retried/);
  assert.equal(await db.count('runs', `job_id = ${(await job('noshell')).job_id}`), 0);
  assert.equal((await job('noshell')).current_attempts, 1);

  // An owner taken out of kairos_shell after the definition: refused at run time, not retried.
  await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => 'revoked', command => 'true', job_type => 'shell', run_as => $1, retries => 3)`, [erin]);
  await db.pool.query(`REVOKE kairos_shell FROM ${erin}`);
  try {
    const refused = await refusal(`SELECT * FROM ${s}.define_job(job_name => 'outsider', command => 'true', job_type => 'shell', run_as => $1)`, [erin]);
    assert.equal(refused.code, '42501');
    assert.match(refused.message, /must be a member of role "?kairos_shell/);
    assert.equal(await job('outsider'), undefined);
    const shellNode = db.node({ runSqlJobs: true, allowShell: true });
    await shellNode.trigger('revoked');
    await drain(shellNode);
    history = await logs('revoked');
    assert.equal(history.length, 1, JSON.stringify(history));
    assert.equal(history[0].status, 'failed');
    assert.match(history[0].message, /need their owner to be a member of role kairos_shell; erin_\w+ is not \(not retried\)/);
  } finally {
    await db.pool.query(`GRANT kairos_shell TO ${erin}`);
  }

  // A row written around the definition checks (a direct UPDATE): refused when it runs, once.
  await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => 'sneaky', command => 'true', job_type => 'shell', run_as => $1, retries => 3)`, [erin]);
  await db.pool.query(`UPDATE ${s}.jobs SET command = 'echo a | wc' WHERE job_name = 'sneaky'`);
  const shellNode = db.node({ runSqlJobs: true, allowShell: true });
  await shellNode.trigger('sneaky');
  await drain(shellNode);
  history = await logs('sneaky');
  assert.equal(history.length, 1, JSON.stringify(history));
  assert.match(history[0].message, /unquoted `\|` at column 8.*; not retried$/);

  // An ordinary failure still gets its retries.
  await db.pool.query(`SELECT * FROM ${s}.define_job(job_name => 'flaky', command => 'false', job_type => 'shell', run_as => $1, retries => 2)`, [erin]);
  await db.pool.query(`UPDATE ${s}.jobs SET backoff_ms = 0, backoff_max_ms = 0 WHERE job_name = 'flaky'`);
  await shellNode.trigger('flaky');
  await drain(shellNode);
  assert.equal((await logs('flaky')).length, 3);
});
