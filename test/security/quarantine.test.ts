/**
 * One malformed job row must never stop every tenant's schedules (issue #12, class 6), written as
 * an attacker: a tenant granted job_scheduler (INSERT/UPDATE on `jobs` under row-level security)
 * writes rows straight into `jobs` with values the API refuses. One such row (next_run
 * '-infinity', misfire_grace_ms or run_count at their type's maximum) used to make every ticker
 * pass fail, and every other role's schedules stopped until it was deleted. Now the obvious
 * values are refused at write time (migration 0016's constraints) and anything else, however it
 * got there (a superuser, a row from before the constraints, a plan the database refuses), is
 * quarantined: marked broken with a reason, skipped by the ticker, alerted (`broken`), logged at
 * error level and shown as broken by the dashboard and the CLI, while another tenant's
 * every-second job keeps firing. A valid redefinition or enabling clears the quarantine. The run
 * path refuses malformed rows too, and a failure count at its limit no longer fails the batch
 * that records other jobs' failures.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { fixture, eventually } from '../helpers.js';
import { createAlerts, type Alert } from '../../src/index.js';
import { Client, serve } from '../dashboard/serve.js';
import { kairos as cli } from '../cli/run-cli.js';
import { drain, silentLogger } from '../../src/testing/index.js';
import { migrate } from '../../src/store/migrate.js';
import { readMigrations, renderSql } from '../../src/store/sql.js';
import { Kairos } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';
import { asRole } from './as-role.js';

const db = await fixture();
const s = `"${db.schema}"`;
const tag = randomBytes(3).toString('hex');
const mallory = `mallory_${tag}`;
const victor = `victor_${tag}`;
await db.pool.query(`CREATE ROLE ${mallory} NOLOGIN IN ROLE job_scheduler; CREATE ROLE ${victor} NOLOGIN IN ROLE job_scheduler`);
after(async () => {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  for (const role of [mallory, victor]) await client.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
  await client.end();
});
const pg17 = Number((await db.pool.query('SHOW server_version_num')).rows[0].server_version_num) >= 170000;

/** Run one statement as `role` (SET ROLE in its session). */
const as = (role: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> => asRole(db.pool, role, sql, values);

/** The node's log lines (JSON), warnings and errors. */
const lines: string[] = [];
const logger = pino({ level: 'warn' }, new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(chunk.toString()); done(); } }));
const node = db.node({ logger, runSqlJobs: true, tasks: { tick: () => 'tick', boom: () => { throw new Error('boom'); } } });
await node.start();
const dashboard = await serve({ pool: db.pool, schema: db.schema, logger });

// The victim: another tenant's job, every second, run by the node.
await as(victor, `SELECT ${s}.define_job(job_name => 'victim', command => 'tick', job_type => 'task', every => '1 second')`);
const victimRuns = (): Promise<number> =>
  db.count('job_logs', `status = 'completed' AND job_id = (SELECT job_id FROM ${s}.jobs WHERE job_name = 'victim')`);

/** The victim's occurrences keep being materialised and run: three more, within a bound. */
async function keepsFiring(what: string): Promise<void> {
  const before = await victimRuns();
  await eventually(async () => (await victimRuns()) >= before + 3, 20_000, `the victim's every-second job to keep firing ${what}`);
}

/** A job row written straight into `jobs`: an every-second task job, planned, due now, with `columns` overriding. */
function insertJob(name: string, columns: Record<string, string>, schema = s): string {
  const all: Record<string, string> = {
    job_name: `'${name}'`, command: `'tick'`, job_type: `'task'`, schedule_kind: `'interval'`, schedule_interval: `'1 second'`,
    planned: 'true', next_run: 'now()', ...columns,
  };
  return `INSERT INTO ${schema}.jobs (${Object.keys(all).join(', ')}) VALUES (${Object.values(all).join(', ')})`;
}

