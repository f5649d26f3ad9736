/**
 * The dashboard's run page, list pagination and search, bulk actions, /healthz and the
 * schema-not-installed page over HTTP against a real PostgreSQL, with the attacker's view: bad
 * query values are 400s that change nothing, hostile search text is escaped, a bulk POST without
 * the CSRF token or by a read-only (job_monitor) role is refused.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { fixture, eventually } from '../helpers.js';
import { Client, serve } from './serve.js';
import type { Logger } from '../../src/core/logger.js';
import { startCli } from '../cli/run-cli.js';

const db = await fixture();
const s = `"${db.schema}"`;
const open = await serve({ pool: db.pool, schema: db.schema });
const define = async (name: string, extra = ''): Promise<number> =>
  Number((await db.pool.query(`SELECT job_id FROM ${s}.define_job(job_name => $1, command => 'SELECT 1', cron => '{"0 3 * * *"}', queue => 'nobody-serves-this'${extra})`, [name])).rows[0].job_id);
const trigger = async (name: string): Promise<number> => Number((await db.pool.query(`SELECT ${s}.trigger_job($1) AS id`, [name])).rows[0].id);

const node = db.node({ runSqlJobs: true, queues: ['default'] });
await node.start();
after(() => node.stop());

test('a run page shows its attempts, the error with PostgreSQL diagnostics, and links to its job and node', async () => {
  const jobId = Number((await db.pool.query(`SELECT job_id FROM ${s}.define_job(job_name => 'divide', command => $1, cron => '{"0 3 * * *"}', queue => 'default', run_as => current_user)`,
    ["DO $$ BEGIN RAISE EXCEPTION 'stuck <order>' USING DETAIL = 'carrier & co refused', HINT = 'retry tomorrow'; END $$"])).rows[0].job_id);
  const runId = await trigger('divide');
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'failed'", [runId])) === 1, 15_000, 'the failed attempt');
  const page = await new Client(open).request(`/runs/${runId}`);
  assert.equal(page.status, 200, page.text.slice(0, 500));
  assert.match(page.text, /Attempt 1 <span class="pill failed">/);
  assert.match(page.text, /stuck &lt;order&gt;/);
  assert.match(page.text, /<dt>SQLSTATE<\/dt><dd><code>P0001<\/code>/);
  assert.match(page.text, /<dt>Detail<\/dt><dd><code>carrier &amp; co refused<\/code>/);
  assert.match(page.text, /<dt>Hint<\/dt><dd><code>retry tomorrow<\/code>/);
  assert.match(page.text, /<dt>Context<\/dt><dd><pre>PL\/pgSQL function inline_code_block/);
  assert.match(page.text, new RegExp(`href="/jobs/${jobId}">divide</a>`));
  assert.match(page.text, new RegExp(`href="/nodes#node-${node.nodeId}"`));
  assert.equal((await new Client(open).request('/runs/999999999')).status, 404);
  // The runs list links to it.
  assert.match((await new Client(open).request('/runs?q=divide')).text, new RegExp(`href="/runs/${runId}"`));
});

test('jobs and runs lists: pages of 50 and search, through named parameters', async () => {
  for (let i = 0; i < 55; i++) await define(`page-${String(i).padStart(2, '0')}`);
  const client = new Client(open);
  const names = async (path: string): Promise<string[]> => [...(await client.request(path)).text.matchAll(/data-job="(page-\d+)"/g)].map((m) => m[1]!);
  const first = await names('/jobs?q=page-');
  assert.equal(first.length, 50);
  assert.deepEqual(await names('/jobs?q=page-&page=2'), ['page-50', 'page-51', 'page-52', 'page-53', 'page-54']);
  assert.deepEqual(await names('/jobs?q=page-&page=3'), []);
  assert.match((await client.request('/jobs?q=page-')).text, /55 jobs · page 1 of 2/);
  assert.deepEqual(await names('/jobs?q=PAGE-07'), ['page-07']);
  // A search term with SQL in it is text to look for, not SQL.
  assert.deepEqual(await names(`/jobs?q=${encodeURIComponent("' OR 1=1 --")}`), []);
  const run = await trigger('page-03');
  const runs = await client.request('/runs?q=page-03&status=pending');
  assert.match(runs.text, new RegExp(`data-run="${run}"`));
  assert.doesNotMatch((await client.request('/runs?q=page-04')).text, new RegExp(`data-run="${run}"`));
  assert.doesNotMatch((await client.request('/runs?q=page-03&status=running')).text, new RegExp(`data-run="${run}"`));
});

test('bad list parameters are a 400 with a clear message', async () => {
  const client = new Client(open);
  const cases: Array<[string, RegExp]> = [
    ['/jobs?page=0', /Expected `page` to be a whole number from 1 to 10000, got &quot;0&quot;/],
    ['/jobs?page=abc', /Expected `page` to be a whole number/],
    ['/jobs?page=99999999', /Expected `page` to be a whole number/],
    ['/runs?status=failed', /Expected `status` to be one of running, pending, got &quot;failed&quot;/],
    ['/runs?pgae=2', /Unknown option `pgae` of the runs list \(did you mean `page`\?\)|Unknown option `pgae`/],
    [`/jobs?q=${'x'.repeat(201)}`, /Expected the search `q` to be at most 200 characters, got 201/],
    ['/jobs?page=1&page=2', /Expected `page` once in the query, got it 2 times/],
  ];
  for (const [path, message] of cases) {
    const reply = await client.request(path);
    assert.equal(reply.status, 400, path);
    // html.ts escapes the backticks of the messages too.
    assert.match(reply.text.replace(/&#96;/g, '`'), message, path);
  }
});

test('attacker: hostile search text and job descriptions are escaped', async () => {
  const xss = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
  await define('xss-job', `, description => '${xss.replace(/'/g, "''")}'`);
  const client = new Client(open);
  for (const path of [`/jobs?q=${encodeURIComponent(xss)}`, `/runs?q=${encodeURIComponent(xss)}`, '/jobs?q=xss-job']) {
    const page = await client.request(path);
    assert.equal(page.status, 200, path);
    assert.doesNotMatch(page.text, /<script>alert|<img src=x/, path);
    assert.match(page.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, path);
  }
});

test('bulk cancel: the confirmed count must still hold; without CSRF or from another origin nothing changes', async () => {
  await define('bulk-a');
  await define('bulk-b');
  const ids = [await trigger('bulk-a'), await trigger('bulk-b')];
  const client = new Client(open);
  const page = await client.request('/runs?q=bulk-');
  assert.match(page.text, /Cancel 2 live runs/);
  const form = { q: 'bulk-', status: '', expected: '2' };
  const token = await client.csrf('/runs');
  const noToken = await client.request('/runs/bulk/cancel', { form, headers: { origin: open.origin } });
  assert.equal(noToken.status, 403);
  const otherOrigin = await client.request('/runs/bulk/cancel', { form: { ...form, _csrf: token }, headers: { origin: 'http://evil.example' } });
  assert.equal(otherOrigin.status, 403);
  const stale = await client.post('/runs/bulk/cancel', { ...form, expected: '3' });
  assert.equal(stale.status, 409);
  assert.match(stale.text, /The filter now selects 2 runs, not the 3 you confirmed; nothing was changed/);
  const bad = await client.post('/runs/bulk/cancel', { ...form, status: 'bogus' });
  assert.equal(bad.status, 400);
  assert.equal(await db.count('runs', 'run_id = ANY($1)', [ids]), 2, 'nothing cancelled by the refused posts');
  const done = await client.post('/runs/bulk/cancel', form);
  assert.equal(done.status, 303, done.text.slice(0, 500));
  assert.match(done.headers.get('location') ?? '', /notice=bulk-cancelled-2/);
  assert.equal(await db.count('runs', 'run_id = ANY($1)', [ids]), 0);
  assert.equal(await db.count('job_logs', "run_id = ANY($1) AND status = 'cancelled'", [ids]), 2);
});

test('bulk retry queues a new run for each failed attempt the search selects', async () => {
  await db.pool.query(`SELECT ${s}.define_job(job_name => 'bulk-fail', command => 'SELECT 1/0', cron => '{"0 3 * * *"}', queue => 'default', run_as => current_user)`);
  const run = await trigger('bulk-fail');
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'failed'", [run])) === 1, 15_000, 'the failed attempt');
  await db.pool.query(`SELECT ${s}.toggle_job('bulk-fail', false)`);
  // The node must not run the retry before it is counted: move the job to a queue nobody serves.
  await db.pool.query(`SELECT ${s}.define_job(job_name => 'bulk-fail', command => 'SELECT 1/0', cron => '{"0 3 * * *"}', queue => 'nobody-serves-this', enabled => false, run_as => current_user)`);
  const client = new Client(open);
  assert.match((await client.request('/runs?q=bulk-fail')).text, /Retry 1 failure/);
  const done = await client.post('/runs/bulk/retry', { q: 'bulk-fail', expected: '1' });
  assert.equal(done.status, 303, done.text.slice(0, 500));
  assert.equal(await db.count('runs', "job_id = (SELECT job_id FROM " + s + ".jobs WHERE job_name = 'bulk-fail')"), 1);
});

test('a read-only database role (job_monitor) may look but not bulk cancel', async (t) => {
  const admin = new pg.Client({ connectionString: db.connectionString });
  await admin.connect();
  const { rows: [me] } = await admin.query('SELECT rolsuper OR rolcreaterole AS can FROM pg_roles WHERE rolname = current_user');
  if (!me.can) {
    await admin.end();
    return t.skip('needs a role that may create roles');
  }
  const viewer = `dash_viewer_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE ROLE ${viewer} NOLOGIN IN ROLE job_monitor`);
  await admin.query(`GRANT ${viewer} TO current_user`);
  try {
    await define('viewer-target');
    const id = await trigger('viewer-target');
    const served = await serve({ pool: db.pool, schema: db.schema, auth: { users: [{ name: 'viewer', password: 'viewer-password', role: viewer }] } });
    const client = new Client(served);
    client.headers.authorization = `Basic ${Buffer.from('viewer:viewer-password').toString('base64')}`;
    const seen = await client.request('/runs?q=viewer-target');
    assert.equal(seen.status, 200);
    const refused = await client.post('/runs/bulk/cancel', { q: 'viewer-target', status: '', expected: '1' });
    assert.equal(refused.status, 403, refused.text.slice(0, 500));
    assert.equal(await db.count('runs', 'run_id = $1', [id]), 1, 'the run is still queued');
  } finally {
    await admin.query(`DROP OWNED BY ${viewer}; DROP ROLE ${viewer}`).catch(() => undefined);
    await admin.end();
  }
});

/** A logger that keeps what it is given. */
function recorder(): { logger: Logger; lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (_: object, msg = ''): void => void lines.push({ level, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines };
}

test('/healthz: 200 with a small body when the schema is installed, 503 when not; no sign-in needed, nothing leaked', async () => {
  const guarded = await serve({ pool: db.pool, schema: db.schema, auth: { token: randomBytes(16).toString('hex') } });
  const ok = await fetch(`${guarded.url}/healthz`);
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { ok: true, status: 'ok' });
  const missing = await serve({ pool: db.pool, schema: `absent_${randomBytes(4).toString('hex')}` });
  const down = await fetch(`${missing.url}/healthz`);
  assert.equal(down.status, 503);
  assert.deepEqual(await down.json(), { ok: false, status: 'schema-missing' });
  const unreachable = await serve({ connectionString: 'postgres://nobody:secret-pw@127.0.0.1:1/none', schema: 'kairos' });
  const gone = await fetch(`${unreachable.url}/healthz`);
  assert.equal(gone.status, 503);
  const text = await gone.text();
  assert.equal(text, JSON.stringify({ ok: false, status: 'database-unreachable' }));
});

