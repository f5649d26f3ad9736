/**
 * Workload 3, latency: one job at a time is enqueued to an idle worker; the handler measures the
 * time since the enqueue call began (CLOCK_MONOTONIC is shared by the processes). A random pause
 * of 10–20 ms between samples keeps the samples from locking step with a poller. Samples stop at
 * the count or the time budget, whichever comes first (pg-boss polls every 0.5 s). Kairos is also
 * sampled with every option at its default (the `defaults` rows).
 */
import { WorkerChild } from '../lib/child.js';
import { nowMs, percentiles, sleep } from '../lib/stats.js';
import type { Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Workload } from '../lib/workload.js';
import { openProducer } from '../systems/index.js';

/** Enqueue → handler start latency with an idle worker. */
export const latency: Workload = {
  name: 'latency',
  title: 'Latency: enqueue → handler start, idle worker, sequential',
  metrics: [
    { key: 'p50', label: 'p50', unit: 'ms', better: 'lower' },
    { key: 'p95', label: 'p95', unit: 'ms', better: 'lower' },
    { key: 'p99', label: 'p99', unit: 'ms', better: 'lower' },
    { key: 'max', label: 'max', unit: 'ms', better: 'lower' },
    { key: 'n', label: 'samples', unit: '', better: 'info' },
    { key: 'defaultP50', label: 'p50, Kairos defaults vs peers', unit: 'ms', better: 'lower', versus: 'p50' },
    { key: 'defaultP99', label: 'p99, Kairos defaults vs peers', unit: 'ms', better: 'lower', versus: 'p99' },
  ],
  async run(system: SystemName, ctx: BenchContext): Promise<Sample> {
    const tuned = await sampleLatency(system, ctx, false);
    if (system !== 'kairos') return tuned;
    const defaults = await sampleLatency(system, ctx, true);
    return { ...tuned, defaultP50: defaults.p50!, defaultP99: defaults.p99! };
  },
};

/** Lone enqueues to an idle worker (Kairos: tuned like the peers, or with every option at its default). */
async function sampleLatency(system: SystemName, ctx: BenchContext, defaults: boolean): Promise<Sample> {
  const wanted = ctx.quick ? 100 : 500;
  const budgetMs = ctx.quick ? 3000 : 20_000;
  const db = await ctx.database(system);
  const producer = await openProducer(system, db.url);
  const child = await WorkerChild.start({ system, url: db.url, mode: 'latency', ...ctx.settings, defaults });
  try {
    await sleep(ctx.quick ? 300 : 1000);
    const samples: number[] = [];
    const deadline = nowMs() + budgetMs;
    for (let i = 0; i < wanted + 5 && nowMs() < deadline; i++) {
      const seen = child.next('latency', 10_000);
      await producer.enqueueOne({ t: nowMs() });
      const { ms } = await seen;
      if (i >= 5) samples.push(ms); // the first few warm caches and connections
      await sleep(10 + Math.random() * 10);
    }
    if (samples.length < wanted) ctx.note(`${system}: ${samples.length} latency samples within the ${budgetMs / 1000} s budget`);
    return { ...percentiles(samples), n: samples.length };
  } finally {
    await child.stop();
    await producer.close();
    await db.drop();
  }
}