async function quarantine(name: string): Promise<{ broken: boolean; reason: string | null; id: number; at: Date | null }> {
  const { rows } = await db.pool.query(`SELECT job_id, broken_at IS NOT NULL AS broken, broken_reason, broken_at FROM ${s}.jobs WHERE job_name = $1`, [name]);
  assert.ok(rows[0], `job ${name} exists`);
  return { broken: rows[0].broken, reason: rows[0].broken_reason, id: rows[0].job_id, at: rows[0].broken_at };
}

/** Wait for `name` to be quarantined and check its reason and the error log line naming it. */
async function expectBroken(name: string, reason: RegExp): Promise<void> {
  await eventually(async () => (await quarantine(name)).broken, 15_000, `${name} to be quarantined`);
  assert.match((await quarantine(name)).reason ?? '', reason, name);
  const logged = lines.map((l) => JSON.parse(l) as { level: number; job?: string; msg: string }).find((l) => l.level === 50 && l.job === name);
  assert.ok(logged, `an error log line names ${name}`);
  assert.match(logged.msg, /broken/);
}

interface Variant {
  name: string;
  columns: Record<string, string>;
  /** The reason it is quarantined with, or 'refused' when a constraint refuses the write. */
  outcome: RegExp | 'refused';
}

const TENANT_VARIANTS: Variant[] = [
  { name: 'evil-next-minus-infinity', columns: { next_run: `'-infinity'` }, outcome: 'refused' },
  { name: 'evil-next-plus-infinity', columns: { next_run: `'infinity'` }, outcome: 'refused' },
  { name: 'evil-next-bc', columns: { next_run: `'4000-01-01 BC'` }, outcome: /next_run/ },
  { name: 'evil-interval-max', columns: { schedule_interval: `'178000000 years'` }, outcome: 'refused' },
  ...(pg17 ? [{ name: 'evil-interval-infinity', columns: { schedule_interval: `'infinity'` }, outcome: 'refused' as const }] : []),
  { name: 'evil-interval-tiny', columns: { schedule_interval: `'1 microsecond'`, overlap: `'allow'` }, outcome: 'refused' },
  { name: 'evil-misfire-max', columns: { misfire_grace_ms: '9223372036854775807' }, outcome: 'refused' },
  { name: 'evil-lateness-max', columns: { max_lateness_ms: '9223372036854775807', catch_up: `'all'` }, outcome: 'refused' },
  { name: 'evil-run-count-max', columns: { run_count: '2147483647' }, outcome: 'refused' },
  { name: 'evil-anchor-minus-infinity', columns: { schedule_time: `'-infinity'`, planned: 'false' }, outcome: 'refused' },
  { name: 'evil-end-minus-infinity', columns: { end_time: `'-infinity'` }, outcome: 'refused' },
  { name: 'evil-created-infinity', columns: { created_at: `'infinity'`, planned: 'false' }, outcome: /created_at/ },
  { name: 'evil-tz', columns: { schedule_kind: `'cron'`, cron: `'* * * * * *'`, timezone: `'Nowhere/Land'`, planned: 'false' }, outcome: /time ?zone/i },
  { name: 'evil-tz-offset', columns: { schedule_kind: `'cron'`, cron: `'* * * * * *'`, timezone: `'+02:00'` }, outcome: /time ?zone/i },
  { name: 'evil-cron', columns: { schedule_kind: `'cron'`, cron: `'every tuesday at noon'`, planned: 'false' }, outcome: /cron/ },
  { name: 'evil-exceptions', columns: { exceptions: `'[{"date": 5}]'` }, outcome: /exceptions/ },
];

