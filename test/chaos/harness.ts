/**
 * The fault-injection harness: real Kairos nodes as child processes (test/fixtures/chaos-node.ts)
 * that it starts, SIGKILLs, freezes, SIGTERMs and restarts; an isolated schema with an append-only
 * ledger the jobs write; and the end-of-scenario invariants, counted in the database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createTestSchema, type TestSchema } from '../../src/testing/index.js';
import { eventually } from '../helpers.js';

/** A scenario's database: an isolated, migrated schema plus the ledger table. */
export interface ChaosDb extends TestSchema {
  /** Quoted, schema-qualified name of the ledger table. */
  ledger: string;
  /** `"schema"` quoted, for test SQL. */
  s: string;
}

/** Create the schema and its ledger (one row per execution, written by the jobs themselves). */
export async function chaosDb(url = process.env.DATABASE_URL): Promise<ChaosDb> {
  const db = await createTestSchema(url, 'chaos');
  // Scenarios restart the server and terminate connections: an idle client's error must not crash us.
  db.pool.on('error', () => undefined);
  const s = `"${db.schema}"`;
  const ledger = `${s}.chaos_ledger`;
  await db.pool.query(`CREATE TABLE ${ledger} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job text NOT NULL, scheduled_at timestamptz,
    run_id bigint, attempt int, node text, node_time timestamptz, db_time timestamptz NOT NULL DEFAULT clock_timestamp())`);
  return { ...db, ledger, s };
}

/** Options of one node process (see the fixture). */
export interface NodeOptions {
  name: string;
  lease?: number;
  heartbeat?: number;
  poll?: number;
  rescue?: number;
  concurrency?: number;
  batchSize?: number;
  shutdownTimeout?: number;
  runSqlJobs?: boolean;
  /** Shift the node's wall clock by this many ms (a preload fakes Date before Kairos loads). */
  skewMs?: number;
}

const FIXTURE = 'test/fixtures/chaos-node.ts';
const SKEW = './test/fixtures/chaos-skew.ts';

/** One node process. */
export class ChaosNode {
  readonly child: ChildProcess;
  /** Kairos's node id, known once ready. */
  nodeId = '';
  /** Everything it wrote on stderr (Kairos's warnings as JSON lines), capped. */
  log = '';
  private out = '';
  readonly exited: Promise<number | null>;
  readonly ready: Promise<void>;

