/**
 * The dashboard over HTTP against a real PostgreSQL: authentication, CSRF, read-only mode, bad
 * input (the API's own messages, nothing written), escaping, role-bound requests (RLS), the
 * schedule preview, live events, mounting under a path, and `kairos dashboard`'s safety checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { fixture, eventually } from '../helpers.js';
import { Client, serve } from './serve.js';
import { scrub } from '../../src/dashboard/db.js';
import { parseCron } from '../../src/core/cron.js';
import { startCli } from '../cli/run-cli.js';
import { createDashboard } from '../../src/dashboard/index.js';
import { KairosValidationError } from '../../src/core/errors.js';

const db = await fixture();
// A step's database must exist and admit the job's owner (checked when the job is defined).
const warehouse = (await db.pool.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
const s = `"${db.schema}"`;
const define = async (name: string, extra = ''): Promise<number> =>
  Number((await db.pool.query(`SELECT job_id FROM ${s}.define_job(job_name => $1, command => 'SELECT 1', cron => '{"0 3 * * *"}', queue => 'dash-test'${extra})`, [name])).rows[0].job_id);
const enabled = async (id: number): Promise<boolean> => (await db.pool.query(`SELECT enabled FROM ${s}.jobs WHERE job_id = $1`, [id])).rows[0].enabled;
/** What the SQL API itself says about a call (to compare the dashboard's messages with). */
const apiError = async (sql: string, values: unknown[] = []): Promise<string> => {
  try {
    await db.pool.query(sql, values);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the API to refuse');
};
const escapedHtml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/`/g, '&#96;');

const open = await serve({ pool: db.pool, schema: db.schema });
const TOKEN = randomBytes(16).toString('hex');
const guarded = await serve({ pool: db.pool, schema: db.schema, auth: { token: TOKEN, users: [{ name: 'ops', password: 'correct horse battery' }] } });
const readOnly = await serve({ pool: db.pool, schema: db.schema, readOnly: true });

test('every page renders with security headers', async () => {
  const id = await define('pages-job');
  const client = new Client(open);
  for (const path of ['/', '/jobs', `/jobs/${id}`, `/jobs/${id}/edit`, '/jobs/new', '/runs', '/nodes', '/calendar']) {
    const page = await client.request(path);
    assert.equal(page.status, 200, `${path}: ${page.text.slice(0, 300)}`);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.doesNotMatch(page.text, /<script(?![^>]*(?: src="| type="application\/json"))|\son\w+=/, `${path} has inline script`);
  }
  assert.equal((await client.request('/jobs/999999')).status, 404);
  for (const asset of ['/assets/app.js', '/assets/style.css', '/assets/uplot.js', '/assets/uplot.css']) assert.equal((await client.request(asset)).status, 200, asset);
});

test('authentication: refused without credentials, accepted with basic auth, a bearer token or a signed-in session', async () => {
  const client = new Client(guarded);
  const refused = await client.request('/jobs');
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic/);
  assert.doesNotMatch(refused.text, /kairos-csrf/);
  client.headers.authorization = `Basic ${Buffer.from('ops:wrong').toString('base64')}`;
  assert.equal((await client.request('/jobs')).status, 401);
  client.headers.authorization = `Basic ${Buffer.from('ops:correct horse battery').toString('base64')}`;
  const page = await client.request('/jobs');
  assert.equal(page.status, 200);
  assert.ok(!page.text.includes('correct horse battery') && !page.text.includes(TOKEN), 'no secret in the page');
  const bearer = new Client(guarded);
  bearer.headers.authorization = `Bearer ${TOKEN}`;
  assert.equal((await bearer.request('/runs')).status, 200);
  const browser = new Client(guarded);
  assert.equal((await browser.request('/login', { form: { token: 'not-the-token' } })).status, 401);
  const signedIn = await browser.request('/login', { form: { token: TOKEN } });
  assert.equal(signedIn.status, 303);
  assert.equal((await browser.request('/nodes')).status, 200);
});

test('without auth it answers only to loopback host names (no DNS rebinding)', async () => {
  const status = (served: typeof open, host: string): Promise<number> => new Promise((resolve, reject) => {
    const req = http.request(`${served.url}/jobs`, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(await status(open, 'evil.example:8080'), 421);
  assert.equal(await status(open, `localhost:${new URL(open.origin).port}`), 200);
  assert.equal(await status(guarded, 'dashboard.example.com'), 401, 'with auth, any host name (auth decides)');
});

test('CSRF: writes without the token or from another origin are refused and change nothing', async () => {
  const id = await define('csrf-job');
  const client = new Client(open);
  const token = await client.csrf();
  const noToken = await client.request(`/jobs/${id}/disable`, { form: {}, headers: { origin: open.origin } });
  assert.equal(noToken.status, 403);
  assert.match(noToken.text, /CSRF token missing or wrong/);
  const otherOrigin = await client.request(`/jobs/${id}/disable`, { form: { _csrf: token }, headers: { origin: 'http://evil.example' } });
  assert.equal(otherOrigin.status, 403);
  const otherBrowser = new Client(open);
  await otherBrowser.csrf();
  assert.equal((await otherBrowser.request(`/jobs/${id}/disable`, { form: { _csrf: token }, headers: { origin: open.origin } })).status, 403, 'a token is bound to its cookie');
  assert.equal(await enabled(id), true);
  const ok = await client.request(`/jobs/${id}/disable`, { form: { _csrf: token }, headers: { origin: open.origin } });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get('location'), `/jobs/${id}?notice=disabled`);
  assert.equal(await enabled(id), false);
  assert.equal((await client.post(`/jobs/${id}/enable`)).status, 303);
  assert.equal(await enabled(id), true);
});

test('read-only mode hides and refuses every write', async () => {
  const id = await define('read-only-job');
  const client = new Client(readOnly);
  const page = await client.request(`/jobs/${id}`);
  assert.equal(page.status, 200);
  assert.doesNotMatch(page.text, /method="post"|Run now|New job|>Delete</);
  assert.equal((await client.request('/jobs/new')).status, 403);
  assert.equal((await client.request(`/jobs/${id}/edit`)).status, 403);
  for (const action of ['run', 'disable', 'delete']) assert.equal((await client.post(`/jobs/${id}/${action}`)).status, 403);
  assert.equal(await db.count('runs', 'job_id = $1', [id]), 0);
  assert.equal(await enabled(id), true);
});

test('run now, cancel and retry go through the SQL API', async () => {
  const id = await define('actions-job');
  const client = new Client(open);
  const run = await client.post(`/jobs/${id}/run`);
  assert.equal(run.status, 303);
  const [{ run_id: runId }] = (await db.pool.query(`SELECT run_id FROM ${s}.runs WHERE job_id = $1`, [id])).rows;
  assert.match(run.headers.get('location')!, new RegExp(`notice=queued-${runId}$`));
  assert.match((await client.request(run.headers.get('location')!.replace(/^\/?/, '/'))).text, new RegExp(`Run ${runId} queued`));
  assert.equal((await client.post(`/runs/${runId}/cancel`)).status, 303);
  assert.equal(await db.count('runs', 'job_id = $1', [id]), 0);
  assert.equal(await db.count('job_logs', "run_id = $1 AND status = 'cancelled'", [runId]), 1);
  const missing = await client.post(`/runs/${runId}/cancel`);
  assert.equal(missing.status, 404);
  assert.match(missing.text, new RegExp(`no pending or running run ${runId}`));
  await db.pool.query(`INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status, message, payload) VALUES ($1, 424242, '@sql', 'dash-test', 1, 'failed', 'boom', '{"x": 1}')`, [id]);
  const [{ log_id: logId }] = (await db.pool.query(`SELECT log_id FROM ${s}.job_logs WHERE run_id = 424242`)).rows;
  assert.equal((await client.post(`/logs/${logId}/retry`)).status, 303);
  assert.deepEqual((await db.pool.query(`SELECT payload FROM ${s}.runs WHERE job_id = $1`, [id])).rows.map((r) => r.payload), [{ x: 1 }]);
  assert.equal((await client.post(`/jobs/${id}/delete`)).status, 303);
  assert.equal(await db.count('jobs', 'job_id = $1', [id]), 0);
});

const validJob = { name: 'form-job', kind: 'sql', command: 'SELECT 1', schedule_kind: 'cron', cron: '*/5 * * * *', timezone: 'UTC', enabled: 'on', retries: '2', timeout: '30s', overlap: 'skip', catch_up: 'latest' };

test('bad input shows the API\'s own error and writes nothing', async () => {
  const client = new Client(open);
  const before = await db.count('jobs');
  const cases: Array<[Record<string, string>, string]> = [
    [{ cron: '61 * * * *' }, await apiError(`SELECT ${s}.define_job('x', 'SELECT 1', cron => '{"61 * * * *"}')`)],
    [{ command: 'SELEC 1' }, await apiError(`SELECT ${s}.define_job('x', 'SELEC 1', cron => '{"*/5 * * * *"}')`)],
    [{ name: 'bad<name>' }, await apiError(`SELECT ${s}.define_job('bad<name>', 'SELECT 1')`)],
    [{ retries: '-1' }, await apiError(`SELECT ${s}.define_job('x', 'SELECT 1', retries => -1)`)],
    [{ timezone: 'Mars/Olympus' }, await apiError(`SELECT ${s}.define_job('x', 'SELECT 1', cron => '{"*/5 * * * *"}', timezone => 'Mars/Olympus')`)],
    [{ schedule_kind: 'interval', every: 'soon' }, 'Expected `every` to be'],
    [{ exceptions: '2025-13-45' }, 'Expected `exceptions[0].date` to be a date like'],
  ];
  for (const [change, message] of cases) {
    const reply = await client.post('/jobs', { ...validJob, ...change });
    assert.equal(reply.status, 400, JSON.stringify(change));
    assert.ok(reply.text.includes(escapedHtml(message)), `${JSON.stringify(change)}: expected ${message}`);
    assert.match(reply.text, /id="job-form"/, 'the form is shown again with what was typed');
  }
  const steps = await client.post('/jobs', { ...validJob, kind: 'steps', step_name: ['one'], step_kind: ['sql'], step_command: ['SELEC 2'], step_database: [''], step_on_error: ['fail'], step_timeout: [''] });
  assert.equal(steps.status, 400);
  assert.match(steps.text, /invalid SQL: syntax error/);
  assert.equal(await db.count('jobs'), before, 'nothing was written');
});

test('creating and editing a job through the form, with steps and calendar exceptions', async () => {
  const client = new Client(open);
  const created = await client.post('/jobs', {
    ...validJob, name: 'pipeline', kind: 'steps', exceptions: '2030-12-25\n02:00', labels: 'etl, nightly',
    step_name: ['extract', 'load'], step_kind: ['sql', 'sql'], step_command: ['SELECT 1', 'SELECT 2'], step_database: ['', warehouse],
    step_on_error: ['ignore', 'fail'], step_timeout: ['', '5m'],
  });
  assert.equal(created.status, 303, created.text.slice(0, 500));
  const [job] = (await db.pool.query(`SELECT * FROM ${s}.jobs WHERE job_name = 'pipeline'`)).rows;
  assert.equal(job.job_type, 'steps');
  assert.equal(job.cron, '*/5 * * * *');
  assert.equal(job.max_retries, 2);
  assert.equal(job.timeout_ms, 30_000);
  assert.deepEqual(job.exceptions, [{ date: '2030-12-25' }, { time: '02:00' }]);
  assert.deepEqual(job.labels, ['etl', 'nightly']);
  const steps = (await db.pool.query(`SELECT name, on_error, database_name, timeout_ms FROM ${s}.job_steps WHERE job_id = $1 ORDER BY position`, [job.job_id])).rows;
  assert.deepEqual(steps, [{ name: 'extract', on_error: 'ignore', database_name: null, timeout_ms: null }, { name: 'load', on_error: 'fail', database_name: warehouse, timeout_ms: 300_000 }]);
  const edit = await client.request(`/jobs/${job.job_id}/edit`);
  assert.match(edit.text, /value="extract"/);
  const saved = await client.post(`/jobs/${job.job_id}/edit`, { ...validJob, name: 'ignored-rename', schedule_kind: 'interval', every: '15m', kind: 'sql', command: 'SELECT 42', max_lateness: '2h' });
  assert.equal(saved.status, 303);
  const [after] = (await db.pool.query(`SELECT job_name, schedule_kind, extract(epoch FROM schedule_interval) AS every, command, max_lateness_ms FROM ${s}.jobs WHERE job_id = $1`, [job.job_id])).rows;
  assert.deepEqual({ ...after, every: Number(after.every), max_lateness_ms: Number(after.max_lateness_ms) },
    { job_name: 'pipeline', schedule_kind: 'interval', every: 900, command: 'SELECT 42', max_lateness_ms: 7_200_000 });
});

test('the jobs list filters by search, status, owner, queue and tag', async () => {
  await define('filter-alpha', `, labels => '{billing}', description => 'monthly invoices'`);
  await define('filter-beta', `, labels => '{etl}', enabled => false`);
  const client = new Client(open);
  const names = async (query: string): Promise<string[]> =>
    [...(await client.request(`/jobs?${query}`)).text.matchAll(/data-job="(filter-[a-z]+)"/g)].map((m) => m[1]!).sort();
  assert.deepEqual(await names('q=filter'), ['filter-alpha', 'filter-beta']);
  assert.deepEqual(await names('q=invoices'), ['filter-alpha']);
  assert.deepEqual(await names('q=filter&status=disabled'), ['filter-beta']);
  assert.deepEqual(await names('q=filter&tag=billing'), ['filter-alpha']);
  assert.deepEqual(await names('q=filter&queue=dash-test&owner=nobody'), []);
  const nonsense = await client.request('/jobs?q=filter&status=nonsense');
  assert.equal(nonsense.status, 400, 'an unknown status is refused, not ignored');
  assert.match(nonsense.text.replace(/&#96;/g, "`"), /Expected `status` to be one of enabled, disabled, failing, broken, got &quot;nonsense&quot;/);
});

