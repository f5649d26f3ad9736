/**
 * pg-boss 12 as its docs recommend for throughput and latency: `work()` with `batchSize` (one
 * fetch locks a batch; the handler gets the array and pg-boss completes the batch in one
 * statement), `burstWhenBatchFull` (fetch again at once while fetches come back full), the
 * shortest polling interval it accepts (0.5 s), and LISTEN/NOTIFY (`useListenNotify` on the
 * instance, `notify` on the queues: a new job wakes the worker). The batch's jobs run at most
 * `concurrency` at a time. Cron is minute-level, checked every `cronMonitorIntervalSeconds` (1 s
 * here, the minimum). pg-boss 12 needs Node 22: its worker child runs under Node 24 (child.ts).
 */
import pg from 'pg';
import { PgBoss, type JobWithMetadata } from 'pg-boss';
import { mapLimit } from '../lib/stats.js';
import type { Handler, JobPayload, Producer, ProducerOptions, RunningWorker, WorkerConfig } from '../lib/types.js';

const QUEUE = 'noop';

/** pg-boss errors, except the connections ended when the benchmark drops the database. */
function report(error: Error): void {
  if (!/terminating connection due to administrator command|Connection terminated/.test(error.message)) console.error(`[pg-boss] ${error.message}`);
}
const POLL_SECONDS = 0.5;

async function ensureQueue(boss: PgBoss, name: string, options: ProducerOptions = { retries: 3 }): Promise<void> {
  if (await boss.getQueue(name)) return;
  await boss.createQueue(name, { retryLimit: options.retries, retryDelay: 1, notify: true });
}

/** The driver's producer: `insert()` for a batch (one statement), `send()` for one job. */
export async function openProducer(url: string, options: ProducerOptions): Promise<Producer> {
  const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false, max: 10 });
  boss.on('error', report);
  await boss.start();
  await ensureQueue(boss, QUEUE, options);
  const count = new pg.Pool({ connectionString: url, max: 1 });
  count.on('error', () => undefined);
  const retry = { retryLimit: options.retries, retryDelay: 1 };
  return {
    async enqueueBatch(payloads: JobPayload[]) {
      await boss.insert(QUEUE, payloads.map((data) => ({ data, ...retry })));
    },
    async enqueueOne(payload: JobPayload) {
      await boss.send(QUEUE, payload, retry);
    },
    async remaining() {
      const { rows } = await count.query<{ n: string }>(`SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state < 'completed'`, [QUEUE]);
      return Number(rows[0]?.n ?? 0);
    },
    async close() {
      await count.end();
      await boss.stop({ graceful: false, timeout: 1000 });
    },
  };
}

/** Start one pg-boss instance with a worker on the benchmark queue (and on each cron queue). */
export async function startWorker(config: WorkerConfig, handler: Handler): Promise<RunningWorker> {
  const cron = config.schedules ?? 0;
  const boss = new PgBoss({
    connectionString: config.url,
    max: 10,
    useListenNotify: true,
    ...(cron ? { cronMonitorIntervalSeconds: 1, cronWorkerIntervalSeconds: 1 } : {}),
  });
  boss.on('error', report);
  await boss.start();
  await ensureQueue(boss, QUEUE);
  const withMeta = config.mode === 'mixed';
  // Metadata (the retry count) is fetched only where attempts matter: it widens every fetch.
  const work = { batchSize: config.batch, burstWhenBatchFull: true, pollingIntervalSeconds: POLL_SECONDS, includeMetadata: withMeta };
  await boss.work<JobPayload>(QUEUE, work, async (jobs) => {
    const failed: string[] = [];
    await mapLimit(jobs, config.concurrency, (job) => {
      try {
        const retries = withMeta ? (job as JobWithMetadata<JobPayload>).retryCount : 0;
        handler({ payload: job.data ?? {}, attempt: retries + 1 });
      } catch {
        failed.push(job.id);
      }
    });
    // A thrown handler fails the whole batch: fail only the failed jobs; pg-boss then completes
    // the batch, which skips jobs no longer active.
    if (failed.length > 0) await boss.fail(QUEUE, failed);
  });
  for (let i = 0; i < cron; i++) {
    const name = `c${i}`;
    await ensureQueue(boss, name);
    await boss.schedule(name, '* * * * *');
    await boss.work<JobPayload>(name, { pollingIntervalSeconds: POLL_SECONDS, includeMetadata: true }, async ([job]) => {
      if (!job) return;
      // pg-boss does not record the due minute: it is the minute the job was created in.
      const due = Math.floor((job as JobWithMetadata<JobPayload>).createdOn.getTime() / 60_000) * 60_000;
      handler({ payload: {}, attempt: 1, name, scheduledAt: due });
    });
  }
  return { stop: () => boss.stop({ graceful: true, timeout: 5000 }) };
}
