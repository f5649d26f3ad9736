/**
 * A realistic demo installation for the dashboard's screenshots (`npm run screenshots`) and for
 * trying the dashboard by hand (`npx tsx scripts/screenshots.ts --serve`): jobs of every kind
 * defined through the SQL API, an hour of attempt history, and two live nodes running tasks.
 *
 * The hour of history is written directly into job_logs (a running cluster would need an hour to
 * produce it); everything else — jobs, runs, nodes, the attempts made while the script runs — is
 * the real thing.
 */
import type pg from 'pg';
import { Kairos } from '../src/api/kairos.js';
import { defineTask, type TaskMap } from '../src/api/tasks.js';
import { silentLogger } from '../src/core/logger.js';
import { quoteIdent } from '../src/store/sql.js';

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** The demo jobs: name, kind, command, schedule and options, as define_job arguments. */
const JOBS: Array<{ name: string; sql: string }> = [
  { name: 'nightly-vacuum', sql: `job_name => 'nightly-vacuum', command => 'VACUUM ANALYZE', job_type => 'sql', cron => '{"0 3 * * *"}', timezone => 'Europe/Berlin', labels => '{maintenance}', description => 'Vacuum and analyze every table after the nightly import', timeout => '2 hours'` },
  { name: 'refresh-sales-dashboard', sql: `job_name => 'refresh-sales-dashboard', command => 'SELECT pg_sleep(0.2)', job_type => 'sql', cron => '{"*/15 8-18 * * 1-5"}', timezone => 'America/New_York', labels => '{reporting}', description => 'Refresh the sales materialized views during office hours', retries => 2` },
  { name: 'send-digest-emails', sql: `job_name => 'send-digest-emails', command => 'sendDigest', job_type => 'task', cron => '{"*/1 * * * *"}', labels => '{email}', queue => 'email', payload => '{"template": "daily-digest"}', retries => 3, description => 'Send the digest to subscribers whose local time is 08:00'` },
  { name: 'sync-crm-contacts', sql: `job_name => 'sync-crm-contacts', command => 'syncCrm', job_type => 'task', every => '20 seconds', labels => '{integrations}', retries => 2, overlap => 'skip'` },
  { name: 'import-partner-feed', sql: `job_name => 'import-partner-feed', command => 'importPartnerFeed', job_type => 'task', every => '30 seconds', labels => '{integrations}', max_attempts => 50, description => 'Pull the partner price feed (partner API is flaky)'` },
  { name: 'etl-orders', sql: `job_name => 'etl-orders', command => 'etl', job_type => 'steps', cron => '{"0 */2 * * *"}', labels => '{etl,reporting}', retries => 1, timeout => '30 minutes', exceptions => '[{"date": "2026-12-25"}, {"date": "2027-01-01"}]', description => 'Extract, transform and load the order warehouse'` },
  { name: 'rotate-audit-partitions', sql: `job_name => 'rotate-audit-partitions', command => 'SELECT 1', job_type => 'sql', cron => '{"30 0 1 * *"}', labels => '{maintenance}', description => 'Create next month''s audit partition, drop the oldest'` },
  { name: 'year-end-report', sql: `job_name => 'year-end-report', command => 'yearEndReport', job_type => 'task', at => '2026-12-31 22:00+00', labels => '{reporting}'` },
  { name: 'backup-to-s3', sql: `job_name => 'backup-to-s3', command => 'pg_dump --format=custom app | aws s3 cp - s3://backups/app.dump', job_type => 'shell', cron => '{"15 2 * * *"}', enabled => false, labels => '{maintenance}', timeout => '1 hour'` },
  { name: 'warm-cache', sql: `job_name => 'warm-cache', command => 'warmCache', job_type => 'task', cron => '{"0 6 * * 1-5"}', timezone => 'Europe/London', queue => 'low'` },
];

const TASK_DURATIONS: Record<string, [number, number]> = {
  'send-digest-emails': [400, 1500], 'sync-crm-contacts': [800, 4000], 'import-partner-feed': [300, 900],
  'refresh-sales-dashboard': [200, 600], 'etl-orders': [20_000, 60_000], 'nightly-vacuum': [60_000, 240_000],
};

/** Define the demo jobs through the SQL API and give etl-orders its steps. */
export async function defineDemoJobs(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  for (const job of JOBS) await pool.query(`SELECT ${s}.define_job(${job.sql})`);
  await pool.query(`SELECT ${s}.set_steps('etl-orders', $1)`, [JSON.stringify([
    { name: 'extract', kind: 'sql', command: 'SELECT 1', on_error: 'fail' },
    { name: 'transform', kind: 'sql', command: 'SELECT 2', on_error: 'fail', timeout: '10 minutes' },
    { name: 'refresh-indexes', kind: 'sql', command: 'SELECT 3', on_error: 'ignore' },
    { name: 'load', kind: 'sql', command: 'SELECT 4', database: 'warehouse', on_error: 'fail' },
  ])]);
}

