/**
 * Workload 6, schedule scale (Kairos only): 10 000 and 1 000 000 recurring jobs (quick: 10 000
 * and 100 000) inserted with plain SQL, due far in the future, and 10 of them made due before
 * every tick. Measures one ticker pass (`runOnce`: lock the due jobs, plan, write, look up the next
 * due time) with 10 due and with none due, and EXPLAIN (ANALYZE, BUFFERS) of `lockDueJobs` and
 * `nextJobDue`. The per-tick cost must not grow with the number of jobs.
 */
import pg from 'pg';
import { Kairos } from '../../src/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { internals } from '../../src/api/internals.js';
import { querySources } from '../../src/store/sql.js';
import type { LockDueJobsParams } from '../../src/store/queries.js';
import { explain } from '../lib/explain.js';
import { nowMs, summary } from '../lib/stats.js';
import type { Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Workload } from '../lib/workload.js';

const DUE = 10;
const TICKS = 15;

async function measure(ctx: BenchContext, jobs: number): Promise<{ due: number; idle: number; lock: number; lockBuf: number; next: number; nextBuf: number }> {
  const db = await ctx.database('kairos');
  const kairos = new Kairos({ connectionString: db.url, tasks: { noop: () => undefined }, logger: silentLogger });
  const client = new pg.Client({ connectionString: db.url });
  try {
    await kairos.migrate();
    await client.connect();
    const started = nowMs();
    await client.query(
      `INSERT INTO kairos.jobs (job_name, command, schedule_kind, cron, next_run, planned)
       SELECT 'scale-' || g, 'noop', 'cron', '0 0 1 1 *', now() + interval '300 days' + g * interval '1 second', true
         FROM generate_series(1, $1::int) g`,
      [jobs],
    );
    await client.query('VACUUM ANALYZE kairos.jobs');
    ctx.log(`scale: ${jobs} jobs inserted and analysed in ${((nowMs() - started) / 1000).toFixed(1)} s`);
    const makeDue = `UPDATE kairos.jobs SET next_run = now() - interval '1 second' WHERE job_id <= ${DUE}`;
    const { ticker } = internals(kairos).services;
    const due: number[] = [];
    const idle: number[] = [];
    for (let i = 0; i < TICKS; i++) {
      await client.query(makeDue);
      let t = nowMs();
      await ticker.runOnce();
      due.push(nowMs() - t);
      t = nowMs();
      await ticker.runOnce();
      idle.push(nowMs() - t);
    }
    // The ticker's parameters, in the order the query's @names bind them.
    const lockParams: LockDueJobsParams = { now: null, custom_schedules: [], limit: 100, ahead_ms: 500, only_job_id: null, skipped_job_ids: [] };
    const lockValues = querySources().get('lockDueJobs')!.params.map((name) => lockParams[name as keyof LockDueJobsParams]);
    const lock = await explain(client, internals(kairos).store.queries.get('lockDueJobs'), lockValues, makeDue);
    const next = await explain(client, internals(kairos).store.queries.get('nextJobDue'), [500]);
    if (jobs >= 1_000_000 || (ctx.quick && jobs >= 100_000)) ctx.note(`lockDueJobs plan at ${jobs} jobs:\n${lock.plan}\nnextJobDue plan:\n${next.plan}`);
    return { due: summary(due).median, idle: summary(idle).median, lock: lock.ms, lockBuf: lock.buffers, next: next.ms, nextBuf: next.buffers };
  } finally {
    await client.end().catch(() => undefined);
    await kairos.stop();
    await db.drop();
  }
}

/** Ticker cost against the number of defined jobs. */
export const scale: Workload = {
  name: 'scale',
  title: 'Schedule scale: ticker cost with many defined jobs (Kairos only; small = 10k, large = 1M, quick 100k)',
  systems: ['kairos'],
  once: true,
  metrics: [
    { key: 'dueS', label: 'tick, 10 due (small)', unit: 'ms', better: 'lower' },
    { key: 'dueL', label: 'tick, 10 due (large)', unit: 'ms', better: 'lower' },
    { key: 'idleS', label: 'tick, none due (small)', unit: 'ms', better: 'lower' },
    { key: 'idleL', label: 'tick, none due (large)', unit: 'ms', better: 'lower' },
    { key: 'lockS', label: 'lockDueJobs exec (small)', unit: 'ms', better: 'lower' },
    { key: 'lockL', label: 'lockDueJobs exec (large)', unit: 'ms', better: 'lower' },
    { key: 'lockBufL', label: 'lockDueJobs buffers (large)', unit: '', better: 'lower' },
    { key: 'nextS', label: 'nextJobDue exec (small)', unit: 'ms', better: 'lower' },
    { key: 'nextL', label: 'nextJobDue exec (large)', unit: 'ms', better: 'lower' },
    { key: 'nextBufL', label: 'nextJobDue buffers (large)', unit: '', better: 'lower' },
    { key: 'growth', label: 'tick large ÷ small', unit: '×', better: 'lower' },
  ],
  async run(_system: SystemName, ctx: BenchContext): Promise<Sample> {
    const small = await measure(ctx, 10_000);
    const large = await measure(ctx, ctx.quick ? 100_000 : 1_000_000);
    return {
      dueS: small.due, dueL: large.due, idleS: small.idle, idleL: large.idle,
      lockS: small.lock, lockL: large.lock, lockBufL: large.lockBuf,
      nextS: small.next, nextL: large.next, nextBufL: large.nextBuf,
      growth: large.due / small.due,
    };
  },
};