test('a schema that is not installed: one clear page (503) on every path, one log line, no stack traces', async () => {
  const schema = `absent_${randomBytes(4).toString('hex')}`;
  const { logger, lines } = recorder();
  const missing = await serve({ pool: db.pool, schema, logger, sampleIntervalMs: 20 });
  const client = new Client(missing);
  for (const path of ['/', '/jobs', '/runs', '/runs/1', '/nodes', '/calendar', '/jobs']) {
    const page = await client.request(path);
    assert.equal(page.status, 503, path);
    assert.match(page.text, new RegExp(`Kairos is not installed in schema <code>${schema}</code>`), path);
    assert.match(page.text, new RegExp(`kairos migrate --schema ${schema}`), path);
  }
  // The queue sampler ticks every 20 ms meanwhile: still one line per source.
  await eventually(async () => lines.some((l) => l.msg.includes('queue sampling failed')), 5_000, 'the sampler\'s line');
  await client.request('/jobs');
  const errors = lines.filter((l) => l.level === 'error');
  assert.equal(errors.filter((l) => l.msg.startsWith('dashboard page failed')).length, 1, JSON.stringify(errors));
  assert.equal(errors.filter((l) => l.msg.startsWith('dashboard queue sampling failed')).length, 1, JSON.stringify(errors));
  for (const line of errors) {
    assert.match(line.msg, new RegExp(`run \`kairos migrate --schema ${schema}\``));
    assert.ok(line.msg.length < 300, line.msg);
  }
});

