/**
 * graphile-worker 0.18 as its performance docs recommend for throughput: `run()` with
 * `concurrency`, the `localQueue` preset option (a batch of jobs locked per fetch and served to
 * the workers locally) and batched completions and failures (`completeJobBatchDelay` /
 * `failJobBatchDelay` = 0: batch whatever finishes in the same tick). Cron is minute-level only.
 */
import pg from 'pg';
import { Logger, makeWorkerUtils, run, type Job, type TaskList } from 'graphile-worker';
import type { Handler, JobPayload, Producer, ProducerOptions, RunningWorker, WorkerConfig } from '../lib/types.js';

/** A logger that prints warnings and errors only. */
const logger = new Logger(() => (level: string, message: string) => {
  // The mixed workload's planned failures are expected: not worth a stack trace each.
  if ((level === 'error' || level === 'warning') && !message.includes('planned failure')) console.error(`[graphile-worker] ${level}: ${message}`);
});

/** The driver's producer: WorkerUtils `addJobs` (one call per batch) and `addJob`. */
export async function openProducer(url: string, options: ProducerOptions): Promise<Producer> {
  // Our own pool: WorkerUtils.release() ends its pool without waiting for it.
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const utils = await makeWorkerUtils({ pgPool: pool, logger });
  await utils.migrate();
  const maxAttempts = options.retries + 1;
  return {
    async enqueueBatch(payloads: JobPayload[]) {
      await utils.addJobs(payloads.map((payload) => ({ identifier: 'noop', payload, maxAttempts })));
    },
    async enqueueOne(payload: JobPayload) {
      await utils.addJob('noop', payload, { maxAttempts });
    },
    async remaining() {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM graphile_worker._private_jobs');
      return Number(rows[0]?.n ?? 0);
    },
    async close() {
      await utils.release();
      await pool.end();
    },
  };
}

/** A crontab of `n` minute-level schedules of the `tick` task. */
function crontab(n: number): string {
  return Array.from({ length: n }, (_, i) => `* * * * * tick ?id=c${i} {"name":"c${i}"}`).join('\n');
}

/** Start one graphile-worker runner calling `handler` for every job (and cron fire). */
export async function startWorker(config: WorkerConfig, handler: Handler): Promise<RunningWorker> {
  const task = async (payload: unknown, helpers: { job: Job }): Promise<void> => {
    const { _cron: cron, name } = (payload ?? {}) as { _cron?: { ts: string }; name?: string };
    handler({
      payload: (payload ?? {}) as JobPayload,
      attempt: helpers.job.attempts,
      name,
      scheduledAt: cron ? Date.parse(cron.ts) : undefined,
    });
  };
  const taskList: TaskList = { noop: task, tick: task };
  const runner = await run({
    connectionString: config.url,
    concurrency: config.concurrency,
    maxPoolSize: Math.max(10, config.concurrency + 2),
    noHandleSignals: true,
    logger,
    taskList,
    crontab: config.schedules ? crontab(config.schedules) : '',
    preset: { worker: { localQueue: { size: config.batch }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  });
  return { stop: () => runner.stop() };
}
