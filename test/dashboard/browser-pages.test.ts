/**
 * Issue #15's dashboard pages in headless Chromium (Debian's, through playwright-core): a fresh
 * "New job" form shows no error, a run page with its diagnostics, pagination and search, bulk
 * retry and cancel, the jobs table at 420 px, /healthz and the schema-not-installed page.
 */
import { test, after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { fixture, eventually } from '../helpers.js';
import { serve } from './serve.js';
import { launchChromium, chromiumMissing } from './chromium.js';

/** Why the browser cannot run here (the tests then skip loudly; required under KAIROS_REQUIRE_BROWSER=1). */
const missing = chromiumMissing();

const db = await fixture();
const s = `"${db.schema}"`;
const served = await serve({ pool: db.pool, schema: db.schema });
const problems: string[] = [];
let browser: Browser;
let page: Page;
let closeBrowser: () => Promise<void> = async () => undefined;
const node = db.node({ runSqlJobs: true, queues: ['default'] });

const define = async (name: string, queue = 'nobody-serves-this', command = 'SELECT 1'): Promise<number> =>
  Number((await db.pool.query(`SELECT job_id FROM ${s}.define_job(job_name => $1, command => $2, cron => '{"0 3 * * *"}', queue => $3, run_as => current_user)`, [name, command, queue])).rows[0].job_id);
const trigger = async (name: string): Promise<number> => Number((await db.pool.query(`SELECT ${s}.trigger_job($1) AS id`, [name])).rows[0].id);

before(async () => {
  if (missing) return;
  await node.start();
  const chromium = await launchChromium();
  closeBrowser = chromium.close;
  browser = chromium.browser;
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('dialog', (dialog) => void dialog.accept());
});
after(async () => {
  await closeBrowser();
  await node.stop();
});
beforeEach(() => {
  problems.length = 0;
});

const open = async (path: string, status = 200): Promise<void> => {
  const response = await page.goto(`${served.url}${path}`, { waitUntil: 'load' });
  assert.equal(response?.status(), status, `${path} answered ${response?.status()}`);
};

test('a fresh "New job" form shows no error before anything is typed', { skip: missing }, async () => {
  await open('/jobs/new');
  // The client asks for a preview at once; wait until it has answered.
  await page.waitForLoadState('networkidle');
  assert.equal(await page.locator('.banner.error').count(), 0);
  assert.equal(await page.locator('#schedule-preview.error').count(), 0, await page.locator('#schedule-preview').innerText());
  assert.equal((await page.locator('#schedule-preview').innerText()).trim(), '');
  // Typing still previews (and a bad value still says so).
  await page.locator('#f-cron').fill('*/5 * * * *');
  await page.locator('#schedule-preview').getByText('Every 5 minutes (UTC)').waitFor();
  assert.deepEqual(problems, []);
});

test('a run page renders its attempt with the PostgreSQL diagnostics', { skip: missing }, async () => {
  await define('browser-raise', 'default', "DO $$ BEGIN RAISE EXCEPTION 'no <stock>' USING DETAIL = 'warehouse empty', HINT = 'order more'; END $$");
  const run = await trigger('browser-raise');
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'failed'", [run])) === 1, 15_000, 'the failed attempt');
  await open('/runs');
  await page.locator(`a[href$="/runs/${run}"]`).first().click();
  await page.waitForURL(`**/runs/${run}`);
  await page.getByText('Attempt 1').waitFor();
  const diagnostics = await page.locator('dl.diagnostics').innerText();
  assert.match(diagnostics, /SQLSTATE\s+P0001/);
  assert.match(diagnostics, /warehouse empty/);
  assert.match(diagnostics, /order more/);
  assert.match(await page.locator('pre.message').innerText(), /no <stock>/);
  assert.deepEqual(problems, []);
});

test('the jobs list: search and pages of 50', { skip: missing }, async () => {
  for (let i = 0; i < 52; i++) await define(`many-${String(i).padStart(2, '0')}`);
  await open('/jobs');
  await page.locator('input[name="q"]').fill('many-');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/q=many-/);
  assert.equal(await page.locator('tr[data-job^="many-"]').count(), 50);
  await page.getByRole('link', { name: 'Next →' }).click();
  await page.waitForURL(/page=2/);
  assert.deepEqual(await page.locator('tr[data-job^="many-"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job'))), ['many-50', 'many-51']);
  await page.getByRole('link', { name: '← Previous' }).click();
  await page.waitForURL((url) => !url.searchParams.has('page'));
  assert.equal(await page.locator('tr[data-job^="many-"]').count(), 50);
  assert.deepEqual(problems, []);
});

