/**
 * Workload 5, cron accuracy: 100 schedules. Kairos fires every second (`* * * * * *`) for the
 * whole window; graphile-worker and pg-boss only know minute-level cron, so in full mode they get
 * 100 `* * * * *` schedules and one minute boundary (quick mode skips them). pg_cron, also
 * minute-level, runs on a private server of its own (bench/lib/pgcron-server.ts) where the
 * `postgresql-<major>-cron` package is installed: 100 `* * * * *` jobs and two minute boundaries,
 * full mode only. Lateness is handler start (pg_cron: the job's `clock_timestamp()`) minus due
 * time; missed and duplicated occurrences are counted from Kairos's own tables (job_logs,
 * occurrences), for graphile-worker and pg-boss from the handler calls, for pg_cron from the rows
 * its jobs inserted.
 */
import { execFileSync } from 'node:child_process';
import { WorkerChild, type ChildReport } from '../lib/child.js';
import { findPgCron, installedMajors, startPgCronServer, type PgCronInstall } from '../lib/pgcron-server.js';
import { percentiles, sleep, waitFor, wallMs } from '../lib/stats.js';
import type { ColumnName, Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Workload } from '../lib/workload.js';
import { cronTables } from '../systems/kairos.js';

const SCHEDULES = 100;
/** Minute boundaries pg_cron is measured over. */
const PG_CRON_MINUTES = 2;