test('a tenant\'s malformed rows are refused or quarantined, and another tenant\'s every-second job keeps firing', async () => {
  const written: string[] = [];
  for (const variant of TENANT_VARIANTS) {
    try {
      await as(mallory, insertJob(variant.name, variant.columns));
      written.push(variant.name);
    } catch (error) {
      assert.equal(variant.outcome, 'refused', `${variant.name} was refused: ${(error as Error).message}`);
      assert.equal((error as { code?: string }).code, '23514', `${variant.name}: a check violation`);
    }
  }
  await keepsFiring('next to the malformed rows');
  assert.deepEqual(written, TENANT_VARIANTS.filter((v) => v.outcome !== 'refused').map((v) => v.name), 'the constraints refuse exactly the obvious values');
  for (const variant of TENANT_VARIANTS) if (variant.outcome !== 'refused') await expectBroken(variant.name, variant.outcome);
  // An update that makes a healthy row malformed is caught the same way.
  await as(mallory, insertJob('evil-later', {}));
  await as(mallory, `UPDATE ${s}.jobs SET timezone = 'Mars/Olympus_Mons', schedule_kind = 'cron', cron = '* * * * * *' WHERE job_name = 'evil-later'`);
  await expectBroken('evil-later', /time ?zone/i);
  await keepsFiring('after a healthy row was made malformed');
  assert.ok((await quarantine('victim')).broken === false);
});

/** The superuser's rows: nothing refuses them once the checks are gone. */
const SUPERUSER_VARIANTS: Array<{ name: string; columns: Record<string, string>; reason: RegExp }> = [
  { name: 'su-next-minus-infinity', columns: { next_run: `'-infinity'` }, reason: /next_run/ },
  { name: 'su-next-plus-infinity', columns: { next_run: `'infinity'` }, reason: /next_run/ },
  { name: 'su-interval-max', columns: { schedule_interval: `'178000000 years'` }, reason: /schedule_interval/ },
  ...(pg17 ? [{ name: 'su-interval-infinity', columns: { schedule_interval: `'infinity'` }, reason: /schedule_interval/ }] : []),
  { name: 'su-interval-tiny', columns: { schedule_interval: `'1 microsecond'`, overlap: `'allow'` }, reason: /schedule_interval/ },
  { name: 'su-interval-null', columns: { schedule_interval: 'NULL' }, reason: /schedule_interval/ },
  { name: 'su-misfire-max', columns: { misfire_grace_ms: '9223372036854775807' }, reason: /misfire_grace_ms/ },
  { name: 'su-lateness-max', columns: { max_lateness_ms: '9223372036854775807', catch_up: `'all'` }, reason: /max_lateness_ms/ },
  { name: 'su-run-count-max', columns: { run_count: '2147483647' }, reason: /run_count/ },
  { name: 'su-anchor-minus-infinity', columns: { schedule_time: `'-infinity'`, planned: 'false' }, reason: /schedule_time/ },
  { name: 'su-end-minus-infinity', columns: { end_time: `'-infinity'` }, reason: /end_time/ },
  { name: 'su-once-null', columns: { schedule_kind: `'once'`, schedule_time: 'NULL', planned: 'false' }, reason: /schedule_time/ },
  { name: 'su-cron-null', columns: { schedule_kind: `'cron'`, cron: 'NULL', planned: 'false' }, reason: /cron/ },
  { name: 'su-kind-unknown', columns: { schedule_kind: `'lunar'`, planned: 'false' }, reason: /schedule_kind/ },
  { name: 'su-type-unknown', columns: { job_type: `'quantum'` }, reason: /job_type/ },
  { name: 'su-command-null', columns: { command: 'NULL' }, reason: /command/ },
  { name: 'su-catch-up-unknown', columns: { catch_up: `'sometimes'`, next_run: `now() - interval '1 hour'` }, reason: /catch_up/ },
  { name: 'su-overlap-unknown', columns: { overlap: `'whenever'` }, reason: /overlap/ },
  { name: 'su-max-runs-zero', columns: { max_runs: '0' }, reason: /max_runs/ },
  { name: 'su-exceptions-object', columns: { exceptions: `'{"date": "2030-01-01"}'` }, reason: /exceptions/ },
];

