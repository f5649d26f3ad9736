/**
 * `npm run chaos`: the fault-injection suite in its long form (docs/guarantees.md). Runs the seven
 * scenarios of test/chaos/ with long durations and a million-run backlog against a real
 * PostgreSQL — the server in DATABASE_URL when set, otherwise an embedded one started here and
 * removed after (scenario 3 restarts a server of its own either way) — and prints a summary table.
 *
 *   npm run chaos                        # ~3 min of random kills, 1 000 000 jobs
 *   npm run chaos -- --minutes 30        # soak: 30 min of random kills (scenario 3: a third of it)
 *   npm run chaos -- --only 2,6 --jobs 200000
 *
 * Exits 1 if any scenario lost, doubled or left stuck anything, or failed.
 */
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/embedded/postgres.js';
import { long, type ChaosParams } from '../test/chaos/params.js';
import type { ScenarioReport } from '../test/chaos/harness.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '1000000' },
    only: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const jobs = Number(values.jobs);
if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`Expected --minutes to be a positive number, got ${values.minutes}`);
if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`Expected --jobs to be a positive integer, got ${values.jobs}`);
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;
process.env.KAIROS_CHAOS = 'long';

let server: EmbeddedPostgres | undefined;
if (!process.env.DATABASE_URL) {
  server = await startEmbeddedPostgres({ dataDir: `.kairos/chaos-main-pg-${process.pid}`, settings: { max_connections: '400', shared_buffers: '256MB' } });
  process.env.DATABASE_URL = server.url;
  console.log(`chaos: embedded PostgreSQL on port ${server.port} (set DATABASE_URL to use another server)`);
}

// Imported after DATABASE_URL is set: the scenarios read it.
const { killMidRun, clockSkew, longShutdown } = await import('../test/chaos/faults.js');
const { randomKills, databaseFaults, backPressure } = await import('../test/chaos/load.js');
const { handoffKills } = await import('../test/chaos/handoff.js');
const params: ChaosParams = long(minutes, jobs);
const scenarios: Array<[string, () => Promise<ScenarioReport>]> = [
  ['1', () => killMidRun()],
  ['2', () => randomKills(params.randomKills)],
  ['3', () => databaseFaults(params.databaseFaults)],
  ['4', () => clockSkew(params.clockSkew)],
  ['5', () => longShutdown(params.longShutdown)],
  ['6', () => backPressure(params.backPressure)],
  ['7', () => handoffKills(params.handoffKills)],
];

const reports: ScenarioReport[] = [];
let failed = false;
for (const [id, run] of scenarios) {
  if (only && !only.has(id)) continue;
  const started = Date.now();
  console.log(`chaos: scenario ${id} …`);
  try {
    const r = await run();
    reports.push(r);
    console.log(`chaos: scenario ${id} done in ${Math.round((Date.now() - started) / 1000)} s`);
    for (const note of r.notes) console.log(`  ${note}`);
    if (r.lost + r.duplicates + r.stuck + (r.invariants.detail.nodes_died ?? 0) > 0) {
      failed = true;
      console.log(`  VIOLATION ${JSON.stringify(r.invariants.detail)}`);
    }
  } catch (error) {
    failed = true;
    console.log(`chaos: scenario ${id} FAILED: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const columns = ['scenario', 'occurrences', 'executions', 'kills', 'restarts', 'rescued', 'duplicates', 'lost', 'stuck', 'max RSS MiB'] as const;
const rows = reports.map((r) => [r.scenario, r.occurrences, r.executions, r.kills, r.restarts, r.rescued, r.duplicates, r.lost, r.stuck, r.maxRssMb || '-'].map(String));
const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
console.log(`\nchaos summary (--minutes ${minutes}, --jobs ${jobs})`);
console.log(line(columns));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));

await server?.stop({ remove: true });
process.exit(failed ? 1 : 0);
