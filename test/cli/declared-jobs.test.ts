/**
 * Jobs declared in the agent's YAML file (`jobs:`), pgAgent's calendar arrays included (issue
 * #14, item 16): the file's shape is checked with the rest of the configuration, and the jobs are
 * applied through the SQL API in one transaction, so a refused declaration changes nothing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers.js';
import { AgentConfigError, loadAgentConfig } from '../../src/cli/config.js';
import { applyDeclaredJobs } from '../../src/cli/declared-jobs.js';
import { silentLogger } from '../../src/testing/index.js';

const db = await fixture();
const dir = mkdtempSync(join(tmpdir(), 'kairos-declared-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const bools = (n: number, on: number[]): string => `[${Array.from({ length: n }, (_, i) => on.includes(i)).join(', ')}]`;
async function loadYaml(yaml: string) {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, yaml);
  return loadAgentConfig({ flags: {}, env: {}, configFile: path });
}
async function problems(yaml: string): Promise<string[]> {
  const error = await loadYaml(yaml).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof AgentConfigError, 'the file is refused');
  return error.problems.map((p) => p.message);
}

// The seed's (002) "Daily at 2 AM": minute 2 and hour 2 chosen, every weekday, month day and month.
const daily = `kairos:
  jobs:
    daily-backup:
      type: shell
      command: "pg_dump mydb | gzip > /tmp/daily.sql.gz"
      shell: true
      calendar:
        minutes: ${bools(60, [2])}
        hours: ${bools(24, [2])}
      start: 2024-01-01T02:00:00Z
      description: Run backup daily at 2:00 AM
    vacuum-often:
      command: VACUUM ANALYZE
      every: 10 minutes
    two-step:
      type: steps
      cron: "30 3 * * *"
      steps:
        - { name: first, kind: sql, command: "SELECT 1" }
        - { name: second, kind: sql, command: "SELECT 2", on_error: ignore }
`;

test('a file\'s jobs: parsed with pgAgent\'s calendar, applied through the SQL API, idempotent', async () => {
  const config = await loadYaml(daily);
  assert.deepEqual(config.jobs?.map((j) => j.name), ['daily-backup', 'vacuum-often', 'two-step']);
  await applyDeclaredJobs(db.connectionString, db.schema, config.jobs!, silentLogger);
  const { rows } = await db.pool.query(`SELECT job_name, job_type, schedule_kind, cron, schedule_interval::text AS every, options FROM "${db.schema}".jobs ORDER BY job_name`);
  assert.deepEqual(rows.map((r) => [r.job_name, r.job_type, r.schedule_kind, r.cron ?? r.every]), [
    ['daily-backup', 'shell', 'cron', '2 2 * * *'],
    ['two-step', 'steps', 'cron', '30 3 * * *'],
    ['vacuum-often', 'sql', 'interval', '00:10:00'],
  ]);
  assert.equal(await db.count('job_steps'), 2, 'the steps of two-step');
  // Applying the same file again (every restart) changes nothing.
  const before = await db.pool.query(`SELECT job_name, updated_at FROM "${db.schema}".jobs ORDER BY job_name`);
  await applyDeclaredJobs(db.connectionString, db.schema, config.jobs!, silentLogger);
  const again = await db.pool.query(`SELECT job_name, updated_at FROM "${db.schema}".jobs ORDER BY job_name`);
  assert.equal(again.rows.length, 3);
  assert.deepEqual(again.rows.map((r) => r.job_name), before.rows.map((r) => r.job_name));
});

test('the file\'s shape: unknown keys in a job, its calendar and its steps get a "did you mean"', async () => {
  const said = await problems(`kairos:\n  jobs:\n    j:\n      comand: SELECT 1\n      calendar:\n        minute: ${bools(60, [0])}\n      steps:\n        - { name: a, kind: sql, command: x, on_eror: fail }\n`);
  assert.ok(said.some((m) => /Unknown key `comand` of `jobs\.j`.*did you mean `command`\?/.test(m)), said.join('\n'));
  assert.ok(said.some((m) => /Unknown key `minute` of `jobs\.j\.calendar`.*did you mean `minutes`\?/.test(m)), said.join('\n'));
  assert.ok(said.some((m) => /Unknown key `on_eror` of `jobs\.j\.steps\.0`.*did you mean `on_error`\?/.test(m)), said.join('\n'));
  const types = await problems('kairos:\n  jobs:\n    j:\n      type: python\n      command: x\n');
  assert.ok(types.some((m) => /jobs\.j\.type.*sql, shell or steps/.test(m)), types.join('\n'));
});

test('a declaration the SQL API refuses (a calendar of 59 minutes, a bad cron) is refused with its job named, and no job of the file is written', async () => {
  const fresh = await fixture();
  const bad = await loadYaml(`kairos:\n  jobs:\n    good:\n      command: SELECT 1\n      every: 1 hour\n    bad-calendar:\n      command: SELECT 1\n      calendar:\n        minutes: ${bools(59, [0])}\n`);
  await assert.rejects(applyDeclaredJobs(fresh.connectionString, fresh.schema, bad.jobs!, silentLogger), (error: Error) => {
    assert.match(error.message, /^Job `bad-calendar` of the configuration file was refused: .*minutes.*60/);
    assert.match(error.message, /no declared job was changed$/);
    return true;
  });
  assert.equal(await fresh.count('jobs'), 0, 'the good job before it was rolled back too');
  const cron = await loadYaml('kairos:\n  jobs:\n    bad-cron:\n      command: SELECT 1\n      cron: "61 * * * *"\n');
  await assert.rejects(applyDeclaredJobs(fresh.connectionString, fresh.schema, cron.jobs!, silentLogger), /Job `bad-cron` of the configuration file was refused/);
  assert.equal(await fresh.count('jobs'), 0);
});
