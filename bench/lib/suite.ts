/**
 * The benchmark suite: Kairos, graphile-worker and pg-boss on the same PostgreSQL (and, for cron,
 * pg_cron on a private server where its package is installed), in one run,
 * with the same workloads; prints medians, spreads and Kairos ÷ peer ratios, and writes
 * bench/results/. Started by bench/run.ts from its bundle (`npm run bench -- --quick`, see --help).
 * Not part of `npm test`.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, USAGE } from './args.js';
import { killChildren, nodeFor } from './child.js';
import { execFileSync } from 'node:child_process';
import { markdown, textTable, writeResults, type RunResult, type WorkloadResult } from './report.js';
import { startServer, type BenchServer } from './server.js';
import { stopPgCronServers } from './pgcron-server.js';
import { nowMs } from './stats.js';
import { COLUMNS, SYSTEMS, type ColumnName } from './types.js';
import type { BenchContext, Workload } from './workload.js';
import { drain } from '../workloads/drain.js';
import { enqueue } from '../workloads/enqueue.js';
import { latency } from '../workloads/latency.js';
import { mixed } from '../workloads/mixed.js';
import { cron } from '../workloads/cron.js';
import { scale } from '../workloads/scale.js';
import { idle } from '../workloads/idle.js';
import { memory } from '../workloads/memory.js';

/** The node version the peers' children run under (see nodeFor). */
function peerNodeVersion(): string {
  try {
    return execFileSync(nodeFor('graphile'), ['--version'], { encoding: 'utf8' }).trim();
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  }
}

/** Every workload, in the order they run. */
export const WORKLOADS: Workload[] = [drain, enqueue, latency, mixed, cron, scale, idle, memory];

const log = (line: string): void => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Systems in a different order each repetition, so no system always runs first or last. */
function rotate<T>(items: T[], by: number): T[] {
  const k = by % Math.max(1, items.length);
  return [...items.slice(k), ...items.slice(0, k)];
}

async function runWorkload(workload: Workload, server: BenchServer, base: Omit<BenchContext, 'rep' | 'note' | 'database'>, systems: ColumnName[], repeat: number): Promise<WorkloadResult> {
  const result: WorkloadResult = { name: workload.name, title: workload.title, metrics: workload.metrics, systems, samples: {}, notes: [] };
  const note = (text: string): void => void (result.notes.includes(text) || result.notes.push(text));
  let databases = 0;
  const context = (rep: number): BenchContext => ({
    ...base,
    rep,
    note,
    async database(system) {
      const name = `bench_${workload.name}_${system}_${rep}_${++databases}`;
      await server.createDatabase(name);
      return { name, url: server.urlFor(name), drop: () => server.dropDatabase(name) };
    },
  });
  await workload.prepare?.(context(0));
  const reps = workload.once ? 1 : repeat;
  const record = (system: ColumnName, sample: Record<string, number>): void => {
    const bySystem = (result.samples[system] ??= {});
    for (const [key, value] of Object.entries(sample)) (bySystem[key] ??= []).push(value);
  };
  for (let rep = 1; rep <= reps; rep++) {
    if (workload.runAll) {
      log(`${workload.name}: ${systems.join(', ')} at once${reps > 1 ? `, repetition ${rep}/${reps}` : ''}`);
      try {
        const samples = await workload.runAll(systems, context(rep));
        for (const system of systems) if (samples[system]) record(system, samples[system]);
      } catch (error) {
        log(`${workload.name} failed: ${(error as Error).stack ?? String(error)}`);
        note(`failed: ${(error as Error).message}`);
      }
      continue;
    }
    for (const system of rotate(systems, rep - 1)) {
      log(`${workload.name}: ${system}${reps > 1 ? `, repetition ${rep}/${reps}` : ''}`);
      try {
        record(system, await workload.run(system, context(rep)));
      } catch (error) {
        log(`${workload.name}: ${system} failed: ${(error as Error).stack ?? String(error)}`);
        note(`${system}: failed: ${(error as Error).message}`);
      }
    }
  }
  return result;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) return console.log(USAGE);
  const unknown = (args.only ?? []).filter((name) => !WORKLOADS.some((w) => w.name === name));
  if (unknown.length > 0) throw new Error(`unknown workload(s) ${unknown.join(', ')}; expected ${WORKLOADS.map((w) => w.name).join(', ')}`);
  const selected = WORKLOADS.filter((w) => !args.only || args.only.includes(w.name));
  const started = nowMs();
  const server = await startServer(log);
  const abort = (): void => {
    killChildren();
    void Promise.all([server.stop(), stopPgCronServers()]).finally(() => process.exit(130));
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  const settings = { concurrency: args.concurrency, batch: args.batch };
  log(`${args.quick ? 'quick' : 'full'} run, ${args.repeat} repetition(s), concurrency ${settings.concurrency}, batch ${settings.batch}, PostgreSQL ${server.version}`);
  const run: RunResult = {
    date: new Date().toISOString(),
    quick: args.quick,
    repeat: args.repeat,
    settings,
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', memoryGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, peerNode: peerNodeVersion(), postgres: `${server.version} (${server.kind})`, loadavg: os.loadavg()[0]!.toFixed(2) },
    durationS: 0,
    workloads: [],
  };
  try {
    for (const workload of selected) {
      const measurable: readonly ColumnName[] = workload.systems ?? SYSTEMS;
      const systems = COLUMNS.filter((s) => args.systems.includes(s) && measurable.includes(s));
      if (systems.length === 0) continue;
      const result = await runWorkload(workload, server, { quick: args.quick, server, settings, log }, systems, args.repeat);
      run.workloads.push(result);
      console.log(textTable(result));
    }
  } finally {
    await server.stop();
  }
  run.durationS = (nowMs() - started) / 1000;
  run.machine.loadavgEnd = os.loadavg()[0]!.toFixed(2);
  const files = writeResults(run, fileURLToPath(new URL('../results', import.meta.url)));
  console.log(`\n${markdown(run).split('\n').slice(0, 4).join('\n')}`);
  log(`done in ${run.durationS.toFixed(0)} s; results in ${files.join(', ')}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  killChildren();
  process.exit(1);
});