test('hostile text is escaped everywhere it is shown', async () => {
  const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'';
  const id = await define('hostile-job', `, description => $2, labels => ARRAY[$3]`.replace('$2', `'${hostile.replace(/'/g, "''")}'`).replace('$3', `'${hostile.replace(/'/g, "''")}'`));
  await db.pool.query(`INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status, message, output) VALUES ($1, 77, '@sql', 'dash-test', 1, 'failed', $2, $3)`, [id, hostile, JSON.stringify({ html: hostile })]);
  const client = new Client(open);
  for (const path of ['/jobs', `/jobs/${id}`, '/runs', `/jobs/${id}/edit`, `/jobs?q=${encodeURIComponent(hostile)}`]) {
    const page = await client.request(path);
    assert.ok(!page.text.includes('<script>alert') && !page.text.includes('<img src=x'), `${path} renders markup from data`);
  }
  assert.ok((await client.request(`/jobs/${id}`)).text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
});

test('errors never show a connection string or a password', () => {
  const message = 'connect to postgres://kairos:s3cret-pw@db.internal:5432/app failed; password=hunter2 token: abc123';
  const shown = scrub(message, ['my-dashboard-token']);
  assert.doesNotMatch(shown, /s3cret|hunter2|abc123/);
  assert.equal(scrub('bad my-dashboard-token here', ['my-dashboard-token']), 'bad [hidden] here');
});

test('the schedule preview uses the API\'s parser and messages', async () => {
  const client = new Client(open);
  const ok = JSON.parse((await client.request(`/api/preview?schedule_kind=cron&cron=${encodeURIComponent('*/15 * * * *')}&timezone=Europe/Paris`)).text);
  assert.equal(ok.ok, true);
  assert.equal(ok.words, 'Every 15 minutes (Europe/Paris)');
  assert.equal(ok.next.length, 10);
  const first = parseCron('*/15 * * * *', 'Europe/Paris').next(new Date(Date.now() - 1))!;
  assert.ok(Math.abs(first.getTime() - Date.now()) <= 15 * 60_000);
  const bad = JSON.parse((await client.request(`/api/preview?schedule_kind=cron&cron=${encodeURIComponent('61 * * * *')}`)).text);
  let expected = '';
  try {
    parseCron('61 * * * *');
  } catch (error) {
    expected = (error as Error).message;
  }
  assert.deepEqual(bad, { ok: false, error: expected, field: 'cron' });
  const skipped = JSON.parse((await client.request(`/api/preview?schedule_kind=cron&cron=${encodeURIComponent('0 2 * * *')}&exceptions=02:00`)).text);
  assert.deepEqual(skipped.next, [], 'every fire falls on the exception');
  const every = JSON.parse((await client.request('/api/preview?schedule_kind=interval&every=15m&start_at=2030-01-01T00:00')).text);
  assert.equal(every.ok, true);
  assert.deepEqual(every.next.slice(0, 2), ['2030-01-01 00:00:00 UTC', '2030-01-01 00:15:00 UTC']);
  const badEvery = JSON.parse((await client.request('/api/preview?schedule_kind=interval&every=500ms')).text);
  assert.equal(badEvery.field, 'every');
  assert.match(badEvery.error, /^Expected `every`/);
});

test('a role per dashboard user: requests run as that role, so RLS decides', async (t) => {
  const admin = new pg.Client({ connectionString: db.connectionString });
  await admin.connect();
  const { rows: [me] } = await admin.query('SELECT rolsuper OR rolcreaterole AS can FROM pg_roles WHERE rolname = current_user');
  if (!me.can) {
    await admin.end();
    return t.skip('needs a role that may create roles');
  }
  const suffix = randomBytes(4).toString('hex');
  const [alice, bob] = [`dash_alice_${suffix}`, `dash_bob_${suffix}`];
  for (const role of [alice, bob]) await admin.query(`CREATE ROLE ${role} NOLOGIN IN ROLE job_scheduler`);
  await admin.query(`GRANT ${alice}, ${bob} TO current_user`);
  try {
    const roles = await serve({ pool: db.pool, schema: db.schema, auth: { users: [{ name: 'alice', password: 'alice-password', role: alice }, { name: 'bob', password: 'bob-password', role: bob }] } });
    const as = (user: string): Client => {
      const c = new Client(roles);
      c.headers.authorization = `Basic ${Buffer.from(`${user}:${user}-password`).toString('base64')}`;
      return c;
    };
    const created = await as('alice').post('/jobs', { ...validJob, name: `alice-job-${suffix}` });
    assert.equal(created.status, 303, created.text.slice(0, 3000));
    const [job] = (await db.pool.query(`SELECT job_id, owner FROM ${s}.jobs WHERE job_name = $1`, [`alice-job-${suffix}`])).rows;
    assert.equal(job.owner, alice);
    assert.equal((await as('bob').request(`/jobs/${job.job_id}`)).status, 404, 'bob does not see alice\'s job');
    assert.doesNotMatch((await as('bob').request('/jobs')).text, new RegExp(`alice-job-${suffix}`));
    assert.equal((await as('bob').post(`/jobs/${job.job_id}/run`)).status, 404);
    assert.equal((await as('bob').post(`/jobs/${job.job_id}/delete`)).status, 404);
    assert.equal(await db.count('runs', 'job_id = $1', [job.job_id]), 0);
    const ran = await as('alice').post(`/jobs/${job.job_id}/run`);
    assert.equal(ran.status, 303, /banner error[^>]*>([^<]*)/.exec(ran.text)?.[1]);
    assert.deepEqual((await db.pool.query(`SELECT owner FROM ${s}.runs WHERE job_id = $1`, [job.job_id])).rows, [{ owner: alice }]);
    await db.pool.query(`DELETE FROM ${s}.jobs WHERE job_id = $1`, [job.job_id]);
  } finally {
    for (const role of [alice, bob]) await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
    await admin.end();
  }
});

test('live events: a NOTIFY on the channel reaches open pages', async () => {
  const id = await define('live-job');
  const controller = new AbortController();
  const response = await fetch(`${open.url}/events`, { signal: controller.signal });
  assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = response.body!.getReader();
  let seen = '';
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      seen += Buffer.from(value).toString();
    }
  })().catch(() => undefined);
  await eventually(async () => seen.includes('retry:'), 5000, 'the stream to open');
  await eventually(async () => {
    await db.pool.query(`SELECT ${s}.trigger_job('live-job')`);
    return seen.includes('event: change');
  }, 10_000, 'a change event');
  controller.abort();
  await reading;
  await db.pool.query(`DELETE FROM ${s}.jobs WHERE job_id = $1`, [id]);
});

