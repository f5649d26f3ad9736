/**
 * Kairos as the suite drives it: `enqueueMany` / `enqueue` on the driver side, a node with
 * `concurrency`, `batchSize` and `prefetch` on the worker side (claims and completions are batched
 * by the engine itself), or with every option at its default (`defaults`: the rows users get).
 * Per-second cron schedules are defined with `schedule({ cron: '* * * * * *' })`.
 */
import pg from 'pg';
import { Kairos, type TaskContext } from '../../src/index.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Handler, JobPayload, Producer, ProducerOptions, RunningWorker, WorkerConfig } from '../lib/types.js';

/** The task every benchmark job runs. */
const TASK = 'noop';

/** The driver's producer: a Kairos instance that is never started (it only enqueues). */
export async function openProducer(url: string, options: ProducerOptions): Promise<Producer> {
  // Silent: dropping the database afterwards ends idle connections, which Kairos would log.
  const kairos = new Kairos({ connectionString: url, maxConnections: 10, logger: silentLogger });
  await kairos.migrate();
  const count = new pg.Pool({ connectionString: url, max: 1 });
  count.on('error', () => undefined);
  const opts = { retries: options.retries, backoff: '1s' };
  return {
    async enqueueBatch(payloads: JobPayload[]) {
      await kairos.enqueueMany(payloads.map((payload) => ({ task: TASK, payload, ...opts })));
    },
    async enqueueOne(payload: JobPayload) {
      await kairos.enqueue(TASK, payload, opts);
    },
    async remaining() {
      const { rows } = await count.query<{ n: string }>('SELECT count(*) AS n FROM kairos.runs');
      return Number(rows[0]?.n ?? 0);
    },
    async close() {
      await count.end();
      await kairos.stop();
    },
  };
}

/** Start one Kairos node running `handler` for every job (and cron fire). */
export async function startWorker(config: WorkerConfig, handler: Handler): Promise<RunningWorker> {
  const run = (payload: unknown, ctx: TaskContext): void =>
    handler({ payload: (payload ?? {}) as JobPayload, attempt: ctx.attempt, name: ctx.jobName ?? undefined, scheduledAt: ctx.scheduledAt?.getTime() });
  const tuned = config.defaults ? {} : {
    concurrency: config.concurrency,
    batchSize: Math.min(config.batch, 5000),
    // Claim ahead of free slots, as graphile-worker's localQueue does (same size as its localQueue).
    prefetch: config.batch,
  };
  const kairos = new Kairos({
    connectionString: config.url,
    ...tuned,
    tasks: { [TASK]: run, tick: run },
    // What-if experiments only (e.g. '{"pollInterval":"1s"}'); the suite itself never sets it.
    ...(JSON.parse(process.env.BENCH_KAIROS_OPTIONS ?? '{}') as Record<string, unknown>),
  });
  if (config.schedules) {
    await kairos.migrate();
    for (let i = 0; i < config.schedules; i++) await kairos.schedule({ name: `c${i}`, task: 'tick', cron: '* * * * * *' });
  }
  await kairos.start();
  return { stop: () => kairos.stop({ timeout: 5000 }) };
}

/** Kairos counts cron occurrences and runs in its own tables. */
export const cronTables = {
  /** p50/p99 ms after the due time at which the ticker's transaction began and the run was claimed. */
  async steps(url: string, from: Date, to: Date): Promise<{ tickP50: number; tickP99: number; claimP50: number; claimP99: number }> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ tick50: number; tick99: number; claim50: number; claim99: number }>(
        `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.created_at - o.scheduled_at) * 1000) AS tick50,
                percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM o.created_at - o.scheduled_at) * 1000) AS tick99,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM l.run_time - l.scheduled_at) * 1000) AS claim50,
                percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM l.run_time - l.scheduled_at) * 1000) AS claim99
           FROM kairos.occurrences o JOIN kairos.job_logs l ON l.job_id = o.job_id AND l.scheduled_at = o.scheduled_at
          WHERE o.scheduled_at >= $1 AND o.scheduled_at < $2`,
        [from, to],
      );
      const r = rows[0]!;
      return { tickP50: Number(r.tick50), tickP99: Number(r.tick99), claimP50: Number(r.claim50), claimP99: Number(r.claim99) };
    } finally {
      await client.end();
    }
  },
  /** Distinct (schedule, due time) runs completed in [from, to), and how many were recorded more than once. */
  async fires(url: string, from: Date, to: Date): Promise<{ ran: number; duplicated: number; skipped: number }> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ ran: string; duplicated: string; skipped: string }>(
        `SELECT (SELECT count(*) FROM (SELECT 1 FROM kairos.job_logs l WHERE l.status = 'completed' AND l.scheduled_at >= $1 AND l.scheduled_at < $2
                  GROUP BY l.job_id, l.scheduled_at) x) AS ran,
                (SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM kairos.job_logs l WHERE l.status = 'completed'
                  AND l.scheduled_at >= $1 AND l.scheduled_at < $2 GROUP BY l.job_id, l.scheduled_at HAVING count(*) > 1) d) AS duplicated,
                (SELECT count(*) FROM kairos.occurrences o WHERE o.outcome = 'skipped' AND o.scheduled_at >= $1 AND o.scheduled_at < $2) AS skipped`,
        [from, to],
      );
      const row = rows[0]!;
      return { ran: Number(row.ran), duplicated: Number(row.duplicated), skipped: Number(row.skipped) };
    } finally {
      await client.end();
    }
  },
};