/** An hour of attempt history (see the module comment), with a short outage 20 minutes ago. */
export async function seedHistory(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  const { rows: jobs } = await pool.query<{ job_id: number; job_name: string; job_type: string; command: string; queue: string }>(`SELECT job_id, job_name, job_type, command, queue FROM ${s}.jobs`);
  const items: Array<Record<string, unknown>> = [];
  let run = 1_000_000;
  const now = Date.now();
  for (let minute = 60; minute >= 1; minute--) {
    for (const job of jobs) {
      const range = TASK_DURATIONS[job.job_name];
      if (!range) continue;
      const perMinute = job.job_name === 'sync-crm-contacts' ? 3 : job.job_name === 'import-partner-feed' ? 2 : job.job_name === 'etl-orders' ? (minute % 30 === 0 ? 1 : 0) : job.job_name === 'nightly-vacuum' ? 0 : 1;
      for (let i = 0; i < perMinute; i++) {
        const outage = minute >= 18 && minute <= 23 && job.job_name === 'sync-crm-contacts';
        const flaky = job.job_name === 'import-partner-feed' && (minute + i) % 4 === 0;
        const status = outage ? (i === 2 ? 'failed' : 'retrying') : flaky ? 'failed' : 'completed';
        const ms = (range[0] + Math.round(Math.random() * (range[1] - range[0]))) * (outage ? 3 : 1);
        const finished = new Date(now - minute * 60_000 + i * 15_000 + Math.round(Math.random() * 10_000));
        items.push({
          job_id: job.job_id, run_id: ++run, task: job.job_type === 'task' ? job.command : `@${job.job_type}`, queue: job.queue,
          attempt: status === 'retrying' ? 1 : 2, status, run_time: new Date(finished.getTime() - ms), finished_at: finished, ms,
          message: status === 'completed' ? null : outage ? 'connect ETIMEDOUT crm.internal:443' : 'partner feed returned HTTP 503: upstream unavailable',
          output: status === 'completed' ? { rows: Math.round(Math.random() * 5000) } : null,
        });
      }
    }
  }
  await pool.query(`INSERT INTO ${s}.job_logs (job_id, run_id, task, queue, attempt, status, run_time, finished_at, duration, message, output)
    SELECT x.job_id, x.run_id, x.task, x.queue, x.attempt, x.status, x.run_time, x.finished_at, x.ms * interval '1 millisecond', x.message, x.output
      FROM jsonb_to_recordset($1::jsonb) AS x(job_id int, run_id bigint, task text, queue text, attempt int, status text,
           run_time timestamptz, finished_at timestamptz, ms int, message text, output jsonb)`, [JSON.stringify(items)]);
  await pool.query(`UPDATE ${s}.jobs j SET last_run = l.run_time, last_status = l.status = 'completed', last_message = CASE WHEN l.status = 'completed' THEN NULL ELSE l.message END
    FROM (SELECT DISTINCT ON (job_id) job_id, run_time, status, message FROM ${s}.job_logs ORDER BY job_id, log_id DESC) l WHERE l.job_id = j.job_id`);
}

/** Two worker nodes running the demo's tasks (long ones, so the runs page has something running). */
export function demoNodes(connectionString: string, schema: string): Kairos[] {
  const tasks = {
    sendDigest: defineTask(async (_p, ctx) => sleep(800, ctx.signal)),
    syncCrm: defineTask(async (_p, ctx) => sleep(45_000, ctx.signal)),
    importPartnerFeed: defineTask(async () => {
      await sleep(300);
      throw new Error('partner feed returned HTTP 503: upstream unavailable');
    }),
    generateInvoices: defineTask(async (_p, ctx) => sleep(120_000, ctx.signal)),
    warmCache: defineTask(async () => sleep(200)),
    yearEndReport: defineTask(async () => sleep(200)),
  };
  return ['worker-eu-1', 'worker-eu-2'].map((nodeName, i) => new Kairos<TaskMap>({
    connectionString, schema, logger: silentLogger, migrate: false, nodeName, concurrency: i === 0 ? 8 : 4,
    queues: i === 0 ? ['default', 'email'] : ['default', 'low'], nodeTags: i === 0 ? ['eu', 'ssd'] : ['eu'], tasks,
  }));
}