test('a superuser\'s rows, written with the checks dropped, are quarantined too', async () => {
  const checks = (await db.pool.query<{ conname: string; def: string }>(
    `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '${s}.jobs'::regclass AND contype = 'c'`,
  )).rows;
  // One transaction: a superuser drops the checks and writes the rows; migration 0016's checks
  // come back NOT VALID (the rows stay), those of 0001 and 0002 stay dropped.
  const upgrade = checks.filter((c) => ['jobs_times_finite', 'jobs_interval_in_range', 'jobs_policies_in_range', 'jobs_run_count_in_range'].includes(c.conname));
  assert.equal(upgrade.length, 4);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const { conname } of checks) await client.query(`ALTER TABLE ${s}.jobs DROP CONSTRAINT "${conname}"`);
    await client.query(`ALTER TABLE ${s}.jobs ALTER COLUMN command DROP NOT NULL`);
    for (const { name, columns } of SUPERUSER_VARIANTS) await client.query(insertJob(name, columns));
    for (const { conname, def } of upgrade) await client.query(`ALTER TABLE ${s}.jobs ADD CONSTRAINT "${conname}" ${def.replace(/ NOT VALID$/, '')} NOT VALID`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
  await keepsFiring('next to a superuser\'s malformed rows');
  for (const { name, reason } of SUPERUSER_VARIANTS) await expectBroken(name, reason);
  await keepsFiring('once they are quarantined');
});

test('a row whose plan the database refuses is found by planning the batch one at a time; one whose quarantine is refused is skipped', async () => {
  // Rules the ticker knows nothing about, as a later migration or a DBA may add: the runs of the
  // queue 'poison' are refused, and so is any update of a job of the queue 'moon' (NOT VALID: the
  // row is already there). The 'moon' job is malformed too, so the ticker tries to quarantine it.
  await db.pool.query(`ALTER TABLE ${s}.runs ADD CONSTRAINT no_poison CHECK (queue <> 'poison')`);
  await as(mallory, insertJob('evil-poison', { queue: `'poison'` }));
  await as(mallory, insertJob('evil-lunar', { queue: `'moon'`, schedule_kind: `'cron'`, cron: `'* * * * *'`, timezone: `'Moon/Tranquility'` }));
  await db.pool.query(`ALTER TABLE ${s}.jobs ADD CONSTRAINT no_lunar CHECK (queue <> 'moon') NOT VALID`);
  try {
    await expectBroken('evil-poison', /database refused its plan.*no_poison/);
    await keepsFiring('next to a row the database refuses to plan');
    assert.ok(lines.some((l) => /planning them one at a time/.test(l)), 'the batch fell back to one job at a time');
    await eventually(async () => lines.some((l) => /evil-lunar.*its quarantine could not be written/.test(l)), 15_000, 'the refused quarantine to be logged');
    assert.equal((await quarantine('evil-lunar')).broken, false, 'the mark itself was refused');
    const failed = lines.length;
    await keepsFiring('next to a row that cannot even be quarantined');
    assert.ok(!lines.slice(failed).some((l) => /evil-lunar/.test(l)), 'the node skips it instead of failing on it every pass');
  } finally {
    await db.pool.query(`ALTER TABLE ${s}.runs DROP CONSTRAINT no_poison; ALTER TABLE ${s}.jobs DROP CONSTRAINT no_lunar`);
  }
});

/** A LISTEN client on `channel` collecting the alerts it hears. */
async function listener(channel: string): Promise<{ alerts: Alert[]; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  const alerts: Alert[] = [];
  client.on('notification', (n) => { if (n.channel === channel) alerts.push(JSON.parse(n.payload!) as Alert); });
  await client.query(`LISTEN "${channel}"`);
  return { alerts, close: () => client.end() };
}

