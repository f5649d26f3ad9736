/**
 * The trust boundary behind a transaction-mode pooler (T17 in docs/security.md): a SQL job's role
 * never reaches a statement on another server connection. A real PgBouncer 1.18 in front of the
 * test server (test/pooler/pgbouncer.ts; skipped loudly without it, required in CI).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fixture, eventually } from '../helpers.js';
import { pgbouncerMissing, startPgBouncer, type Bouncer } from '../pooler/pgbouncer.js';

const missing = pgbouncerMissing();
const db = await fixture();
let bouncer: Bouncer;
let pooled: string;
before(async () => {
  if (missing) return;
  bouncer = await startPgBouncer(db.connectionString);
  pooled = bouncer.url(db.connectionString);
});
after(async () => bouncer?.stop());

test('SQL jobs through the pooler: run as their owner; a statement that needs autocommit is refused for good, before any role is set', { skip: missing }, async () => {
  const owner = `pgb_owner_${randomBytes(3).toString('hex')}`;
  await db.pool.query(`CREATE ROLE ${owner} NOLOGIN`);
  await db.pool.query(`CREATE TABLE public.${owner}_seen (who text)`);
  await db.pool.query(`GRANT INSERT ON public.${owner}_seen TO ${owner}`);
  const s = `"${db.schema}"`;
  const define = (name: string, command: string) =>
    db.pool.query(`SELECT * FROM ${s}.define_job(job_name => $1, command => $2, job_type => 'sql', run_as => $3)`, [name, command, owner]);
  try {
    await define('pgb-insert', `INSERT INTO public.${owner}_seen SELECT current_user`);
    await define('pgb-vacuum', `VACUUM public.${owner}_seen`);
    const node = db.node({ connectionString: pooled, listenConnectionString: db.connectionString, runSqlJobs: true, pollInterval: 100 });
    await node.start();
    try {
      const ok = await node.trigger('pgb-insert');
      const refused = await node.trigger('pgb-vacuum');
      // A finished run leaves the runs table; its history entries stay.
      const status = async (runId: number): Promise<string> => (await db.pool.query(`SELECT status FROM ${s}.job_logs WHERE run_id = $1 ORDER BY log_id DESC LIMIT 1`, [runId])).rows[0]?.status;
      await eventually(async () => (await status(ok)) === 'completed' && (await status(refused)) === 'failed', { timeoutMs: 15_000, what: 'both SQL jobs finished' });
      const { rows } = await db.pool.query(`SELECT who FROM public.${owner}_seen`);
      assert.deepEqual(rows, [{ who: owner }], 'the job ran as its owner');
      const log = await db.pool.query(`SELECT status, message FROM ${s}.job_logs WHERE run_id = $1 ORDER BY log_id`, [refused]);
      assert.equal(log.rows.length, 1, 'the refusal is not retried');
      assert.match(log.rows[0].message, /VACUUM must run outside a transaction, which Kairos does not do through a connection pooler/);
    } finally {
      await node.stop();
    }
  } finally {
    await db.pool.query(`DROP TABLE IF EXISTS public.${owner}_seen`);
    await db.pool.query(`DROP OWNED BY ${owner}; DROP ROLE ${owner}`).catch(() => undefined);
  }
});
