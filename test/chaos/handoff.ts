/**
 * Scenario 7 of the fault-injection suite: hand-off under kills. Single runs are enqueued from the
 * TypeScript API at a steady rate while the nodes are killed and restarted at random; idle nodes
 * are handed runs straight from the insert (migration 0013). A node killed holding a run handed to
 * it loses it to the rescuer like a claimed one. Every run completes exactly once.
 */
import pg from 'pg';
import { Kairos } from '../../src/index.js';
import { silentLogger } from '../../src/testing/index.js';
import { chaosDb, chaosMonkey, Cluster, invariants, pause, report, scalar, settle, type ScenarioReport } from './harness.js';

const LEASE = 3000;

/**
 * 7. `nodes` nodes, one run every `everyMs` for `seconds`, each taking `ms`; a random node
 * SIGKILLed every ~`killEveryMs` and restarted ~`downMs` later.
 */
export async function handoffKills(params: { nodes: number; seconds: number; everyMs: number; ms: number; killEveryMs: number; downMs: number }): Promise<ScenarioReport> {
  const db = await chaosDb();
  const cluster = new Cluster(db, { lease: LEASE, heartbeat: 500, rescue: 300, concurrency: 4 });
  const producer = new Kairos({ connectionString: db.connectionString, schema: db.schema, logger: silentLogger, migrate: false });
  const listener = new pg.Client(db.connectionString);
  let handoffs = 0;
  try {
    await cluster.start(params.nodes);
    await listener.connect();
    listener.on('notification', (m) => void ((JSON.parse(m.payload ?? '{}') as { t?: string }).t === 'handoff' && handoffs++));
    await listener.query(`LISTEN "kairos:${db.schema}"`);
    const ids: number[] = [];
    const end = Date.now() + params.seconds * 1000;
    const enqueueing = (async () => {
      while (Date.now() < end) {
        ids.push((await producer.enqueue('record', { ms: params.ms })).id);
        await pause(params.everyMs);
      }
    })();
    await chaosMonkey(cluster, () => Date.now() < end, params.killEveryMs, params.downMs);
    await enqueueing;
    await settle(db, LEASE * 3 + 30_000, cluster);
    await cluster.stop();
    const inv = await invariants(db);
    // Per enqueued run: exactly one completed attempt in the history.
    const counts = (await db.pool.query<{ lost: string; doubled: string }>(
      `SELECT count(*) FILTER (WHERE n = 0) AS lost, count(*) FILTER (WHERE n > 1) AS doubled
         FROM (SELECT id, (SELECT count(*) FROM ${db.s}.job_logs l WHERE l.run_id = id AND l.status = 'completed') AS n
                 FROM unnest($1::bigint[]) id) x`,
      [ids],
    )).rows[0]!;
    const lost = inv.lost + Number(counts.lost);
    const duplicates = inv.duplicates + Number(counts.doubled);
    const rescued = await scalar(db.pool, `SELECT count(*) FROM ${db.s}.job_logs WHERE status = 'rescued'`);
    return report('7 hand-off under kills', { ...inv, lost, duplicates, detail: { ...inv.detail, enqueued: ids.length, handoffs, rescued } }, {
      kills: cluster.kills,
      restarts: cluster.restarts,
      notes: [`${params.nodes} nodes, ${ids.length} single enqueues over ${params.seconds} s, ${handoffs} handed over, ${rescued} rescued after a kill; ${inv.reexecutions} re-executions after proven deaths`],
    });
  } finally {
    await listener.end().catch(() => undefined);
    await producer.stop();
    await cluster.destroy();
    await db.drop();
  }
}