test('bulk cancel and bulk retry of what the filter selects', { skip: missing }, async () => {
  await define('bulk-one');
  await define('bulk-two');
  const ids = [await trigger('bulk-one'), await trigger('bulk-two')];
  await open('/runs?q=bulk-');
  await page.getByRole('button', { name: 'Cancel 2 live runs' }).click();
  await page.getByText('2 runs cancelled').waitFor();
  assert.equal(await db.count('runs', 'run_id = ANY($1)', [ids]), 0);

  await define('bulk-broken', 'default', 'SELECT 1/0');
  const failed = await trigger('bulk-broken');
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'failed'", [failed])) === 1, 15_000, 'the failed attempt');
  // Its retry must wait for the test to see it: a queue nobody serves.
  await define('bulk-broken', 'nobody-serves-this', 'SELECT 1/0');
  await open('/runs?q=bulk-broken');
  await page.getByRole('button', { name: 'Retry 1 failure' }).click();
  await page.getByText('1 failed attempts queued again.').waitFor();
  assert.equal(await db.count('runs', `job_id = (SELECT job_id FROM ${s}.jobs WHERE job_name = 'bulk-broken')`), 1);
  assert.deepEqual(problems, []);
});

test('at 420 px wide the page does not overflow sideways: the jobs table scrolls in its own box', { skip: missing }, async () => {
  await define('a-job-with-a-rather-long-name-for-a-phone');
  const narrow = await browser.newPage({ viewport: { width: 420, height: 800 } });
  try {
    for (const path of ['/jobs', '/runs']) {
      await narrow.goto(`${served.url}${path}`, { waitUntil: 'load' });
      // A string: the test is type-checked without the DOM library.
      const widths = await narrow.evaluate<{ page: number; body: number; viewport: number }>('({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth })');
      assert.ok(widths.page <= widths.viewport && widths.body <= widths.viewport, `${path}: ${JSON.stringify(widths)}`);
    }
    await narrow.goto(`${served.url}/jobs`, { waitUntil: 'load' });
    const box = await narrow.locator('.scroll').first().evaluate((el) => ({ overflow: el.ownerDocument.defaultView!.getComputedStyle(el).overflowX, scroll: el.scrollWidth, client: el.clientWidth }));
    assert.equal(box.overflow, 'auto');
    assert.ok(box.scroll > box.client, `the table is wider than the screen and scrolls inside its box: ${JSON.stringify(box)}`);
  } finally {
    await narrow.close();
  }
});

test('/healthz answers 200 with a small JSON body', { skip: missing }, async () => {
  const response = await page.goto(`${served.url}/healthz`);
  assert.equal(response?.status(), 200);
  assert.deepEqual(JSON.parse(await page.locator('body').innerText()), { ok: true, status: 'ok' });
});

test('a schema that is not installed shows one page saying how to fix it', { skip: missing }, async () => {
  const schema = `absent_${randomBytes(4).toString('hex')}`;
  const missing = await serve({ pool: db.pool, schema });
  const response = await page.goto(`${missing.url}/jobs`, { waitUntil: 'load' });
  assert.equal(response?.status(), 503);
  await page.getByRole('heading', { name: 'Kairos is not ready' }).waitFor();
  assert.equal(await page.locator('pre.command').innerText(), `kairos migrate --schema ${schema}`);
  // Chromium logs the 503 of the page itself; nothing else.
  assert.deepEqual(problems.filter((p) => !p.includes('status of 503')), []);
});