test('a quarantined job raises a `broken` alert (rules in code and in SQL take the event)', async () => {
  const channel = `broken_alerts_${tag}`;
  const heard = await listener(channel);
  const alerts = createAlerts(node, { rules: [{ channel: 'notify', name: channel, events: ['broken'] }], sqlRules: false });
  try {
    await as(mallory, insertJob('evil-alerted', { schedule_kind: `'cron'`, cron: `'61 * * * *'`, planned: 'false' }));
    await eventually(async () => heard.alerts.some((a) => a.job === 'evil-alerted'), 15_000, 'the broken alert');
    const alert = heard.alerts.find((a) => a.job === 'evil-alerted')!;
    assert.equal(alert.event, 'broken');
    assert.equal(alert.node, node.nodeId);
    assert.match(alert.message, /evil-alerted/);
    assert.match(alert.message, /cron/);
    await alerts.idle();
    assert.equal(heard.alerts.filter((a) => a.job === 'evil-alerted').length, 1, 'one alert per quarantine');
    const { rows } = await as(mallory, `SELECT ${s}.add_alert('notify', 'mallory_alerts', job_name => 'evil-alerted', events => '{broken}') AS id`);
    assert.ok(Number(rows[0].id) > 0, 'add_alert accepts the broken event');
  } finally {
    await alerts.close();
    await heard.close();
  }
});

test('the dashboard shows broken jobs with their reason, in the list and on each job\'s page', async () => {
  const client = new Client(dashboard);
  const list = await client.request('/jobs');
  const failures = (): string => lines.filter((l) => /dashboard/.test(l)).join('\n');
  assert.equal(list.status, 200, failures());
  const row = /<tr[^>]*data-job="evil-tz"[^]*?<\/tr>/.exec(list.text)?.[0] ?? '';
  assert.match(row, /class="pill broken"/, 'the list marks the job broken');
  const broken = (await db.pool.query<{ job_id: number; job_name: string }>(`SELECT job_id, job_name FROM ${s}.jobs WHERE broken_at IS NOT NULL ORDER BY job_id`)).rows;
  for (const { job_id, job_name } of broken) {
    const page = await client.request(`/jobs/${job_id}`);
    assert.equal(page.status, 200, `${job_name}: ${failures()}`);
    assert.match(page.text, /class="pill broken"/, job_name);
    assert.match(page.text, /class="banner error">Broken/, `${job_name}: the page says why`);
  }
  const page = await client.request(`/jobs/${(await quarantine('evil-tz')).id}`);
  assert.match(page.text, /Nowhere\/Land/, 'the reason is on the page');
  assert.equal((await client.request('/')).status, 200);
  assert.equal((await client.request('/calendar')).status, 200);
});

