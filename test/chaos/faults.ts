/**
 * Scenarios 1, 4 and 5 of the fault-injection suite: a node killed (and one frozen) mid-run, a
 * node with a skewed clock, and a graceful shutdown while jobs run. Each returns its figures;
 * the test files assert them, `npm run chaos` prints them.
 */
import { SCHEDULE_LEAD_MS, assertStartsAt, chaosDb, defineSchedule, dbSecond, invariants, report, scalar, settle, startNode, type ScenarioReport } from './harness.js';
import { eventually } from '../helpers.js';

const LEASE = 3000;
const node = (name: string, extra: object = {}): { name: string; lease: number; heartbeat: number; rescue: number } => ({ name, lease: LEASE, heartbeat: 500, rescue: 300, ...extra });

/**
 * 1. `kill -9` a node mid-run: its task run and its SQL run are rescued after the lease and
 * completed once by another node. Then a node is frozen (SIGSTOP) mid-run, its run is rescued
 * and completed elsewhere, and when it thaws its late result is fenced off.
 */
export async function killMidRun(): Promise<ScenarioReport> {
  const db = await chaosDb();
  const nodes = [];
  try {
    const a = await startNode(db, node('victim', { runSqlJobs: true }));
    nodes.push(a);
    const taskRun = await scalar(db.pool, `SELECT ${db.s}.enqueue('record', '{"ms": 60000, "sleepOn": [1]}', retries => 0)`);
    // The SQL job sleeps until a rescue has been recorded, i.e. only on its first attempt.
    const rescuedYet = `EXISTS (SELECT 1 FROM ${db.s}.job_logs WHERE status = 'rescued' AND task = '@sql')`;
    await db.pool.query(`SELECT 1 FROM ${db.s}.define_job('sql-crash', $1)`, [`INSERT INTO ${db.ledger} (job) VALUES ('sql-crash'); SELECT pg_sleep(CASE WHEN ${rescuedYet} THEN 0 ELSE 8 END)`]);
    const sqlRun = await scalar(db.pool, `SELECT ${db.s}.trigger_job('sql-crash')`);
    await eventually(async () => (await scalar(db.pool, `SELECT count(*) FROM ${db.ledger} WHERE run_id = $1`, [taskRun])) === 1, { timeoutMs: 20_000, what: 'the task to start', intervalMs: 100 });
    await eventually(async () => (await scalar(db.pool, `SELECT count(*) FROM ${db.s}.runs WHERE run_id = $1 AND status = 'running'`, [sqlRun])) === 1, { timeoutMs: 20_000, what: 'the SQL job to start', intervalMs: 100 });
    const killedAt = Date.now();
    await a.kill();
    const heir = await startNode(db, node('heir', { runSqlJobs: true }));
    nodes.push(heir);
    const done = `SELECT count(*) FROM ${db.s}.job_logs WHERE run_id = ANY($1::bigint[]) AND status = 'completed'`;
    await eventually(async () => (await scalar(db.pool, done, [[taskRun, sqlRun]])) === 2, { timeoutMs: 30_000, what: 'both rescued runs to complete', intervalMs: 100 });
    const rescueMs = Date.now() - killedAt;
    // The dead node's SQL statement still runs in its server backend; when it ends, the backend
    // finds its client gone and rolls back: the job's effect must still be there exactly once.
    const orphan = `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_temp.kairos_run_job%' AND state = 'active' AND pid <> pg_backend_pid()`;
    const orphans = await scalar(db.pool, orphan);
    await eventually(async () => (await scalar(db.pool, orphan)) === 0, { timeoutMs: 30_000, what: "the dead node's SQL backend to end", intervalMs: 100 });

    // A frozen node is not dead: it comes back with a result for an attempt that is no longer its.
    const frozen = await startNode(db, node('frozen'));
    nodes.push(frozen);
    await heir.term(); // only the frozen node can take the next run
    const lateRun = await scalar(db.pool, `SELECT ${db.s}.enqueue('record', '{"ms": 4000, "sleepOn": [1]}', retries => 0)`);
    await eventually(async () => (await scalar(db.pool, `SELECT count(*) FROM ${db.ledger} WHERE run_id = $1`, [lateRun])) === 1, { timeoutMs: 20_000, what: 'the run to start on the node about to freeze', intervalMs: 100 });
    frozen.freeze(true);
    const rescuer = await startNode(db, node('rescuer'));
    nodes.push(rescuer);
    await eventually(async () => (await scalar(db.pool, done, [[lateRun]])) === 1, { timeoutMs: 30_000, what: 'the frozen run to be rescued and completed', intervalMs: 100 });
    frozen.freeze(false);
    await eventually(async () => frozen.log.includes('fenced'), { timeoutMs: 20_000, what: 'the thawed node to report its result fenced off', intervalMs: 100 });
    await Promise.all(nodes.map((n) => n.term()));

    const inv = await invariants(db, [], ['sql-crash']);
    const logs = await db.pool.query(`SELECT run_id, attempt, status FROM ${db.s}.job_logs ORDER BY run_id, log_id`);
    const history = logs.rows.map((r) => `${r.run_id}:${r.attempt}:${r.status}`);
    return report('1 kill -9 mid-run', inv, {
      kills: 1,
      restarts: 0,
      occurrences: 3,
      notes: [`rescued and completed ${rescueMs} ms after the kill (lease ${LEASE} ms); ${orphans} orphaned SQL backend(s) rolled back`, `history ${history.join(' ')}`],
      lost: inv.lost + (inv.completed === 3 ? 0 : 1),
    });
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await db.drop();
  }
}

