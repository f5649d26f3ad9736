/**
 * Workload 5, cron accuracy: 100 schedules. Kairos fires every second (`* * * * * *`) for the
 * whole window; graphile-worker and pg-boss only know minute-level cron, so in full mode they get
 * 100 `* * * * *` schedules and one minute boundary (quick mode skips them). Lateness is handler
 * start minus due time; missed and duplicated occurrences are counted from Kairos's own tables
 * (job_logs, occurrences) and, for the peers, from the handler calls.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { WorkerChild, type ChildReport } from '../lib/child.js';
import { percentiles, sleep, wallMs } from '../lib/stats.js';
import type { Sample, SystemName } from '../lib/types.js';
import type { BenchContext, Workload } from '../lib/workload.js';
import { cronTables } from '../systems/kairos.js';

const SCHEDULES = 100;

/** Why pg_cron cannot be measured here (or null when the bench server has it). */
async function pgCronAbsence(ctx: BenchContext): Promise<string | null> {
  const rows = await ctx.server.admin(`SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron'`);
  if (rows.length > 0) return null;
  const reasons = [`the benchmark server (PostgreSQL ${ctx.server.version}, ${ctx.server.kind}) has no pg_cron extension`];
  const installed = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
  for (const major of installed) {
    const has = existsSync(`/usr/lib/postgresql/${major}/lib/pg_cron.so`);
    let apt = '';
    try {
      const policy = execFileSync('apt-cache', ['policy', `postgresql-${major}-cron`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const candidate = /Candidate:\s*(\S+)/.exec(policy)?.[1];
      apt = candidate && candidate !== '(none)' ? ` (apt candidate ${candidate}, not installed)` : '';
    } catch {
      apt = '';
    }
    if (!has) reasons.push(`the installed PostgreSQL ${major} server has no pg_cron either${apt}`);
  }
  return reasons.join('; ');
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
  async prepare(ctx: BenchContext): Promise<void> {
    const absence = await pgCronAbsence(ctx);
    ctx.note(absence ? `pg_cron: not available on this machine: ${absence}.` : 'pg_cron: the server offers the extension, but this suite does not drive it yet.');
    ctx.note('Kairos fires 100 schedules every second; graphile-worker and pg-boss support minute-level cron only, so they fire 100 schedules at one minute boundary (full mode); their ratios compare unlike cadences.');
  },
  async run(system: SystemName, ctx: BenchContext): Promise<Sample> {
    if (system !== 'kairos' && ctx.quick) {
      ctx.note(`${system}: minute-level cron only: measured in full mode.`);
      return {};
    }
    const db = await ctx.database(system);
    const child = await WorkerChild.start({ system, url: db.url, mode: 'cron', schedules: SCHEDULES, ...ctx.settings });
    try {
      await sleep(2000);
      let from: number;
      let to: number;
      if (system === 'kairos') {
        from = Math.ceil(wallMs() / 1000) * 1000;
        to = from + (ctx.quick ? 10_000 : 60_000);
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
  },
};
