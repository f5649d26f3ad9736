/**
 * The end-of-scenario invariants, counted in the database once the cluster is quiet:
 * - lost: an expected occurrence (every step of a schedule's window, catch-up 'all') without a
 *   completed attempt in job_logs, or a SQL job whose ledger holds fewer rows than it should;
 * - duplicates: an occurrence completed twice, or run by two runs; an attempt executed twice; an
 *   execution not followed by a completion and not proven dead (rescued after its lease, or handed
 *   back at shutdown); a SQL job whose effects committed more often than it completed;
 * - stuck: a run still in the queue, or running past its lease.
 */
import type { ChaosDb } from './harness.js';

/** One schedule and the window in which every step must have run exactly once. */
export interface ExpectedSchedule {
  job: string;
  /** 'task' jobs write (job, occurrence, run, attempt) rows; 'sql' jobs one row per commit. */
  kind: 'task' | 'sql';
  from: Date;
  to: Date;
  stepMs: number;
}

/** What the database says after a scenario. */
export interface Invariants {
  expected: number;
  occurrences: number;
  completed: number;
  executions: number;
  lost: number;
  duplicates: number;
  /** Occurrences outside the expected windows or recorded as skipped (a policy ate them). */
  unexpected: number;
  stuck: number;
  rescued: number;
  released: number;
  /** Executions repeated after a proven node death or hand-back (allowed for task jobs). */
  reexecutions: number;
  /** Details, for a failing assertion's message. */
  detail: Record<string, number>;
}

const num = (v: unknown): number => Number(v ?? 0);
/** Set by the last invariants() call that found lost occurrences: which ones (diagnostics). */
export let missingSample = '';

/**
 * Count the invariants of `db` for the given schedules (none: only the ledger and the queue) and
 * SQL jobs run outside a schedule (triggered), whose commits must equal their completions.
 */
