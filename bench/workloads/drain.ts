/**
 * Workload 1, drain throughput: N no-op jobs are queued before the worker process starts; the
 * clock runs from the first handler call to the moment the database shows every job finished
 * (completions recorded, not just handled). Also reports the CPU time per job of the worker
 * process and of the PostgreSQL server (all its processes; embedded server only), from /proc.
 */
import { WorkerChild } from '../lib/child.js';
import { processCpuMs, serverCpuMs } from '../lib/cpu.js';
import { nowMs, waitFor } from '../lib/stats.js';
import type { Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Workload } from '../lib/workload.js';
import { enqueueAll, openProducer } from '../systems/index.js';

/** Drain throughput of one worker process. */
export const drain: Workload = {
  name: 'drain',
  title: 'Drain throughput: pre-queued no-op jobs, one worker process',
  metrics: [
    { key: 'rate', label: 'drain', unit: 'jobs/s', better: 'higher' },
    { key: 'seconds', label: 'drain time', unit: 's', better: 'lower' },
    { key: 'workerCpu', label: 'worker CPU per job', unit: 'µs', better: 'lower' },
    { key: 'dbCpu', label: 'PostgreSQL CPU per job', unit: 'µs', better: 'lower' },
  ],
  async run(system: SystemName, ctx: BenchContext): Promise<Sample> {
    const n = ctx.quick ? 4000 : 50_000;
    const db = await ctx.database(system);
    const producer = await openProducer(system, db.url);
    try {
      await enqueueAll(producer, n, 1000);
      const child = await WorkerChild.start({ system, url: db.url, mode: 'drain', expect: n, ...ctx.settings });
      try {
        // The queue is full before the worker starts, so it begins at once; CPU is counted from here.
        const [worker0, db0] = [processCpuMs(child.pid), serverCpuMs(ctx.server.postmasterPid)];
        const handled = await child.next('handled', 900_000);
        const done = await waitFor(async () => (await producer.remaining()) === 0, 120_000, 10);
        const end = nowMs();
        const [worker1, db1] = [processCpuMs(child.pid), serverCpuMs(ctx.server.postmasterPid)];
        if (!done) throw new Error(`${system}: ${await producer.remaining()} jobs still not recorded as finished`);
        const seconds = (end - handled.first) / 1000;
        ctx.log(`${system}: ${n} jobs in ${seconds.toFixed(2)} s`);
        return { rate: n / seconds, seconds, workerCpu: ((worker1 - worker0) * 1000) / n, dbCpu: ((db1 - db0) * 1000) / n };
      } finally {
        await child.stop();
      }
    } finally {
      await producer.close();
      await db.drop();
    }
  },
};
