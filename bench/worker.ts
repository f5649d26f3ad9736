/**
 * A worker child: runs one system's worker node(s) with the shared handler and reports to the
 * driver over IPC. Throughput is measured here, away from the driver's own CPU use.
 * Configured by the BENCH_WORKER environment variable (a WorkerConfig as JSON).
 */
import { nowMs, wallMs } from './lib/stats.js';
import type { ChildMessage, ChildReport } from './lib/child.js';
import type { Handler, JobInfo, RunningWorker, SystemName, WorkerConfig } from './lib/types.js';

const systems: Record<SystemName, () => Promise<{ startWorker(config: WorkerConfig, handler: Handler): Promise<RunningWorker> }>> = {
  kairos: () => import('./systems/kairos.js'),
  graphile: () => import('./systems/graphile.js'),
  pgboss: () => import('./systems/pgboss.js'),
};

const config = JSON.parse(process.env.BENCH_WORKER ?? '{}') as WorkerConfig;
const send = (message: ChildMessage): void => void process.send?.(message);

const report: ChildReport = { handled: 0, first: NaN, latencies: [], completions: [], fires: [] };

/** Called by every adapter for every attempt; the mode decides what is recorded. */
const handler: Handler = (job: JobInfo) => {
  const now = nowMs();
  report.handled++;
  if (Number.isNaN(report.first)) report.first = now;
  switch (config.mode) {
    case 'drain':
      if (report.handled === config.expect) send({ type: 'handled', first: report.first, at: now });
      return;
    case 'latency':
      send({ type: 'latency', ms: now - (job.payload.t ?? now) });
      return;
    case 'mixed':
      if (job.attempt === 1) report.latencies.push(now - (job.payload.t ?? now));
      if (job.payload.fail && job.attempt === 1) throw new Error('planned failure');
      report.completions.push(now);
      return;
    case 'cron':
      report.fires.push([job.name ?? '?', job.scheduledAt ?? NaN, wallMs()]);
      return;
    default:
      return;
  }
};

async function main(): Promise<void> {
  const workers: RunningWorker[] = [];
  if (config.mode !== 'none') {
    const { startWorker } = await systems[config.system]();
    for (let i = 0; i < (config.nodes ?? 1); i++) workers.push(await startWorker(config, handler));
  }
  process.on('message', (message: { type: string }) => {
    if (message.type !== 'stop') return;
    void Promise.all(workers.map((w) => w.stop()))
      .catch((error: unknown) => console.error('[bench worker] stop failed:', error))
      .finally(() => process.send?.({ type: 'report', report } satisfies ChildMessage, () => process.exit(0)));
  });
  send({ type: 'ready' });
}

main().catch((error: unknown) => {
  console.error('[bench worker] failed to start:', error);
  process.exit(1);
});