test('kairos dashboard: a busy port exits at once with a message; a missing schema or an unreachable database is said at start', async () => {
  const env = { KAIROS_DASHBOARD_TOKEN: '', KAIROS_DASHBOARD_USER: '', KAIROS_DASHBOARD_PASSWORD: '' };
  const squatter = http.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = String((squatter.address() as { port: number }).port);
  try {
    const busy = await startCli(['dashboard', '--database-url', db.connectionString, '--schema', db.schema, '--port', port], env).exited;
    assert.equal(busy.code, 1, busy.stderr);
    assert.match(busy.stderr, new RegExp(`kairos: Cannot start the dashboard: port ${port} on 127\\.0\\.0\\.1 is already in use`));
    assert.doesNotMatch(busy.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
  const schema = `absent_${randomBytes(4).toString('hex')}`;
  const missing = startCli(['dashboard', '--database-url', db.connectionString, '--schema', schema, '--port', '0'], env);
  await missing.waitFor(`run \`kairos migrate --schema ${schema}\``);
  missing.child.kill('SIGINT');
  assert.equal((await missing.exited).code, 0);
  const unreachable = startCli(['dashboard', '--database-url', 'postgres://nobody:pw@127.0.0.1:1/none', '--port', '0'], env);
  await unreachable.waitFor('the dashboard cannot reach the database');
  unreachable.child.kill('SIGINT');
  await unreachable.exited;
});

test('the Failures card counts what its subtitle says: failed or expired attempts of the last hour (not retries)', async () => {
  await db.pool.query(`SELECT ${s}.define_job(job_name => 'card-fail', command => 'SELECT 1/0', cron => '{"0 3 * * *"}', queue => 'default', retries => 1, run_as => current_user)`);
  const run = await trigger('card-fail');
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'failed'", [run])) === 1, 15_000, 'the final failed attempt');
  assert.equal(await db.count('job_logs', "run_id = $1 AND status = 'retrying'", [run]), 1, 'one retrying attempt first');
  const failed = await db.count('job_logs', "finished_at > now() - interval '1 hour' AND status IN ('failed', 'expired')");
  const page = await new Client(open).request('/');
  const card = /<div class="label">Failures<\/div><div class="value">(\d+)<\/div><div class="sub">([^<]*)</.exec(page.text);
  assert.deepEqual(card?.slice(1), [String(failed), 'failed or expired attempts, last hour']);
});
