/**
 * Where a ticker pass spends its time when 100 per-second cron schedules are due at once (the
 * cron workload's shape): each named statement's round trip, the rest of the wall time, and the
 * CPU time of this process (planning in JavaScript) per pass.
 */
import pg from 'pg';
import { Kairos } from '../../src/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { internals } from '../../src/api/internals.js';
import { wrapExecute } from './capture.js';
import { nowMs, summary } from './stats.js';

const DUE = 100;
const PASSES = 20;

/** Markdown table of the median time per pass, split by statement. */
export async function tickerBreakdown(url: string): Promise<string> {
  const kairos = new Kairos({ connectionString: url, logger: silentLogger, tasks: { tick: () => undefined } });
  const client = new pg.Client({ connectionString: url });
  try {
    await kairos.migrate();
    await client.connect();
    await client.query(`INSERT INTO kairos.jobs (job_name, command, schedule_kind, cron, next_run, planned)
                        SELECT 'c' || g, 'tick', 'cron', '* * * * * *', now(), true FROM generate_series(1, ${DUE}) g`);
    const spent = new Map<string, number[]>();
    let current = new Map<string, number>();
    wrapExecute(internals(kairos).store, (original) => async (name, values, db) => {
      const t = nowMs();
      try {
        return await original(name, values, db);
      } finally {
        current.set(name, (current.get(name) ?? 0) + nowMs() - t);
      }
    });
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let i = 0; i < PASSES; i++) {
      // all due again, without the runs of the last pass (so that overlap 'skip' does not apply)
      await client.query(`DELETE FROM kairos.runs; UPDATE kairos.jobs SET next_run = date_trunc('second', now())`);
      current = new Map();
      const cpu = process.cpuUsage();
      const t = nowMs();
      await internals(kairos).services.ticker.runOnce();
      walls.push(nowMs() - t);
      const used = process.cpuUsage(cpu);
      cpus.push((used.user + used.system) / 1000);
      for (const [name, ms] of current) spent.set(name, [...(spent.get(name) ?? []), ms]);
    }
    const wall = summary(walls).median;
    const rows = [...spent].map(([name, xs]) => [name, summary(xs).median] as const).sort((a, b) => b[1] - a[1]);
    const inStatements = rows.reduce((sum, [, ms]) => sum + ms, 0);
    return [
      `| one ticker pass, ${DUE} cron jobs due (median of ${PASSES}) | ms |`, '|---|---:|',
      `| whole pass (wall) | ${wall.toFixed(1)} |`,
      ...rows.map(([name, ms]) => `| \`${name}\` round trip | ${ms.toFixed(1)} |`),
      `| rest: BEGIN/COMMIT round trips and JavaScript | ${(wall - inStatements).toFixed(1)} |`,
      `| CPU time of this process (planning, JSON) | ${summary(cpus).median.toFixed(1)} |`,
    ].join('\n');
  } finally {
    await client.end().catch(() => undefined);
    await kairos.stop();
  }
}