/**
 * 4. Clock skew: two nodes whose clocks are off by +`skewMs` and −`skewMs` run per-second
 * schedules; every occurrence fires once, on the database's time (lateness measured by the
 * database clock stays small), and no lease is cut short or stretched by a node's clock.
 */
export async function clockSkew(params: { seconds: number; schedules: number; skewMs: number }): Promise<ScenarioReport> {
  const db = await chaosDb();
  const nodes = [];
  try {
    nodes.push(await startNode(db, node('ahead', { skewMs: params.skewMs })), await startNode(db, node('behind', { skewMs: -params.skewMs })));
    const from = await dbSecond(db, SCHEDULE_LEAD_MS);
    const to = new Date(from.getTime() + (params.seconds - 1) * 1000);
    const expected = await Promise.all(Array.from({ length: params.schedules }, (_, i) => defineSchedule(db, `skew-${i}`, 'task', from, to)));
    await assertStartsAt(db, from);
    await settle(db, params.seconds * 1000 + 20_000);
    await Promise.all(nodes.map((n) => n.term()));
    const inv = await invariants(db, expected);
    const timing = (await db.pool.query(`
      SELECT max(extract(epoch FROM l.run_time - l.scheduled_at)) * 1000 AS max_late_ms,
             min(extract(epoch FROM l.run_time - l.scheduled_at)) * 1000 AS min_late_ms,
             (SELECT max(abs(extract(epoch FROM node_time - db_time))) * 1000 FROM ${db.ledger}) AS max_skew_ms,
             (SELECT min(abs(extract(epoch FROM node_time - db_time))) * 1000 FROM ${db.ledger}) AS min_skew_ms
        FROM ${db.s}.job_logs l WHERE l.status = 'completed'`)).rows[0];
    const nodesUsed = await scalar(db.pool, `SELECT count(DISTINCT node) FROM ${db.ledger}`);
    return report('4 clock skew', inv, {
      notes: [
        `node clocks off by ${Math.round(Number(timing.min_skew_ms) / 1000)}-${Math.round(Number(timing.max_skew_ms) / 1000)} s; ${nodesUsed} node(s) ran jobs`,
        `started ${Math.round(Number(timing.min_late_ms))}-${Math.round(Number(timing.max_late_ms))} ms after the occurrence (database clock)`,
      ],
      invariants: { ...inv, detail: { ...inv.detail, max_late_ms: Number(timing.max_late_ms), min_late_ms: Number(timing.min_late_ms), min_skew_ms: Number(timing.min_skew_ms), nodes_used: nodesUsed } },
    });
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await db.drop();
  }
}

/**
 * 5. Long shutdown: SIGTERM while short and long runs execute. The short ones finish within the
 * shutdown timeout, the long ones (whose handlers ignore their abort signal) are handed back at
 * the timeout, the process exits, and another node completes the handed-back runs. Nothing stuck.
 */
export async function longShutdown(params: { short: number; long: number; shutdownTimeoutMs: number }): Promise<ScenarioReport> {
  const db = await chaosDb();
  const nodes = [];
  try {
    const total = params.short + params.long;
    const first = await startNode(db, node('stopping', { concurrency: total, shutdownTimeout: params.shutdownTimeoutMs }));
    nodes.push(first);
    await db.pool.query(`SELECT ${db.s}.enqueue('record', '{"ms": 1500}', retries => 0) FROM generate_series(1, $1)`, [params.short]);
    await db.pool.query(`SELECT ${db.s}.enqueue('record', '{"ms": 60000, "sleepOn": [1]}', retries => 0) FROM generate_series(1, $1)`, [params.long]);
    await eventually(async () => (await scalar(db.pool, `SELECT count(*) FROM ${db.ledger}`)) === total, { timeoutMs: 20_000, what: 'every run to start', intervalMs: 100 });
    const termAt = Date.now();
    const code = await first.term();
    const exitMs = Date.now() - termAt;
    const afterStop = (await db.pool.query(`SELECT count(*) FILTER (WHERE status = 'running')::int AS running, count(*)::int AS pending_or_running FROM ${db.s}.runs`)).rows[0];
    const statuses = (await db.pool.query(`SELECT status, count(*)::int AS n FROM ${db.s}.job_logs GROUP BY 1 ORDER BY 1`)).rows.map((r) => `${r.status}=${r.n}`);
    nodes.push(await startNode(db, node('successor')));
    await eventually(async () => (await scalar(db.pool, `SELECT count(*) FROM ${db.s}.runs`)) === 0, { timeoutMs: 20_000, what: 'the handed-back runs to complete', intervalMs: 100 });
    await Promise.all(nodes.map((n) => n.term()));
    const inv = await invariants(db);
    return report('5 long shutdown', inv, {
      occurrences: total,
      notes: [`SIGTERM → exit ${code} in ${exitMs} ms (shutdown timeout ${params.shutdownTimeoutMs} ms)`, `at exit: ${statuses.join(' ')}; ${afterStop.running} still running`],
      stuck: inv.stuck + afterStop.running,
      invariants: { ...inv, detail: { ...inv.detail, exit_code: code ?? -1, exit_ms: exitMs, running_after_stop: afterStop.running, left_after_stop: afterStop.pending_or_running } },
    });
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await db.drop();
  }
}