test('`kairos jobs list` and `jobs show` show broken jobs with their reason', async () => {
  const base = ['--database-url', db.connectionString, '--schema', db.schema];
  const listed = await cli(['jobs', 'list', ...base, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const jobs = JSON.parse(listed.stdout) as Array<{ name: string; brokenReason: string | null }>;
  assert.match(jobs.find((j) => j.name === 'evil-tz')?.brokenReason ?? '', /Nowhere\/Land/);
  assert.equal(jobs.find((j) => j.name === 'victim')?.brokenReason, null);
  const table = await cli(['jobs', 'list', ...base]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^evil-tz\s.*Nowhere\/Land/m);
  const shown = await cli(['jobs', 'show', 'su-next-minus-infinity', ...base]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^broken\s+next_run/m);
});

test('a valid redefinition or enabling clears the quarantine; an invalid one is refused and changes nothing', async () => {
  // The SQL API, as the tenant that wrote the row.
  await as(mallory, `SELECT ${s}.define_job(job_name => 'evil-cron', command => 'tick', job_type => 'task', every => '1 second')`);
  assert.deepEqual(await quarantine('evil-cron').then((q) => [q.broken, q.reason]), [false, null]);
  await eventually(async () => (await db.count('occurrences', `job_id = (SELECT job_id FROM ${s}.jobs WHERE job_name = 'evil-cron')`)) > 0, 15_000, 'the redefined job to fire');
  // The TypeScript API, on the same definition as the broken row: its cursor starts afresh.
  await node.schedule({ name: 'su-next-minus-infinity', task: 'tick', every: 1000 });
  assert.equal((await quarantine('su-next-minus-infinity')).broken, false);
  await eventually(async () => (await db.count('occurrences', `job_id = (SELECT job_id FROM ${s}.jobs WHERE job_name = 'su-next-minus-infinity')`)) > 0, 15_000, 'the rescheduled job to fire');
  // Enabling recomputes the cursor from the schedule.
  const enabled = await node.enable('su-next-plus-infinity');
  assert.equal(enabled.brokenAt, null);
  assert.ok(enabled.nextRun && Number.isFinite(enabled.nextRun.getTime()));
  // Neither toggle_job nor an edit of the description touches the bad value: the quarantine is
  // lifted, the row checked again and quarantined again.
  for (const [name, change, reason] of [
    ['evil-tz-offset', `SELECT ${s}.toggle_job('evil-tz-offset', true)`, /time ?zone/i],
    ['evil-exceptions', `UPDATE ${s}.jobs SET description = 'edited' WHERE job_name = 'evil-exceptions'`, /exceptions/],
  ] as const) {
    const first = (await quarantine(name)).at!;
    await as(mallory, change);
    await eventually(async () => ((await quarantine(name)).at ?? first) > first, 15_000, `${name} to be quarantined again`);
    assert.match((await quarantine(name)).reason ?? '', reason);
  }
  // A redefinition that keeps a value out of range is refused, and the row stays as it was.
  const before = await quarantine('su-run-count-max');
  await assert.rejects(node.enable('su-run-count-max'), (error: Error) => /run_count/.test(error.message) && error.name === 'KairosValidationError');
  assert.deepEqual(await quarantine('su-run-count-max'), before);
  await assert.rejects(as(mallory, `UPDATE ${s}.jobs SET description = 'still bad', next_run = '-infinity' WHERE job_name = 'evil-next-bc'`), (error: { code?: string }) => error.code === '23514');
  assert.equal((await quarantine('evil-next-bc')).broken, true);
  // Disabling is not a redefinition: the mark and its reason stay.
  const marked = await quarantine('evil-next-bc');
  const disabled = await node.disable('evil-next-bc');
  assert.equal(disabled.enabled, false);
  assert.deepEqual(await quarantine('evil-next-bc'), marked);
  await keepsFiring('after the redefinitions');
});

test('a run whose job row is malformed when it starts fails with a clear message; the node goes on', async () => {
  await db.pool.query(`ALTER TABLE ${s}.jobs ALTER COLUMN command DROP NOT NULL`);
  await db.pool.query(`SELECT ${s}.define_job(job_name => 'sql-emptied', command => 'SELECT 1')`);
  // The run is queued, then its job row loses its command before a node starts it.
  const client = await db.pool.connect();
  let runId: number;
  try {
    await client.query('BEGIN');
    runId = Number((await client.query(`SELECT ${s}.trigger_job('sql-emptied') AS id`)).rows[0].id);
    await client.query(`UPDATE ${s}.jobs SET command = NULL WHERE job_name = 'sql-emptied'`);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  await eventually(async () => (await db.count('job_logs', `run_id = $1 AND status = 'failed'`, [runId])) === 1, 15_000, 'the run to fail');
  const { rows } = await db.pool.query(`SELECT message FROM ${s}.job_logs WHERE run_id = $1`, [runId]);
  assert.match(rows[0].message, /sql-emptied.*command/);
  assert.equal(internals(node).services.executor.activeCount, 0);
  await keepsFiring('after the malformed run');
});

test('a failing run of a job whose failure count is at its maximum does not stop the recording of other failures', async () => {
  await as(mallory, insertJob('evil-failures-max', { command: `'boom'`, schedule_kind: `'manual'`, next_run: 'NULL', current_attempts: '2147483647', max_attempts: '5' }));
  const evil = Number((await as(mallory, `SELECT ${s}.trigger_job('evil-failures-max') AS id`)).rows[0].id);
  const { id } = await node.enqueue('boom', {});
  // Both failures are recorded (in one batch or two), and the job is disabled by its own count.
  await eventually(async () => (await db.count('job_logs', `run_id = ANY($1) AND status = 'failed'`, [[evil, id]])) === 2, 15_000, 'both failures to be recorded');
  const { rows } = await db.pool.query(`SELECT enabled, current_attempts FROM ${s}.jobs WHERE job_name = 'evil-failures-max'`);
  assert.deepEqual(rows[0], { enabled: false, current_attempts: 2147483647 });
  await keepsFiring('after the failures');
});

test('upgrading over malformed rows: migration 0016 quarantines them, and their runs complete with the others', async () => {
  const schema = `quarantine_up_${tag}`;
  const q = `"${schema}"`;
  after(() => db.pool.query(`DROP SCHEMA IF EXISTS ${q} CASCADE`));
  // An installation at version 15 holding rows the new checks refuse.
  await db.pool.query(`CREATE SCHEMA ${q}; CREATE TABLE ${q}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const m of readMigrations().filter((m) => m.version < 16)) {
    await db.pool.query(renderSql(m.text, schema));
    await db.pool.query(`INSERT INTO ${q}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
  }
  const old: Array<[string, Record<string, string>, RegExp]> = [
    ['old-next-minus-infinity', { next_run: `'-infinity'`, enabled: 'false' }, /next_run/],
    ['old-interval-max', { schedule_interval: `'178000000 years'`, enabled: 'false' }, /schedule_interval/],
    ['old-misfire-max', { misfire_grace_ms: '9223372036854775807' }, /misfire_grace_ms/],
    ['old-run-count-max', { run_count: '2147483647' }, /run_count/],
  ];
  for (const [name, columns] of old) await db.pool.query(insertJob(name, columns, q));
  await db.pool.query(insertJob('old-fine', {}, q));
  await migrate(db.pool, schema);
  for (const [name, , reason] of old) {
    const { rows } = await db.pool.query(`SELECT broken_at IS NOT NULL AS broken, broken_reason FROM ${q}.jobs WHERE job_name = $1`, [name]);
    assert.equal(rows[0].broken, true, `${name} is quarantined by the migration`);
    assert.match(rows[0].broken_reason, reason, name);
    assert.match(rows[0].broken_reason, /migration 0016/, name);
  }
  assert.equal((await db.pool.query(`SELECT broken_at FROM ${q}.jobs WHERE job_name = 'old-fine'`)).rows[0].broken_at, null);
  const invalid = await db.pool.query(`SELECT conname FROM pg_constraint WHERE conrelid = '${q}.jobs'::regclass AND NOT convalidated`);
  assert.deepEqual(invalid.rows, [], 'the constraints hold for every row');
  // A run of such a job completes in the same batch as another job's run: the job's row is updated
  // (last_run) without its values failing the statement.
  const upgraded = new Kairos({ connectionString: db.connectionString, schema, logger: silentLogger, migrate: false, tasks: { tick: () => 'tick' } });
  try {
    const runs = [
      Number((await db.pool.query(`SELECT ${q}.trigger_job('old-next-minus-infinity') AS id`)).rows[0].id),
      Number((await db.pool.query(`SELECT ${q}.trigger_job('old-fine') AS id`)).rows[0].id),
    ];
    assert.equal(await drain(upgraded), 2);
    const done = await db.pool.query(`SELECT count(*)::int AS n FROM ${q}.job_logs WHERE run_id = ANY($1) AND status = 'completed'`, [runs]);
    assert.equal(done.rows[0].n, 2);
  } finally {
    await upgraded.stop();
  }
});
