/**
 * EXPLAIN (ANALYZE, BUFFERS) of the hot-path statements with a realistic backlog: N pending ad-hoc
 * runs, plus 100 recurring jobs (10 due, each with a pending run) for the ticker's lockDueJobs.
 * Texts and parameters come from Kairos's own Store and ticker; every statement runs in a
 * transaction that is rolled back.
 */
import pg from 'pg';
import { Kairos } from '../../src/index.js';
import { silentLogger } from '../../src/core/logger.js';
import type { NewRun } from '../../src/store/store.js';
import { internals } from '../../src/api/internals.js';
import { captureStatement, recordStatements } from './capture.js';
import { explain, type Explained } from './explain.js';
import type { BenchServer } from './server.js';
import { enqueueAll, openProducer } from '../systems/index.js';

type Claimed = { run_id: number; attempt: number };
const NODE = { id: 'explain-node', name: 'explain-node', tags: [] as string[] };
const MAKE_DUE = `UPDATE kairos.jobs SET next_run = now() - interval '1 second' WHERE job_id <= 10`;

/** Markdown: a summary table and the plans. */
export async function explainHotPath(server: BenchServer, backlog: number): Promise<string> {
  const name = 'profile_explain';
  await server.createDatabase(name);
  const url = server.urlFor(name);
  const producer = await openProducer('kairos', url);
  const kairos = new Kairos({ connectionString: url, logger: silentLogger, tasks: { noop: () => undefined } });
  const client = new pg.Client({ connectionString: url });
  try {
    await enqueueAll(producer, backlog, 1000);
    await client.connect();
    await client.query(`INSERT INTO kairos.jobs (job_name, command, schedule_kind, cron, next_run, planned)
                        SELECT 'job-' || g, 'noop', 'cron', '* * * * *', now() + interval '1 hour', true FROM generate_series(1, 100) g`);
    await client.query(`INSERT INTO kairos.runs (job_id, task, scheduled_at, run_at, serial)
                        SELECT job_id, 'noop', now() + interval '1 hour', now() + interval '1 hour', true FROM kairos.jobs`);
    await client.query('VACUUM ANALYZE');
    const claim = await captureStatement('kairos', (s) => s.claim(NODE, ['default'], ['noop'], 50, null, 60_000));
    const claimed = async (c: pg.ClientBase): Promise<Claimed[]> => (await c.query<Claimed>(claim.text, claim.values)).rows;
    const complete = await captureStatement('kairos', (s) => s.complete([], NODE.id, null));
    const fail = await captureStatement('kairos', (s) => s.fail([], NODE.id, null));
    const newRuns: NewRun[] = Array.from({ length: 1000 }, () => ({
      task: 'noop', queue: 'default', priority: 5, payload_json: '{}', key: null, run_at: null, delay_ms: null, grace_ms: null,
      max_retries: 3, backoff_ms: 1000, backoff_max_ms: 3_600_000, timeout_ms: null, lock_key: null,
    }));
    const insert = await captureStatement('kairos', (s) => s.insertRuns(newRuns, 'raise', null));
    const seen = recordStatements(internals(kairos).store);
    await client.query(MAKE_DUE);
    await internals(kairos).services.ticker.runOnce(); // records the ticker's parameters
    const cases: Array<[string, Explained]> = [
      [`claimRuns (50 of ${backlog} pending)`, await explain(client, claim.text, claim.values)],
      ['completeRuns (50 claimed runs)', await explain(client, complete.text, async (c) => {
        const runs = await claimed(c);
        return (await captureStatement('kairos', (s) => s.complete(runs.map((r) => ({ run_id: r.run_id, attempt: r.attempt, duration_ms: 1, output: null })), NODE.id, null))).values;
      })],
      ['failRuns (50 claimed runs, retried)', await explain(client, fail.text, async (c) => {
        const runs = await claimed(c);
        const items = runs.map((r) => ({ run_id: r.run_id, attempt: r.attempt, outcome: 'failed' as const, message: 'boom', delay_ms: 1000, duration_ms: 1, output: null }));
        return (await captureStatement('kairos', (s) => s.fail(items, NODE.id, null))).values;
      })],
      ['insertRuns (1000 runs)', await explain(client, insert.text, insert.values)],
      [`lockDueJobs (10 of 100 jobs due, ${backlog} pending runs)`, await explain(client, internals(kairos).store.queries.get('lockDueJobs'), seen.get('lockDueJobs') ?? [], MAKE_DUE)],
      ['nextJobDue (ticker)', await explain(client, internals(kairos).store.queries.get('nextJobDue'), seen.get('nextJobDue') ?? [])],
    ];
    const lines = ['| statement | execution ms | shared buffers |', '|---|---:|---:|'];
    for (const [label, e] of cases) lines.push(`| ${label} | ${e.ms.toFixed(2)} | ${e.buffers} |`);
    for (const [label, e] of cases) lines.push('', `${label}:`, '', '```', e.plan, '```');
    return lines.join('\n');
  } finally {
    await client.end().catch(() => undefined);
    await kairos.stop();
    await producer.close();
    await server.dropDatabase(name);
  }
}
