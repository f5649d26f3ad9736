/**
 * Workload 2, enqueue throughput from the driver (the client side is part of the cost): batches
 * of 1000 jobs per call, single jobs from one caller, and single jobs from 8 concurrent callers
 * (where group commit helps). No worker runs.
 */
import { mapLimit, nowMs } from '../lib/stats.js';
import type { Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Workload } from '../lib/workload.js';
import { enqueueAll, openProducer } from '../systems/index.js';

/** Enqueue throughput. */
export const enqueue: Workload = {
  name: 'enqueue',
  title: 'Enqueue throughput (driver process, no worker)',
  metrics: [
    { key: 'batch', label: 'batch of 1000', unit: 'jobs/s', better: 'higher' },
    { key: 'single', label: 'single, 1 caller', unit: 'jobs/s', better: 'higher' },
    { key: 'single8', label: 'single, 8 callers', unit: 'jobs/s', better: 'higher' },
  ],
  async run(system: SystemName, ctx: BenchContext): Promise<Sample> {
    const batchJobs = ctx.quick ? 10_000 : 50_000;
    const singleJobs = ctx.quick ? 300 : 2000;
    const db = await ctx.database(system);
    const producer = await openProducer(system, db.url);
    try {
      await producer.enqueueOne({}); // warm the pool and the statement caches
      let start = nowMs();
      await enqueueAll(producer, batchJobs, 1000);
      const batch = batchJobs / ((nowMs() - start) / 1000);
      start = nowMs();
      for (let i = 0; i < singleJobs; i++) await producer.enqueueOne({});
      const single = singleJobs / ((nowMs() - start) / 1000);
      const parallel = Array.from({ length: singleJobs * 2 }, () => ({}));
      start = nowMs();
      await mapLimit(parallel, 8, (payload) => producer.enqueueOne(payload));
      const single8 = parallel.length / ((nowMs() - start) / 1000);
      return { batch, single, single8 };
    } finally {
      await producer.close();
      await db.drop();
    }
  },
};
