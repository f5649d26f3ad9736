/**
 * Where Kairos spends its time on the hot path (not part of `npm test` nor of bench/run.ts):
 *  1. a drain of N jobs by Kairos and by graphile-worker, each worker under `node --cpu-prof`,
 *     with pg_stat_statements per statement and CPU per job of the worker and of PostgreSQL;
 *  2. EXPLAIN (ANALYZE, BUFFERS) of claimRuns, completeRuns, failRuns, insertRuns and
 *     lockDueJobs with a realistic backlog;
 *  3. the SQL ceiling: the same statements without the engine, from Node and from pgbench.
 * Run: npx tsx bench/profile.ts [--jobs 50000] [--concurrency 50] [--only drain,explain,ceiling,latency,ticker].
 * Writes bench/results/profile-latest.md
 * and the .cpuprofile files (open them in Chrome DevTools).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { summariseProfile } from './lib/cpuprofile.js';
import { processCpuMs, serverCpuMs } from './lib/cpu.js';
import { WorkerChild } from './lib/child.js';
import pg from 'pg';
import { findPgbench, nodeCeiling, pgbenchCeiling } from './lib/ceiling.js';
import { explainHotPath } from './lib/explain-hot.js';
import { latencySteps, roundTrips } from './lib/roundtrips.js';
import { tickerBreakdown } from './lib/ticker-hot.js';
import { startServer, type BenchServer } from './lib/server.js';
import { nowMs, waitFor } from './lib/stats.js';
import { resetStatements, topStatements } from './lib/statements.js';
import type { SystemName } from './lib/types.js';
import { enqueueAll, openProducer } from './systems/index.js';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const out: string[] = [];
const print = (line = ''): void => {
  console.log(line);
  out.push(line);
};
const log = (line: string): void => console.error(`[profile] ${line}`);
const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Milliseconds of samples that were not idle. */
function busy(summary: ReturnType<typeof summariseProfile>): number {
  return summary.total - (summary.areas.find((a) => a.name.startsWith('idle'))?.ms ?? 0);
}

async function profiledDrain(server: BenchServer, system: SystemName, jobs: number, concurrency: number, setup?: { label: string; sql: string }): Promise<void> {
  const name = `profile_${system}`;
  await server.createDatabase(name);
  const url = server.urlFor(name);
  const producer = await openProducer(system, url);
  await enqueueAll(producer, jobs, 1000);
  if (setup) await withClient(url, (c) => c.query(setup.sql));
  await withClient(url, (c) => c.query('VACUUM ANALYZE'));
  await resetStatements(server);
  // One directory per system: node writes a profile per thread (the tsx loader has its own).
  const dir = `${RESULTS}profiles/${system}${setup ? '-whatif' : ''}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const child = await WorkerChild.start({ system, url, mode: 'drain', expect: jobs, concurrency, batch: 500 }, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`], source: true });
  const [w0, d0] = [processCpuMs(child.pid), serverCpuMs(server.postmasterPid)];
  const handled = await child.next('handled', 600_000);
  await waitFor(async () => (await producer.remaining()) === 0, 120_000, 10);
  const end = nowMs();
  const [w1, d1] = [processCpuMs(child.pid), serverCpuMs(server.postmasterPid)];
  await child.stop();
  const seconds = (end - handled.first) / 1000;
  print(`\n### ${system}${setup ? ` with ${setup.label}` : ''}: ${jobs} jobs in ${fmt(seconds, 2)} s = ${fmt(jobs / seconds, 0)} jobs/s (concurrency ${concurrency})`);
  print(`\nCPU per job: worker ${fmt(((w1 - w0) * 1000) / jobs)} µs, PostgreSQL ${fmt(((d1 - d0) * 1000) / jobs)} µs (2 cores: ${fmt((2 * seconds * 1e6) / jobs)} µs of CPU per job were available).`);
  const statements = await topStatements(server, name, 10);
  if (statements.length > 0) {
    print('\n| statement | calls | rows/call | total ms | mean ms | µs per job | blocks per job | WAL bytes per job |\n|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of statements) {
      print(`| \`${s.name.replace(/\|/g, '\\|')}\` | ${s.calls} | ${fmt(s.rows / Math.max(1, s.calls))} | ${fmt(s.totalMs, 0)} | ${fmt(s.meanMs, 2)} | ${fmt((s.totalMs * 1000) / jobs)} | ${fmt(s.blocks / jobs)} | ${fmt(s.walBytes / jobs, 0)} |`);
    }
  }
  const busiest = readdirSync(dir)
    .map((file) => ({ file, summary: summariseProfile(`${dir}/${file}`, handled.first, end) }))
    .sort((a, b) => busy(b.summary) - busy(a.summary))[0];
  if (busiest) {
    const { file, summary } = busiest;
    print(`\nWorker CPU profile during the drain (main thread, ${fmt(summary.total, 0)} ms of samples; bench/results/profiles/${dir.split('/').pop()}/${file}):\n`);
    print('| area | ms | share |\n|---|---:|---:|');
    for (const a of summary.areas.slice(0, 9)) print(`| ${a.name} | ${fmt(a.ms, 0)} | ${fmt(a.share * 100)} % |`);
    print('\n| function (self time) | ms | share |\n|---|---:|---:|');
    for (const f of summary.functions.slice(0, 18)) print(`| \`${f.name}\` | ${fmt(f.ms, 0)} | ${fmt(f.share * 100)} % |`);
  }
  await producer.close();
  await server.dropDatabase(name);
}

