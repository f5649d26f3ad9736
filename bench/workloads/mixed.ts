/**
 * Workload 4, mixed: jobs arrive at a steady rate (batched every 20 ms, as a busy application
 * would send them), 1 % fail their first attempt and are retried about 1 s later. Reports the
 * latency of first attempts, the completions per second during the arrival window, the backlog
 * left when arrivals stop and how long it takes to clear.
 */
import { WorkerChild } from '../lib/child.js';
import { nowMs, percentiles, sleep, waitFor } from '../lib/stats.js';
import type { JobPayload, Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Workload } from '../lib/workload.js';
import { openProducer } from '../systems/index.js';

/** Sustained arrivals with failures and retries. */
export const mixed: Workload = {
  name: 'mixed',
  title: 'Mixed: sustained arrivals, 1 % failing once and retried',
  metrics: [
    { key: 'offered', label: 'offered', unit: 'jobs/s', better: 'info' },
    { key: 'completed', label: 'completed', unit: 'jobs/s', better: 'higher' },
    { key: 'p50', label: 'p50 latency', unit: 'ms', better: 'lower' },
    { key: 'p99', label: 'p99 latency', unit: 'ms', better: 'lower' },
    { key: 'backlog', label: 'backlog at end', unit: 'jobs', better: 'lower' },
    { key: 'clear', label: 'time to clear', unit: 's', better: 'lower' },
  ],
  async run(system: SystemName, ctx: BenchContext): Promise<Sample> {
    const rate = ctx.quick ? 500 : 2000;
    const seconds = ctx.quick ? 3 : 15;
    const db = await ctx.database(system);
    const producer = await openProducer(system, db.url, { retries: 3 });
    const child = await WorkerChild.start({ system, url: db.url, mode: 'mixed', ...ctx.settings });
    try {
      await sleep(ctx.quick ? 500 : 1000);
      const start = nowMs();
      let sent = 0;
      while (nowMs() - start < seconds * 1000) {
        const due = Math.floor(((nowMs() - start) / 1000) * rate);
        if (due <= sent) {
          await sleep(20 - ((nowMs() - start) % 20));
          continue;
        }
        const t = nowMs();
        const batch: JobPayload[] = Array.from({ length: due - sent }, (_, k) => ({ t, ...((sent + k) % 100 === 99 ? { fail: true } : {}) }));
        await producer.enqueueBatch(batch);
        sent += batch.length;
      }
      const end = nowMs();
      const backlog = await producer.remaining();
      const clearLimit = ctx.quick ? 10 : 60;
      const cleared = await waitFor(async () => (await producer.remaining()) === 0, clearLimit * 1000, 50);
      const clear = (nowMs() - end) / 1000;
      if (!cleared) ctx.note(`${system}: backlog not cleared ${clearLimit} s after arrivals stopped`);
      const report = await child.stop();
      const completed = report.completions.filter((at) => at >= start && at <= end).length;
      const { p50, p99 } = percentiles(report.latencies);
      return { offered: sent / ((end - start) / 1000), completed: completed / ((end - start) / 1000), p50, p99, backlog, clear: cleared ? clear : NaN };
    } finally {
      await child.stop().catch(() => undefined);
      await producer.close();
      await db.drop();
    }
  },
};
