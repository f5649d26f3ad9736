/**
 * Workload 1, drain throughput: N no-op jobs are queued before the worker process starts; the
 * clock runs from the first handler call to the moment the database shows every job finished
 * (completions recorded, not just handled). Also reports the CPU time per job of the worker
 * process and of the PostgreSQL server (all its processes; embedded server only), from /proc.
 * Kairos drains twice per repetition: tuned like the peers (the `rate` row) and with every option
 * at its default (the `defaults` rows, compared with the peers' tuned drain), in alternating order.
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
    { key: 'defaultRate', label: 'drain, Kairos defaults (concurrency 10) vs peers tuned', unit: 'jobs/s', better: 'higher', versus: 'rate' },
    { key: 'defaultShare', label: 'Kairos defaults ÷ Kairos tuned, same repetition', unit: '%', better: 'info' },
    { key: 'seconds', label: 'drain time', unit: 's', better: 'lower' },
    { key: 'workerCpu', label: 'worker CPU per job', unit: 'µs', better: 'lower' },
    { key: 'dbCpu', label: 'PostgreSQL CPU per job', unit: 'µs', better: 'lower' },
  ],
  async run(system: SystemName, ctx: BenchContext): Promise<Sample> {
    if (system !== 'kairos') return drainOnce(system, ctx, false);
    // Alternate which of the two goes first, so neither always gets the fresher machine.
    const defaultsFirst = ctx.rep % 2 === 0;
    const first = await drainOnce(system, ctx, defaultsFirst);
    const second = await drainOnce(system, ctx, !defaultsFirst);
    const [tuned, defaults] = defaultsFirst ? [second, first] : [first, second];
    return { ...tuned, defaultRate: defaults.rate!, defaultShare: (100 * defaults.rate!) / tuned.rate! };
  },
};

async function drainOnce(system: SystemName, ctx: BenchContext, defaults: boolean): Promise<Sample> {
  const n = ctx.quick ? 4000 : 50_000;
  const db = await ctx.database(system);
  const producer = await openProducer(system, db.url);
  try {
    await enqueueAll(producer, n, 1000);
    const child = await WorkerChild.start({ system, url: db.url, mode: 'drain', expect: n, ...ctx.settings, defaults });
    try {
      // The queue is full before the worker starts, so it begins at once; CPU is counted from here.
      const [worker0, db0] = [processCpuMs(child.pid), serverCpuMs(ctx.server.postmasterPid)];
      const handled = await child.next('handled', 900_000);
      const done = await waitFor(async () => (await producer.remaining()) === 0, 120_000, 10);
      const end = nowMs();
      const [worker1, db1] = [processCpuMs(child.pid), serverCpuMs(ctx.server.postmasterPid)];
      if (!done) throw new Error(`${system}: ${await producer.remaining()} jobs still not recorded as finished`);
      const seconds = (end - handled.first) / 1000;
      ctx.log(`${system}${defaults ? ' (defaults)' : ''}: ${n} jobs in ${seconds.toFixed(2)} s`);
      return { rate: n / seconds, seconds, workerCpu: ((worker1 - worker0) * 1000) / n, dbCpu: ((db1 - db0) * 1000) / n };
    } finally {
      await child.stop();
    }
  } finally {
    await producer.close();
    await db.drop();
  }
}
