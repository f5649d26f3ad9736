/**
 * Workload 8, memory: resident memory of one worker node in its own process, read from
 * /proc/<pid>/status: VmRSS after 3 s idle, and the peak (VmHWM) while it drains a backlog that
 * the driver enqueues in batches. A bare child (node + the tsx loader, no system) is measured
 * once for reference: every figure includes that baseline.
 */
import { WorkerChild } from '../lib/child.js';
import { sleep, waitFor } from '../lib/stats.js';
import type { Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Workload } from '../lib/workload.js';
import { enqueueAll, openProducer } from '../systems/index.js';

/** RSS of an idle node and of a draining node. */
export const memory: Workload = {
  name: 'memory',
  title: 'Memory: RSS of one worker process, idle and draining a backlog',
  once: true,
  metrics: [
    { key: 'idle', label: 'RSS idle', unit: 'MB', better: 'lower' },
    { key: 'peak', label: 'peak RSS draining', unit: 'MB', better: 'lower' },
  ],
  async prepare(ctx: BenchContext): Promise<void> {
    const bare = await WorkerChild.start({ system: 'kairos', url: '', mode: 'none', ...ctx.settings });
    await sleep(2000);
    const { rssMb } = bare.memory();
    await bare.stop();
    ctx.note(`a bare worker child (node ${process.version}, the bundled bench worker, no system loaded) has an RSS of ${rssMb.toFixed(0)} MB; every figure includes it.`);
  },
  async run(system: SystemName, ctx: BenchContext): Promise<Sample> {
    const backlog = ctx.quick ? 2000 : 20_000;
    const db = await ctx.database(system);
    const producer = await openProducer(system, db.url);
    const child = await WorkerChild.start({ system, url: db.url, mode: 'drain', expect: backlog, ...ctx.settings });
    try {
      await sleep(ctx.quick ? 1500 : 3000);
      const idleMb = child.memory().rssMb;
      const handled = child.next('handled', 600_000);
      await enqueueAll(producer, backlog, 1000);
      await handled;
      await waitFor(async () => (await producer.remaining()) === 0, 60_000, 50);
      return { idle: idleMb, peak: child.memory().peakMb };
    } finally {
      await child.stop().catch(() => undefined);
      await producer.close();
      await db.drop();
    }
  },
};