/** Why pg_cron cannot be measured here, with the package that would change that. */
function pgCronAbsence(): string {
  const majors = installedMajors();
  if (majors.length === 0) return 'no PostgreSQL server is installed under /usr/lib/postgresql (`apt-get install postgresql-<major> postgresql-<major>-cron` enables the pg_cron column)';
  const reasons = majors.map((major) => {
    let apt = '';
    try {
      const policy = execFileSync('apt-cache', ['policy', `postgresql-${major}-cron`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const candidate = /Candidate:\s*(\S+)/.exec(policy)?.[1];
      apt = candidate && candidate !== '(none)' ? ` (apt candidate ${candidate}, not installed)` : '';
    } catch {
      apt = '';
    }
    return `the installed PostgreSQL ${major} server has no pg_cron${apt}`;
  });
  return `${reasons.join('; ')}; \`apt-get install postgresql-${majors[majors.length - 1]}-cron\` enables the pg_cron column`;
}

function lateness(report: ChildReport, from: number, to: number): { late: number[]; distinct: number; duplicated: number } {
  const inWindow = report.fires.filter(([, due]) => due >= from && due < to);
  const keys = new Set(inWindow.map(([name, due]) => `${name}@${due}`));
  return { late: inWindow.map(([, due, start]) => start - due), distinct: keys.size, duplicated: inWindow.length - keys.size };
}

/** Cron lateness, missed and duplicated occurrences. */
export const cron: Workload = {
  name: 'cron',
  title: 'Cron accuracy: 100 schedules (Kairos every second; peers every minute, full mode only)',
  once: true,
  metrics: [
    { key: 'p50', label: 'lateness p50', unit: 'ms', better: 'lower' },
    { key: 'p99', label: 'lateness p99', unit: 'ms', better: 'lower' },
    { key: 'max', label: 'lateness max', unit: 'ms', better: 'lower' },
    { key: 'expected', label: 'occurrences due', unit: '', better: 'info' },
    { key: 'missed', label: 'missed', unit: '', better: 'lower' },
    { key: 'duplicated', label: 'duplicated', unit: '', better: 'lower' },
  ],
  systems: ['kairos', 'graphile', 'pgboss', 'pgcron'],
  async prepare(ctx: BenchContext): Promise<void> {
    ctx.note('Kairos fires 100 schedules every second; graphile-worker and pg-boss support minute-level cron only, so they fire 100 schedules at one minute boundary (full mode); their ratios compare unlike cadences.');
  },
  async run(system: ColumnName, ctx: BenchContext): Promise<Sample> {
    if (system === 'pgcron') {
      const install = findPgCron();
      if (!install) ctx.note(`pg_cron: not available on this machine: ${pgCronAbsence()}.`);
      else if (ctx.quick) ctx.note('pg_cron: minute-level cron only: measured in full mode.');
      return install && !ctx.quick ? measurePgCron(install, ctx) : {};
    }
    return measureSystem(system, ctx);
  },
};

/** Kairos, graphile-worker or pg-boss: a worker child with 100 schedules. */
async function measureSystem(system: SystemName, ctx: BenchContext): Promise<Sample> {
  if (system !== 'kairos' && ctx.quick) {
    ctx.note(`${system}: minute-level cron only: measured in full mode.`);
    return {};
  }
  const db = await ctx.database(system);
  const child = await WorkerChild.start({ system, url: db.url, mode: 'cron', schedules: SCHEDULES, ...ctx.settings });
  try {
    await sleep(ctx.quick ? 1000 : 2000);
    let from: number;
    let to: number;
    if (system === 'kairos') {
      from = Math.ceil(wallMs() / 1000) * 1000;
      to = from + (ctx.quick ? 5000 : 60_000);
    } else {
      from = Math.ceil(wallMs() / 60_000) * 60_000;
      to = from + 1;
    }
    const graceMs = system === 'kairos' ? 1500 : 15_000;
    ctx.log(`${system}: measuring fires due in [${new Date(from).toISOString()}, ${new Date(to).toISOString()})`);
    await sleep(to - wallMs() + graceMs);
    const report = await child.stop();
    const expected = system === 'kairos' ? (SCHEDULES * (to - from)) / 1000 : SCHEDULES;
    const { late, distinct, duplicated } = lateness(report, from, to);
    const { p50, p99, max } = percentiles(late);
    if (system !== 'kairos') return { p50, p99, max, expected, missed: expected - distinct, duplicated };
    const fromDb = await cronTables.fires(db.url, new Date(from), new Date(to));
    if (fromDb.ran !== distinct || fromDb.duplicated !== duplicated) {
      ctx.note(`kairos: handler saw ${distinct} distinct fires (${duplicated} repeats), job_logs ${fromDb.ran} (${fromDb.duplicated} repeats)`);
    }
    if (fromDb.skipped > 0) ctx.note(`kairos: ${fromDb.skipped} occurrences skipped by the overlap policy`);
    const steps = await cronTables.steps(db.url, new Date(from), new Date(to));
    const f = (n: number): string => n.toFixed(1);
    ctx.note(`kairos, after the due time (p50 / p99 ms): ticker transaction began ${f(steps.tickP50)} / ${f(steps.tickP99)}; run claimed ${f(steps.claimP50)} / ${f(steps.claimP99)}; handler started ${f(p50)} / ${f(p99)} (occurrences.created_at, job_logs.run_time).`);
    return { p50, p99, max, expected, missed: expected - fromDb.ran, duplicated: fromDb.duplicated };
  } finally {
    await child.stop().catch(() => undefined);
    await db.drop();
  }
}

/** Rows of the fires table: job name, due minute (epoch ms) and lateness after it. */
interface FireRow {
  job: string;
  due: number;
  late: number;
}

/** pg_cron on its private server: 100 `* * * * *` jobs, each inserting its `clock_timestamp()`. */
async function measurePgCron(install: PgCronInstall, ctx: BenchContext): Promise<Sample> {
  const server = await startPgCronServer({ install, jobs: SCHEDULES, log: ctx.log });
  try {
    await server.query('CREATE EXTENSION pg_cron');
    await server.query('CREATE TABLE bench_fires (job text NOT NULL, fired_at timestamptz NOT NULL DEFAULT clock_timestamp())');
    for (let i = 0; i < SCHEDULES; i++) {
      await server.query(`SELECT cron.schedule($1, '* * * * *', $2)`, [`c${i}`, `INSERT INTO bench_fires (job) VALUES ('c${i}')`]);
    }
    // pg_cron reloads its job list after cron.job changes: leave it a few seconds before the first boundary counted.
    const from = Math.ceil((wallMs() + 5000) / 60_000) * 60_000;
    const to = from + PG_CRON_MINUTES * 60_000;
    const last = to - 60_000;
    ctx.log(`pgcron: measuring fires due at ${PG_CRON_MINUTES} minute boundaries from ${new Date(from).toISOString()}`);
    await sleep(last - wallMs());
    const firedAtLast = async (): Promise<number> =>
      Number((await server.query<{ n: string }>('SELECT count(*) AS n FROM bench_fires WHERE fired_at >= $1 AND fired_at < $2', [new Date(last), new Date(to)]))[0]?.n);
    await waitFor(async () => (await firedAtLast()) >= SCHEDULES, 30_000, 250);
    // A duplicate would follow its first fire closely.
    await sleep(3000);
    const rows = await server.query<FireRow>(
      `SELECT job, extract(epoch FROM date_trunc('minute', fired_at))::float8 * 1000 AS due,
              extract(epoch FROM fired_at - date_trunc('minute', fired_at))::float8 * 1000 AS late
         FROM bench_fires WHERE fired_at >= $1 AND fired_at < $2`,
      [new Date(from), new Date(to)],
    );
    const distinct = new Set(rows.map((r) => `${r.job}@${r.due}`)).size;
    const expected = SCHEDULES * PG_CRON_MINUTES;
    const { p50, p99, max } = percentiles(rows.map((r) => r.late));
    await notePgCron(server.query, from, to, ctx);
    const [ext] = await server.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'pg_cron'`);
    ctx.note(
      `pg_cron ${ext?.v ?? '?'} on a private PostgreSQL ${server.version} (jobs run over local connections, pg_cron's default; cron.max_running_jobs = ${SCHEDULES}) fires once a minute: ` +
        `100 schedules at each of ${PG_CRON_MINUTES} minute boundaries, whereas Kairos's figures are per-second fires; lateness = the job's clock_timestamp() − the minute (the first job of a minute: ${rows.length ? Math.min(...rows.map((r) => r.late)).toFixed(1) : '—'} ms).`,
    );
    return { p50, p99, max, expected, missed: expected - distinct, duplicated: rows.length - distinct };
  } finally {
    await server.stop();
  }
}

/** pg_cron's own record (cron.job_run_details): when it started each run, and runs that failed. */
async function notePgCron(query: (text: string, values?: unknown[]) => Promise<Array<Record<string, unknown>>>, from: number, to: number, ctx: BenchContext): Promise<void> {
  const [row] = await query(
    // The server is this run's own, so every run it logged is ours; a run that failed before it
    // sent its statement has no start_time, hence failures are counted over all of them.
    `SELECT min(ms) AS first, percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_disc(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
            (SELECT count(*) FROM cron.job_run_details WHERE status <> 'succeeded') AS failed,
            (SELECT min(return_message) FROM cron.job_run_details WHERE status <> 'succeeded') AS message
       FROM (SELECT extract(epoch FROM start_time - date_trunc('minute', start_time))::float8 * 1000 AS ms
               FROM cron.job_run_details WHERE start_time >= $1 AND start_time < $2) d`,
    [new Date(from), new Date(to)],
  );
  const f = (n: unknown): string => (n === null || n === undefined ? '—' : Number(n).toFixed(1));
  ctx.note(`pg_cron, after the minute (first / p50 / p99 ms): statement sent ${f(row?.first)} / ${f(row?.p50)} / ${f(row?.p99)} (cron.job_run_details.start_time, after the connection was made).`);
  if (Number(row?.failed ?? 0) > 0) ctx.note(`pg_cron: ${String(row?.failed)} runs did not succeed (or were still running at the end), e.g. ${String(row?.message)}`);
}