  constructor(db: ChaosDb, readonly options: NodeOptions) {
    const config = { url: db.connectionString, schema: db.schema, ledger: db.ledger, ...options };
    const preload = options.skewMs ? ['--import', 'tsx', '--import', SKEW] : ['--import', 'tsx'];
    this.child = spawn(process.execPath, [...preload, FIXTURE], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KAIROS_CHAOS_NODE: JSON.stringify(config), KAIROS_CHAOS_SKEW_MS: String(options.skewMs ?? 0), KAIROS_LOG_LEVEL: 'warn', KAIROS_CHAOS_PARENT: String(process.pid) },
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      if (this.log.length < 1_000_000) this.log += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.ready = new Promise((resolve, reject) => {
      this.child.stdout!.on('data', (chunk: Buffer) => {
        this.out += chunk.toString();
        const match = /ready (\S+)/.exec(this.out);
        if (match && !this.nodeId) {
          this.nodeId = match[1]!;
          resolve();
        }
      });
      void this.exited.then((code) => reject(new Error(`node ${options.name} exited (${code}) before it was ready: ${this.log.slice(-2000)}`)));
    });
    this.ready.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What it printed on stdout (`ready …`, `stopped <ms>`). */
  get stdout(): string {
    return this.out;
  }

  /** kill -9: no shutdown, no release; its runs wait for their lease. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Graceful stop (SIGTERM); resolves with the exit code. */
  async term(): Promise<number | null> {
    if (this.alive) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** Freeze (SIGSTOP) or thaw (SIGCONT) the process: a node that stops heartbeating but is not dead. */
  freeze(frozen: boolean): void {
    this.child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Resident set size in bytes, from /proc (0 once exited or off Linux). */
  rss(): number {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }
}

/** Start a node and wait until it is ready. */
export async function startNode(db: ChaosDb, options: NodeOptions): Promise<ChaosNode> {
  const node = new ChaosNode(db, options);
  await node.ready;
  return node;
}

/** A set of nodes with kill/restart bookkeeping. */
export class Cluster {
  readonly nodes: ChaosNode[] = [];
  kills = 0;
  restarts = 0;

  constructor(private readonly db: ChaosDb, private readonly base: Omit<NodeOptions, 'name'> = {}) {}

  /** Start `n` nodes named node-1…node-n. */
  async start(n: number, extra: Partial<NodeOptions> = {}): Promise<void> {
    const started = await Promise.all(Array.from({ length: n }, (_, i) => startNode(this.db, { ...this.base, ...extra, name: `node-${i + 1}` })));
    this.nodes.push(...started);
  }

  /** SIGKILL slot `i`. */
  async kill(i: number): Promise<void> {
    await this.nodes[i]!.kill();
    this.kills++;
  }

  /** Start a fresh process in slot `i` (same name, new node id). */
  async restart(i: number): Promise<void> {
    const old = this.nodes[i]!;
    this.nodes[i] = await startNode(this.db, old.options);
    this.restarts++;
  }

  /** SIGTERM every live node; resolves when all have exited. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.term()));
  }

  /** Last resort (test cleanup): SIGKILL whatever still runs. */
  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
}

/**
 * Kill random nodes at random while `running()` holds: every `everyMs` (±50 %), SIGKILL a random
 * live node and start it again `downMs` later. Returns when `running()` turns false and every
 * slot is up again.
 */
export async function chaosMonkey(cluster: Cluster, running: () => boolean, everyMs: number, downMs: number, random = Math.random): Promise<void> {
  while (running()) {
    await pause(everyMs * (0.5 + random()));
    if (!running()) break;
    const i = Math.floor(random() * cluster.nodes.length);
    await cluster.kill(i);
    await pause(downMs * (0.5 + random()));
    await cluster.restart(i);
  }
}

/** Real-time pause, used only to pace fault injection (never as a synchronisation point). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Query a single number. */
export async function scalar(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<number> {
  const result = await pool.query(sql, values);
  return Number(Object.values(result.rows[0] as object)[0]);
}

import { type ExpectedSchedule, type Invariants } from './invariants.js';
export { invariants, type ExpectedSchedule, type Invariants } from './invariants.js';

/** One scenario's figures, for assertions and the summary table of `npm run chaos`. */
export interface ScenarioReport {
  scenario: string;
  occurrences: number;
  executions: number;
  kills: number;
  restarts: number;
  duplicates: number;
  lost: number;
  stuck: number;
  rescued: number;
  /** Largest resident set of a node process, in MiB (0 when not sampled). */
  maxRssMb: number;
  /** Free-form figures (latencies, timings) and remarks. */
  notes: string[];
  /** The full invariants, for assertion messages. */
  invariants: Invariants;
}

/** Build a report from the invariants and the cluster's bookkeeping. */
export function report(scenario: string, inv: Invariants, extra: Partial<ScenarioReport> = {}): ScenarioReport {
  return {
    scenario,
    occurrences: inv.occurrences,
    executions: inv.executions,
    kills: 0,
    restarts: 0,
    duplicates: inv.duplicates,
    lost: inv.lost,
    stuck: inv.stuck,
    rescued: inv.rescued,
    maxRssMb: 0,
    notes: [],
    invariants: inv,
    ...extra,
  };
}

/** Define (or replace) a per-`stepS`-second schedule through the SQL API, firing in [from, to]. */
export async function defineSchedule(db: ChaosDb, job: string, kind: 'task' | 'sql', from: Date, to: Date, options: { retries?: number; ms?: number } = {}): Promise<ExpectedSchedule> {
  // Each run takes `ms`, so that a kill is likely to catch runs in flight. A SQL job's only effect
  // is one ledger row: it commits with its completion, or not at all.
  const ms = options.ms ?? 0;
  const command = kind === 'task' ? 'record' : `INSERT INTO ${db.ledger} (job) VALUES ('${job}'); SELECT pg_sleep(${ms / 1000})`;
  await db.pool.query(
    `SELECT 1 FROM ${db.s}.define_job($1, $2, job_type => $3, cron => ARRAY['* * * * * *'], start_at => $4, end_at => $5,
                                      catch_up => 'all', overlap => 'allow', retries => $6, payload => $7)`,
    [job, command, kind, from, to, options.retries ?? 0, JSON.stringify({ ms })],
  );
  return { job, kind, from, to, stepMs: 1000 };
}

/** How far ahead schedules start: all must be defined before the first second fires. */
export const SCHEDULE_LEAD_MS = 2500;

/** The database's clock, rounded up to the next whole second plus `aheadMs`. */
export async function dbSecond(db: ChaosDb, aheadMs = 0): Promise<Date> {
  const { rows } = await db.pool.query(`SELECT date_trunc('second', clock_timestamp() + $1 * interval '1 millisecond') + interval '1 second' AS t`, [aheadMs]);
  return rows[0].t as Date;
}

/**
 * Every schedule must start at `from`: one defined after `from` had passed would begin a second
 * later, and the scenario would count that second as lost. A harness error, not a Kairos one.
 */
export async function assertStartsAt(db: ChaosDb, from: Date): Promise<void> {
  const late = await scalar(db.pool, `SELECT count(*) FROM ${db.s}.jobs j WHERE j.next_run IS DISTINCT FROM $1
    AND NOT EXISTS (SELECT 1 FROM ${db.s}.occurrences o WHERE o.job_id = j.job_id AND o.scheduled_at = $1)`, [from]);
  if (late > 0) throw new Error(`harness: ${late} schedule(s) were defined after their start ${from.toISOString()}; give them more lead time`);
}

/** Wait until every schedule is past its end and the queue is empty; then the cluster is quiet. */
export async function settle(db: ChaosDb, timeoutMs: number, cluster?: Cluster): Promise<void> {
  try {
    await eventually(async () => {
      const { rows } = await db.pool.query(`SELECT (SELECT count(*) FROM ${db.s}.jobs WHERE next_run IS NOT NULL AND enabled)::int
                                                  + (SELECT count(*) FROM ${db.s}.runs)::int AS n`);
      return rows[0].n === 0;
    }, { timeoutMs, what: 'the schedules to end and the queue to empty', intervalMs: 100 });
  } catch (error) {
    // Say what is left, and what the nodes complained about: that is where the bug is.
    const jobs = await db.pool.query(`SELECT job_name, next_run, enabled FROM ${db.s}.jobs WHERE next_run IS NOT NULL AND enabled LIMIT 5`);
    const runs = await db.pool.query(`SELECT run_id, task, status, attempt, node_id, lease_until, run_at FROM ${db.s}.runs ORDER BY run_id LIMIT 5`);
    const logs = (cluster?.nodes ?? []).map((n) => `${n.options.name} (alive ${n.alive}): ${n.log.slice(-1500)}`).join('\n');
    throw new Error(`${(error as Error).message}; now ${new Date().toISOString()}\njobs ${JSON.stringify(jobs.rows)}\nruns ${JSON.stringify(runs.rows)}\n${logs}`, { cause: error });
  }
}
