/**
 * `npm run screenshots`: the dashboard's main pages as PNGs in docs/images/, taken by headless
 * Chromium from a demo installation (scripts/dashboard-demo.ts) on an embedded PostgreSQL (or
 * DATABASE_URL). `--serve` keeps the demo running instead, to try the dashboard by hand.
 */
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/embedded/postgres.js';
import { migrate } from '../src/store/migrate.js';
import { quoteIdent } from '../src/store/sql.js';
import { createDashboard } from '../src/dashboard/index.js';
import { defineDemoJobs, demoNodes, seedHistory } from './dashboard-demo.js';
import { launchChromium } from '../test/dashboard/chromium.js';

const SCHEMA = 'kairos_dashboard_demo';
const serveOnly = process.argv.includes('--serve');

let server: EmbeddedPostgres | undefined;
let url = process.env.DATABASE_URL;
if (!url) {
  server = await startEmbeddedPostgres({ dataDir: '.kairos/screenshots-pg' });
  url = server.url;
}
const pool = new pg.Pool({ connectionString: url, max: 4 });
await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(SCHEMA)} CASCADE`);
await migrate(pool, SCHEMA);
await defineDemoJobs(pool, SCHEMA);
await seedHistory(pool, SCHEMA);
const nodes = demoNodes(url, SCHEMA);
for (const node of nodes) await node.start();
const [first] = nodes;
for (let i = 0; i < 3; i++) await first!.enqueue('generateInvoices', { batch: i + 1 });
for (let i = 0; i < 6; i++) await first!.enqueue('generateInvoices', { batch: 10 + i }, { delay: `${(i + 1) * 7}m` });
await first!.trigger('sync-crm-contacts');

const dashboard = createDashboard({ pool, schema: SCHEMA, sampleIntervalMs: 2000 });
const web = http.createServer(dashboard);
await new Promise<void>((resolve) => web.listen(serveOnly ? Number(process.env.PORT ?? 8080) : 0, '127.0.0.1', resolve));
const address = web.address() as { port: number };
const base = `http://127.0.0.1:${address.port}`;

async function shutdown(): Promise<void> {
  web.closeAllConnections();
  web.close();
  await dashboard.close();
  for (const node of nodes) await node.stop({ timeout: 500 });
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(SCHEMA)} CASCADE`);
  await pool.end();
  await server?.stop();
}

if (serveOnly) {
  console.log(`Demo dashboard on ${base}/ (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
} else {
  const { rows } = await pool.query<{ job_id: number; job_name: string }>(`SELECT job_id, job_name FROM ${quoteIdent(SCHEMA)}.jobs`);
  const id = (name: string): number => rows.find((r) => r.job_name === name)!.job_id;
  // Let the nodes pick up work and the queue sampler take a few samples.
  await new Promise((resolve) => setTimeout(resolve, 6000));
  const chromium = await launchChromium();
  mkdirSync('docs/images', { recursive: true });
  const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, colorScheme: 'light' });
  const shots: Array<[string, string, string?]> = [
    ['overview', '/', '.uplot'],
    ['jobs', '/jobs'],
    ['job', `/jobs/${id('sync-crm-contacts')}`],
    ['edit', `/jobs/${id('refresh-sales-dashboard')}/edit`, '#schedule-preview strong'],
    ['runs', '/runs'],
    ['nodes', '/nodes'],
    ['calendar', '/calendar'],
  ];
  for (const [name, path, ready] of shots) {
    await page.goto(`${base}${path}`, { waitUntil: 'networkidle' });
    if (ready) await page.waitForSelector(ready, { timeout: 10_000 });
    await page.screenshot({ path: `docs/images/dashboard-${name}.png` });
    console.log(`docs/images/dashboard-${name}.png`);
  }
  await chromium.close();
}
await shutdown();
process.exit(0);