export async function invariants(db: ChaosDb, schedules: ExpectedSchedule[] = [], manualSqlJobs: string[] = []): Promise<Invariants> {
  const { s, ledger } = db;
  const windows = JSON.stringify(schedules.map((e) => ({ job: e.job, kind: e.kind, from: e.from.toISOString(), to: e.to.toISOString(), step_ms: e.stepMs })));
  const occ = (await db.pool.query(`
    WITH exp AS (
      SELECT e.job, e.kind, gs AS scheduled_at
        FROM jsonb_to_recordset($1::jsonb) AS e(job text, kind text, "from" timestamptz, "to" timestamptz, step_ms bigint),
             generate_series(e."from", e."to", e.step_ms * interval '1 millisecond') gs
    ), occ AS (
      SELECT j.job_name AS job, o.scheduled_at, o.outcome FROM ${s}.occurrences o JOIN ${s}.jobs j USING (job_id)
    ), done AS (
      SELECT j.job_name AS job, l.scheduled_at, count(*) AS n
        FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id) WHERE l.status = 'completed' GROUP BY 1, 2
    ), ran AS (
      SELECT job, scheduled_at, count(DISTINCT run_id) AS runs FROM ${ledger} WHERE scheduled_at IS NOT NULL GROUP BY 1, 2
    )
    SELECT (SELECT count(*) FROM exp) AS expected,
           (SELECT count(*) FROM occ) AS occurrences,
           (SELECT count(*) FROM exp LEFT JOIN done USING (job, scheduled_at) WHERE done.n IS NULL) AS lost_completion,
           (SELECT count(*) FROM exp LEFT JOIN ran USING (job, scheduled_at) WHERE exp.kind = 'task' AND ran.runs IS NULL) AS lost_execution,
           (SELECT count(*) FROM exp LEFT JOIN done USING (job, scheduled_at) LEFT JOIN ran USING (job, scheduled_at)
             WHERE done.n IS NULL OR (exp.kind = 'task' AND ran.runs IS NULL)) AS lost_any,
           (SELECT count(*) FROM done WHERE n > 1) AS double_completion,
           (SELECT count(*) FROM ran WHERE runs > 1) AS double_run,
           (SELECT count(*) FROM occ LEFT JOIN exp USING (job, scheduled_at) WHERE exp.job IS NULL OR occ.outcome <> 'run') AS unexpected`,
  [windows])).rows[0] as Record<string, unknown>;

  const sqlJobs = [...schedules.filter((e) => e.kind === 'sql').map((e) => e.job), ...manualSqlJobs];
  const sql = (await db.pool.query(`
    WITH committed AS (SELECT job, count(*) AS n FROM ${ledger} WHERE job = ANY($1::text[]) GROUP BY 1),
         done AS (SELECT j.job_name AS job, count(*) AS n FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id)
                   WHERE l.status = 'completed' AND j.job_name = ANY($1::text[]) GROUP BY 1)
    SELECT coalesce(sum(greatest(coalesce(c.n, 0) - coalesce(d.n, 0), 0)), 0) AS sql_extra,
           coalesce(sum(greatest(coalesce(d.n, 0) - coalesce(c.n, 0), 0)), 0) AS sql_missing
      FROM committed c FULL JOIN done d USING (job)`, [sqlJobs])).rows[0] as Record<string, unknown>;

  const runs = (await db.pool.query(`
    WITH attempts AS (SELECT run_id, attempt, count(*) AS n FROM ${ledger} WHERE run_id IS NOT NULL GROUP BY 1, 2),
         logs AS (SELECT run_id, attempt, array_agg(status) AS statuses FROM ${s}.job_logs GROUP BY 1, 2)
    SELECT (SELECT count(*) FROM ${ledger}) AS executions,
           (SELECT count(*) FROM attempts WHERE n > 1) AS double_attempt,
           (SELECT count(*) FROM attempts a LEFT JOIN logs l USING (run_id, attempt)
             WHERE l.statuses IS NULL OR NOT l.statuses && ARRAY['completed', 'rescued', 'released', 'failed', 'retrying', 'cancelled']) AS unproven,
           (SELECT count(*) FROM attempts a JOIN logs l USING (run_id, attempt)
             WHERE l.statuses && ARRAY['rescued', 'released'] AND NOT l.statuses && ARRAY['completed']) AS reexecutions,
           (SELECT count(*) FROM ${s}.job_logs WHERE status = 'completed') AS completed,
           (SELECT count(*) FROM ${s}.job_logs WHERE status = 'rescued') AS rescued,
           (SELECT count(*) FROM ${s}.job_logs WHERE status = 'released') AS released,
           (SELECT count(*) FROM ${s}.job_logs WHERE status IN ('failed', 'retrying')) AS failed,
           (SELECT count(*) FROM ${s}.runs) AS remaining,
           (SELECT count(*) FROM ${s}.runs WHERE status = 'running' AND lease_until < now()) AS past_lease`)).rows[0] as Record<string, unknown>;

  if (num(occ.lost_completion) > 0) {
    // Which seconds went missing says which fault (or which code path) lost them.
    const missing = await db.pool.query(`
      WITH exp AS (
        SELECT e.job, gs AS scheduled_at
          FROM jsonb_to_recordset($1::jsonb) AS e(job text, "from" timestamptz, "to" timestamptz, step_ms bigint),
               generate_series(e."from", e."to", e.step_ms * interval '1 millisecond') gs
      )
      SELECT exp.scheduled_at, count(*)::int AS n, min(exp.job) AS job FROM exp
       WHERE NOT EXISTS (SELECT 1 FROM ${s}.job_logs l JOIN ${s}.jobs j USING (job_id)
                          WHERE j.job_name = exp.job AND l.scheduled_at = exp.scheduled_at AND l.status = 'completed')
       GROUP BY 1 ORDER BY 1 LIMIT 20`, [windows]);
    missingSample = missing.rows.map((r) => `${(r.scheduled_at as Date).toISOString()}x${r.n}(${r.job})`).join(' ');
  }
  const detail: Record<string, number> = {};
  for (const [k, v] of Object.entries({ ...occ, ...sql, ...runs })) detail[k] = num(v);
  return {
    expected: detail.expected!,
    occurrences: detail.occurrences!,
    completed: detail.completed!,
    executions: detail.executions!,
    lost: detail.lost_any! + detail.sql_missing!,
    duplicates: detail.double_completion! + detail.double_run! + detail.double_attempt! + detail.unproven! + detail.sql_extra!,
    unexpected: detail.unexpected!,
    stuck: detail.remaining! + detail.past_lease!,
    rescued: detail.rescued!,
    released: detail.released!,
    reexecutions: detail.reexecutions!,
    detail,
  };
}