test('mounted under a path of the application\'s own server', async () => {
  const mounted = await serve({ pool: db.pool, schema: db.schema, basePath: '/ops/kairos/' }, (dashboard) => (req, res) =>
    dashboard(req, res, () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('the application');
    }));
  const client = new Client(mounted);
  const page = await client.request('/jobs');
  assert.equal(page.status, 200);
  assert.match(page.text, /href="\/ops\/kairos\/runs"/);
  assert.equal(await (await fetch(`${mounted.origin}/elsewhere`)).text(), 'the application');
});

test('kairos dashboard: loopback by default, refuses other hosts without auth', async () => {
  const base = ['dashboard', '--database-url', db.connectionString, '--schema', db.schema];
  const refused = await startCli([...base, '--host', '0.0.0.0', '--port', '0'], { KAIROS_DASHBOARD_TOKEN: '', KAIROS_DASHBOARD_USER: '', KAIROS_DASHBOARD_PASSWORD: '' }).exited;
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /Refusing to serve the dashboard on 0\.0\.0\.0 without authentication/);
  const running = startCli([...base, '--port', '0', '--read-only'], { KAIROS_DASHBOARD_TOKEN: '', KAIROS_DASHBOARD_USER: '', KAIROS_DASHBOARD_PASSWORD: '' });
  await running.waitFor(/Kairos dashboard on http:\/\/127\.0\.0\.1:\d+\//);
  const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(running.output())![0];
  assert.doesNotMatch(running.output(), /postgres:\/\//, 'the connection string is not printed');
  const page = await fetch(`${url}jobs`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /read-only/);
  running.child.kill('SIGINT');
  assert.equal((await running.exited).code, 0);
});

test('the dashboard connects with `connectionString` or its deprecated alias `databaseUrl`, never both', async () => {
  const id = await define('connection-job', ', max_attempts => 3');
  for (const options of [{ connectionString: db.connectionString }, { databaseUrl: db.connectionString }]) {
    const page = await new Client(await serve({ ...options, schema: db.schema })).request(`/jobs/${id}`);
    assert.equal(page.status, 200, `${Object.keys(options)[0]}: ${page.text.slice(0, 300)}`);
    // The job's failure limit and its consecutive failures, in the glossary's words.
    assert.match(page.text, /<dt>Failure limit<\/dt><dd>3<\/dd>/);
    assert.match(page.text, /<dt>Consecutive failures<\/dt><dd>0<\/dd>/);
  }
  const refused = (options: Parameters<typeof createDashboard>[0], why: RegExp) =>
    assert.throws(() => createDashboard({ ...options, schema: db.schema }), (e: unknown) => e instanceof KairosValidationError && e.field === 'connectionString' && why.test(e.message));
  refused({ connectionString: db.connectionString, databaseUrl: db.connectionString }, /`connectionString` or its deprecated alias `databaseUrl`.*got both/);
  refused({}, /Expected `pool` or `connectionString`.*got neither/);
});