/** Run `fn` with a connected client. */
async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function ceilings(server: BenchServer, jobs: number): Promise<void> {
  print('\n## The SQL ceiling: claimRuns + completeRuns without the engine, and what-ifs\n');
  print(`${jobs} pending runs, drained with Kairos's own claim and completion statements (no engine, no handler), durable as always; the what-if changes one thing.\n`);
  const pgbench = findPgbench();
  type Case = [string, (url: string) => Promise<number | string>, string?];
  const cases: Case[] = [
    ['Node (pg), one connection: claim 500, then complete them', (url) => nodeCeiling(url, 500, 'serial')],
    ['Node (pg), a claimer and a completer in parallel, 500 per claim (the engine\'s shape)', (url) => nodeCeiling(url, 500, 'parallel')],
    ['Node (pg), the same with pg 8.23 pipelining on both connections, 2 claims and 2 completions in flight', (url) => nodeCeiling(url, 500, 'pipelined')],
  ];
  if (pgbench) {
    cases.push(['pgbench (C client), 1 client: claim 500, then complete them', (url) => pgbenchCeiling(pgbench, url, jobs, 500, 1)]);
    cases.push(['pgbench, 2 clients (both cores), 500', (url) => pgbenchCeiling(pgbench, url, jobs, 500, 2)]);
    cases.push(['pgbench, 2 clients, 500 — what-if: job_logs without its 3 indexes', (url) => pgbenchCeiling(pgbench, url, jobs, 500, 2),
      'DROP INDEX kairos.job_logs_run, kairos.job_logs_job, kairos.job_logs_finished']);
    // What the history costs: a BEFORE trigger drops every job_logs row (the statements stay as they are).
    cases.push(['pgbench, 2 clients, 500 — what-if: no history row kept (not an option: for scale only)', (url) => pgbenchCeiling(pgbench, url, jobs, 500, 2),
      `CREATE FUNCTION kairos.drop_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
       CREATE TRIGGER drop_row BEFORE INSERT ON kairos.job_logs FOR EACH ROW EXECUTE FUNCTION kairos.drop_row()`]);
  } else {
    print('pgbench: not installed on this machine.\n');
  }
  // Two rounds, the second in reverse order, so that a burst of other load shows as disagreement.
  const results = new Map<string, string[]>();
  for (const round of [cases, [...cases].reverse()]) for (const [label, run, setup] of round) {
    const name = 'profile_ceiling';
    await server.createDatabase(name);
    const url = server.urlFor(name);
    const producer = await openProducer('kairos', url);
    await enqueueAll(producer, jobs, 1000);
    await withClient(url, async (c) => {
      if (setup) await c.query(setup);
      await c.query('VACUUM ANALYZE');
    });
    const result = await run(url);
    const left = await producer.remaining();
    results.set(label, [...(results.get(label) ?? []), `${typeof result === 'number' ? fmt(result, 0) : result}${left > 0 ? ` (${left} left!)` : ''}`]);
    await producer.close();
    await server.dropDatabase(name);
  }
  print('| client | jobs/s, round 1 | round 2 (reverse order) |\n|---|---:|---:|');
  for (const [label] of cases) print(`| ${label} | ${(results.get(label) ?? []).join(' | ')} |`);
}

/** The parts of the profile, in order; `--only drain,ceiling` runs some. */
const PARTS = ['drain', 'explain', 'ceiling', 'latency', 'ticker'] as const;

function parts(): Set<string> {
  const i = process.argv.indexOf('--only');
  if (i < 0) return new Set(PARTS);
  const chosen = (process.argv[i + 1] ?? '').split(',').filter(Boolean);
  const unknown = chosen.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (chosen.length === 0 || unknown.length > 0) throw new Error(`--only takes parts among ${PARTS.join(', ')}; got ${process.argv[i + 1] ?? 'nothing'}`);
  return new Set(chosen);
}

async function main(): Promise<void> {
  const jobs = flag('--jobs', 50_000);
  const concurrency = flag('--concurrency', 50);
  const run = parts();
  const server = await startServer(log);
  try {
    print(`# Kairos hot-path profile — ${new Date().toISOString()}\n`);
    print(`PostgreSQL ${server.version} (${server.kind}), node ${process.version}; ${jobs} no-op jobs. Other work on this 2-core machine makes every figure noisy.`);
    if (run.has('drain')) {
      print('\n## Drain: worker CPU profile and statements\n');
      for (const system of ['kairos', 'graphile'] as const) await profiledDrain(server, system, jobs, concurrency);
    }
    if (run.has('explain')) {
      print('\n## EXPLAIN (ANALYZE, BUFFERS) with a backlog\n');
      print(await explainHotPath(server, jobs));
    }
    if (run.has('ceiling')) await ceilings(server, jobs);
    if (run.has('latency')) {
      print('\n## Latency: round trips and the steps of one job\n');
      await server.createDatabase('profile_latency');
      print(await roundTrips(server.urlFor('profile_latency')));
      print('');
      print(await latencySteps(server.urlFor('profile_latency')));
      await server.dropDatabase('profile_latency');
    }
    if (run.has('ticker')) {
      print('\n## Ticker: one pass with 100 cron schedules due\n');
      await server.createDatabase('profile_ticker');
      print(await tickerBreakdown(server.urlFor('profile_ticker')));
      await server.dropDatabase('profile_ticker');
    }
  } finally {
    await server.stop();
  }
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(`${RESULTS}profile-latest.md`, `${out.join('\n')}\n`);
  log(`written to ${RESULTS}profile-latest.md`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
