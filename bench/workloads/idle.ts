/**
 * Workload 7, idle cost: a cluster of 5 idle nodes of each system (one child process per system,
 * 5 instances each with its own pool) on an empty queue, all systems at once in separate
 * databases (idle nodes do not disturb each other's counts). Counts the statements the database
 * ran (pg_stat_statements, BEGIN/COMMIT included) and its commits (pg_stat_database.xact_commit,
 * which backends flush lazily, so approximate) over a window after a warm-up, per node and second.
 */
import { WorkerChild } from '../lib/child.js';
import { databaseCounters } from '../lib/server.js';
import { statementCalls } from '../lib/statements.js';
import { sleep } from '../lib/stats.js';
import type { Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Database, Workload } from '../lib/workload.js';
import { openProducer } from '../systems/index.js';

const NODES = 5;

/** Queries per second of idle nodes. */
export const idle: Workload = {
  name: 'idle',
  title: `Idle cost: ${NODES} idle nodes per system, statements and commits per second per node`,
  once: true,
  metrics: [
    { key: 'queries', label: 'statements/s per node', unit: 'q/s', better: 'lower' },
    { key: 'commits', label: 'commits/s per node', unit: 'tx/s', better: 'lower' },
  ],
  run(system: SystemName, ctx: BenchContext): Promise<Sample> {
    return this.runAll!([system], ctx).then((all) => all[system] ?? {});
  },
  async runAll(systems: SystemName[], ctx: BenchContext): Promise<Partial<Record<SystemName, Sample>>> {
    const windowMs = ctx.quick ? 5000 : 45_000;
    const started: Array<{ system: SystemName; db: Database; child: WorkerChild }> = [];
    try {
      for (const system of systems) {
        const db = await ctx.database(system);
        const producer = await openProducer(system, db.url); // installs the schema before the nodes start
        await producer.close();
        started.push({ system, db, child: await WorkerChild.start({ system, url: db.url, mode: 'idle', nodes: NODES, ...ctx.settings }) });
      }
      await sleep(ctx.quick ? 2000 : 5000); // start-up work (migrations, registration, first passes) is not idle cost
      const before = await Promise.all(started.map((s) => databaseCounters(ctx.server, s.db.name)));
      const callsBefore = await Promise.all(started.map((s) => statementCalls(ctx.server, s.db.name)));
      await sleep(windowMs);
      const after = await Promise.all(started.map((s) => databaseCounters(ctx.server, s.db.name)));
      const callsAfter = await Promise.all(started.map((s) => statementCalls(ctx.server, s.db.name)));
      started.forEach((s, i) => {
        const rates = [...callsAfter[i]!].map(([label, n]) => [label, (n - (callsBefore[i]!.get(label) ?? 0)) / (windowMs / 1000) / NODES] as const);
        const top = rates.filter(([, r]) => r > 0).sort((a, b) => b[1] - a[1]).slice(0, 6);
        if (top.length > 0) ctx.note(`${s.system}, statements/s per node: ${top.map(([label, r]) => `${label.slice(0, 60)} ${r.toFixed(2)}`).join('; ')}`);
      });
      const per = (a: number | null, b: number | null): number => (a === null || b === null ? NaN : (b - a) / (windowMs / 1000) / NODES);
      const result: Partial<Record<SystemName, Sample>> = {};
      started.forEach((s, i) => (result[s.system] = { queries: per(before[i]!.statements, after[i]!.statements), commits: per(before[i]!.commits, after[i]!.commits) }));
      return result;
    } finally {
      for (const s of started) {
        await s.child.stop().catch(() => undefined);
        await s.db.drop();
      }
    }
  },
};
