/**
 * The engine through a real PgBouncer 1.18 in transaction mode (issue #15): the pool's
 * connections go through the pooler, and a server connection serves whichever client has a
 * transaction running. Kairos must keep no session state there: prepared statements, session
 * advisory locks (exclusive runs, the pruner, migrations) and LISTEN all broke before. LISTEN goes
 * to `listenConnectionString` (direct); without it LISTEN is found deaf, said so, and polled around.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fixture, eventually } from '../helpers.js';
import type { Logger } from '../../src/core/logger.js';
import { latestVersion } from '../../src/store/migrate.js';
import { pgbouncerMissing, startPgBouncer, type Bouncer } from './pgbouncer.js';

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

/** A logger that keeps what was said at warn and error. */
function recordingLogger(): Logger & { said: Array<{ level: string; msg: string; obj: object }> } {
  const said: Array<{ level: string; msg: string; obj: object }> = [];
  const logger = {
    said,
    debug: () => undefined,
    info: () => undefined,
    warn: (obj: object, msg?: string) => void said.push({ level: 'warn', msg: msg ?? '', obj }),
    error: (obj: object, msg?: string) => void said.push({ level: 'error', msg: msg ?? '', obj }),
    child: () => logger,
  };
  return logger;
}

/** Whether nobody holds the advisory lock Kairos takes for `key` (probed and let go on a direct connection). */
async function lockFree(key: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT pg_try_advisory_lock(hashtext($1)) AS free', [key]);
    if (rows[0].free) await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
    return rows[0].free as boolean;
  } finally {
    await client.end();
  }
}

test('runs enqueued and completed through the pooler: no prepared-statement clash, every run once', { skip: missing }, async () => {
  const logger = recordingLogger();
  const seen: number[] = [];
  const nodes = [1, 2].map(() =>
    db.node({ connectionString: pooled, listenConnectionString: db.connectionString, logger, concurrency: 4, tasks: { work: (p: { i: number }) => void seen.push(p.i) } }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  for (let i = 0; i < 40; i++) await nodes[i % 2]!.enqueue('work', { i });
  await eventually(() => seen.length >= 40, { timeoutMs: 20_000, what: '40 runs done' });
  await Promise.all(nodes.map((n) => n.stop()));
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i), 'each run exactly once');
  assert.equal(await db.count('runs', "status <> 'completed'"), 0);
  assert.deepEqual(logger.said.filter((s) => s.level === 'error'), [], 'nothing logged at error');
});

test('exclusive runs through the pooler: all six run, never two at once, and no lock is left on a pooled server connection', { skip: missing }, async () => {
  let running = 0;
  let overlaps = 0;
  let done = 0;
  const work = async (): Promise<void> => {
    running++;
    if (running > 1) overlaps++;
    await new Promise((resolve) => setTimeout(resolve, 30));
    running--;
    done++;
  };
  const tasks = { solo: { handler: work, exclusive: true } };
  const nodes = [1, 2].map(() => db.node({ connectionString: pooled, listenConnectionString: db.connectionString, concurrency: 3, pollInterval: 100, tasks }));
  await Promise.all(nodes.map((n) => n.start()));
  for (let i = 0; i < 6; i++) await nodes[0]!.enqueue('solo', { i });
  await eventually(() => done >= 6, { timeoutMs: 30_000, what: 'six exclusive runs done' });
  assert.equal(overlaps, 0, 'no two exclusive runs at once');
  await Promise.all(nodes.map((n) => n.stop()));
  assert.ok(await lockFree(`${db.schema}:solo`), 'the exclusive lock is free after the runs');
  // The pruner's pass took and let go of its own lock the same way.
  assert.ok(await lockFree(`kairos-prune:${db.schema}`), 'the pruner lock is free');
});

test('migrations through the pooler: two nodes install a fresh schema at once, and the lock is free afterwards', { skip: missing }, async () => {
  const schema = `test_pgb_${randomBytes(4).toString('hex')}`;
  const nodes = [1, 2].map(() => db.node({ connectionString: pooled, listenConnectionString: db.connectionString, schema, migrate: true }));
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const { rows } = await db.pool.query(`SELECT max(version)::int AS n FROM "${schema}".migrations`);
    assert.equal(rows[0].n, latestVersion(), 'every migration applied');
    assert.ok(await lockFree(`kairos-migrate:${schema}`), 'the migration lock is not left on a server connection');
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

test('LISTEN through the pooler is found deaf: one warning, no hand-off offered, runs still picked up by polling', { skip: missing }, async () => {
  const logger = recordingLogger();
  let ran = 0;
  const node = db.node({ connectionString: pooled, logger, pollInterval: 100, tasks: { deaf: () => void ran++ } });
  await node.start();
  try {
    const warnings = logger.said.filter((s) => s.level === 'warn' && /LISTEN does not deliver/.test(s.msg));
    assert.equal(warnings.length, 1, 'one warning says LISTEN is deaf and names listenConnectionString');
    assert.match(warnings[0]!.msg, /listenConnectionString/);
    await node.enqueue('deaf', {});
    await eventually(() => ran === 1, { timeoutMs: 10_000, what: 'the run picked up by polling' });
    assert.equal(await db.count('handoffs', 'node_id = $1', [node.nodeId]), 0, 'a node that cannot hear a hand-off never offers itself');
  } finally {
    await node.stop();
  }
});

test('with a direct listenConnectionString the node hears NOTIFY: it offers itself for hand-off while idle', { skip: missing }, async () => {
  const node = db.node({ connectionString: pooled, listenConnectionString: db.connectionString, tasks: { idle: () => undefined } });
  await node.start();
  try {
    await eventually(async () => (await db.count('handoffs', 'node_id = $1', [node.nodeId])) === 1, { timeoutMs: 10_000, what: 'the idle node armed for hand-off' });
  } finally {
    await node.stop();
  }
});

test('a bad listenConnectionString is refused when the node is made', () => {
  assert.throws(() => db.node({ listenConnectionString: 'mysql://x' }), { name: 'KairosValidationError', message: /Expected `listenConnectionString` to be a postgres:\/\/ URL/ });
});

