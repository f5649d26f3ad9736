/**
 * Security issue #12 (class 7): PostgreSQL lets any role that can connect NOTIFY (and LISTEN on)
 * any channel, and node ids are visible to all in pg_stat_activity. Here the attacker is a LOGIN
 * role with no grant at all on the Kairos schema, on its own connection: a node must act on no
 * NOTIFY content it has not authenticated (docs/architecture.md, "NOTIFY authentication").
 *
 * "Changed nothing" is shown with a marker: the forged message is sent first, then a real one
 * through the same channel; NOTIFY delivery follows commit order, so once the marker's effect is
 * seen the forged message has been handled too.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { fixture, eventually } from '../helpers.js';
import { silentLogger, waitForRun, waitForStatus } from '../../src/testing/index.js';
import type { Logger, StatusChange, TaskContext } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';
import { asRole } from './as-role.js';

const db = await fixture();
const s = `"${db.schema}"`;
const channel = `kairos:${db.schema}`;
const eveRole = `eve_${randomBytes(4).toString('hex')}`;
const evePassword = randomBytes(16).toString('hex');
await db.pool.query(`CREATE ROLE ${eveRole} LOGIN PASSWORD '${evePassword}'`);
const attackers: pg.Client[] = [];
after(async () => {
  for (const client of attackers) await client.end().catch(() => undefined);
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  await client.query(`DROP OWNED BY ${eveRole}; DROP ROLE ${eveRole}`).catch(() => undefined);
  await client.end();
});

/** A connection as eve: same server and database, her own user and password, no grant. */
async function eve(): Promise<pg.Client> {
  const url = new URL(db.connectionString);
  const client = new pg.Client({
    host: url.hostname, port: Number(url.port || 5432), database: decodeURIComponent(url.pathname.slice(1)),
    user: eveRole, password: evePassword, application_name: 'eve',
  });
  await client.connect();
  attackers.push(client);
  const { rows } = await client.query('SELECT has_schema_privilege(current_user, $1, $2) AS usage', [db.schema, 'USAGE']);
  assert.equal(rows[0].usage, false, 'eve has no grant on the Kairos schema');
  return client;
}

/** What eve learns from pg_stat_activity: the node ids of every listening node. */
async function discover(attacker: pg.Client, node: { nodeId: string }): Promise<string> {
  const { rows } = await attacker.query<{ app: string }>("SELECT application_name AS app FROM pg_stat_activity WHERE application_name LIKE 'kairos-listener:%'");
  const ids = rows.map((r) => r.app.slice('kairos-listener:'.length));
  assert.ok(ids.includes(node.nodeId), 'the node id is visible to a role without grants');
  return node.nodeId;
}

/** NOTIFY the installation's channel as eve (a string is sent as it is). */
async function forge(attacker: pg.Client, message: unknown): Promise<void> {
  await attacker.query('SELECT pg_notify($1, $2)', [channel, typeof message === 'string' ? message : JSON.stringify(message)]);
}

/** eve LISTENs and keeps the payloads of type `t`. */
async function capture(attacker: pg.Client, t: string): Promise<string[]> {
  const kept: string[] = [];
  attacker.on('notification', (m) => {
    if (m.payload?.startsWith(`{"t" : "${t}"`) || m.payload?.startsWith(`{"t":"${t}"`)) kept.push(m.payload);
  });
  await attacker.query(`LISTEN "${channel}"`);
  return kept;
}

/** Wait until an eavesdropper saw run `id` handed over (the node may be armed again by the time one looks at the row). */
async function handedOver(captured: string[], id: number): Promise<void> {
  await eventually(async () => captured.some((p) => (JSON.parse(p) as { run_id?: number }).run_id === id), 10_000, `run ${id} to be handed over`);
}

async function handoffOf(node: { nodeId: string }): Promise<number | null | undefined> {
  const { rows } = await db.pool.query(`SELECT run_id FROM ${s}.handoffs WHERE node_id = $1`, [node.nodeId]);
  return rows.length === 0 ? undefined : (rows[0].run_id as number | null);
}

const armed = (node: { nodeId: string }): Promise<void> => eventually(async () => (await handoffOf(node)) === null, 10_000, 'the idle node to be armed');

async function runRow(id: number): Promise<{ status: string; node_id: string | null } | undefined> {
  const { rows } = await db.pool.query(`SELECT status, node_id FROM ${s}.runs WHERE run_id = $1`, [id]);
  return rows[0];
}

/** The id the next run will get (the test's own superuser session reads the sequence). */
async function nextRunId(): Promise<number> {
  const { rows: [{ seq }] } = await db.pool.query("SELECT pg_get_serial_sequence($1, 'run_id') AS seq", [`${s}.runs`]);
  const { rows } = await db.pool.query(`SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END AS next FROM ${seq as string}`);
  return Number(rows[0].next);
}

test('a forged cancel changes nothing: the run completes; a real cancel still stops its run, with its reason', async () => {
  const release = new Map<number, () => void>();
  const aborted: number[] = [];
  const hold = (p: { i: number }, ctx: TaskContext): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      release.set(p.i, resolve);
      ctx.signal.addEventListener('abort', () => {
        aborted.push(p.i);
        reject(ctx.signal.reason as Error);
      });
    });
  const worker = db.node({ pollInterval: 30_000, concurrency: 2, tasks: { hold } });
  const operator = db.node({ queues: ['elsewhere'] });
  await worker.start();
  const attacker = await eve();
  const victim = await operator.enqueue('hold', { i: 1 });
  const marker = await operator.enqueue('hold', { i: 2 });
  await eventually(async () => release.size === 2, 10_000, 'both runs to start');

  const id = await discover(attacker, worker);
  await forge(attacker, { t: 'cancel', run: victim.id, node: id, reason: 'forged by eve' });
  await forge(attacker, { t: 'cancel', run: String(victim.id), node: id });
  const markerDone = waitForRun(worker, marker.id);
  await db.pool.query(`SELECT ${s}.cancel_run($1, $2)`, [marker.id, 'stopped by the operator']);
  assert.equal((await markerDone).next, 'cancelled');
  assert.deepEqual(aborted, [2], 'only the run the database says to cancel was aborted');
  assert.deepEqual(await runRow(victim.id), { status: 'running', node_id: worker.nodeId });

  const victimDone = waitForRun(worker, victim.id);
  release.get(1)!();
  assert.equal((await victimDone).next, 'completed');
  assert.deepEqual((await operator.history({ runId: victim.id })).map((l) => [l.status, l.attempt]), [['completed', 1]]);
  const [markerLog] = await operator.history({ runId: marker.id });
  assert.deepEqual([markerLog?.status, markerLog?.message], ['cancelled', 'stopped by the operator'], 'the reason comes from the database');
  await Promise.all([worker.stop(), operator.stop()]);
});

test('a tenant still cancels its own running run through cancel_run, and the node records the tenant\'s reason', async () => {
  const tenant = `tenant_${randomBytes(4).toString('hex')}`;
  await db.pool.query(`CREATE ROLE ${tenant} NOLOGIN IN ROLE job_scheduler`);
  const as = (sql: string, values: unknown[]): Promise<pg.QueryResult> => asRole(db.pool, tenant, sql, values);
  let started = false;
  const worker = db.node({
    pollInterval: 30_000,
    tasks: { tenantTask: (_p: unknown, ctx: TaskContext) => new Promise<void>((_resolve, reject) => {
      started = true;
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
    }) },
  });
  try {
    await worker.start();
    const { rows: [{ id }] } = await as(`SELECT ${s}.enqueue('tenantTask') AS id`, []);
    await eventually(async () => started, 10_000, 'the tenant\'s run to start');
    const done = waitForRun(worker, Number(id));
    const { rows: [{ outcome }] } = await as(`SELECT ${s}.cancel_run($1, $2) AS outcome`, [id, 'the tenant changed its mind']);
    assert.equal(outcome, 'cancelling');
    assert.equal((await done).next, 'cancelled');
    const [log] = await worker.history({ runId: Number(id) });
    assert.deepEqual([log?.status, log?.message], ['cancelled', 'the tenant changed its mind']);
  } finally {
    await worker.stop();
    await db.pool.query(`DELETE FROM ${s}.job_logs WHERE owner = $1`, [tenant]);
    await db.pool.query(`DROP OWNED BY ${tenant}; DROP ROLE ${tenant}`);
  }
});

test('a forged hand-off to an idle node changes nothing: no handler call, nothing remembered, the real runs with those ids run', async () => {
  const calls: unknown[] = [];
  const worker = db.node({ pollInterval: 30_000, tasks: { rec: (p: unknown) => void calls.push(p) } });
  const producer = db.node({ queues: ['elsewhere'] });
  await worker.start();
  await armed(worker);
  const attacker = await eve();
  const id = await discover(attacker, worker);
  const seen = await capture(await eve(), 'handoff');
  const next = await nextRunId();
  const forged = {
    t: 'handoff', n: id, run_id: next, task: 'rec', queue: 'default', priority: 5, payload: { evil: 1 }, key: null,
    at: Date.now(), max_retries: 0, backoff_ms: 1000, backoff_max_ms: 1000, timeout_ms: null, lock_key: null,
  };
  await forge(attacker, forged);
  await forge(attacker, { ...forged, payload: { evil: 2 }, k: randomUUID() });
  // The form of a payload too large for the NOTIFY: the node reads the run from the database.
  await forge(attacker, { t: 'handoff', n: id, run_id: next + 1 });

  const done = waitForRun(worker, next);
  const real = await producer.enqueue('rec', { real: 1 });
  assert.equal(real.id, next);
  assert.equal((await done).next, 'completed');
  await handedOver(seen, next);
  await armed(worker);
  const secondDone = waitForRun(worker, next + 1);
  const second = await producer.enqueue('rec', { real: 2 });
  assert.equal(second.id, next + 1);
  assert.equal((await secondDone).next, 'completed');
  await handedOver(seen, next + 1);
  assert.deepEqual(calls, [{ real: 1 }, { real: 2 }], 'the forged payloads never reached the handler');
  await Promise.all([worker.stop(), producer.stop()]);
});

test('a real hand-off replayed by a listener runs nothing again, right away or long after', async () => {
  const calls = new Map<number, number>();
  const worker = db.node({ pollInterval: 30_000, tasks: { again: (p: { i: number }) => void calls.set(p.i, (calls.get(p.i) ?? 0) + 1) } });
  const producer = db.node({ queues: ['elsewhere'] });
  await worker.start();
  const attacker = await eve();
  const captured = await capture(attacker, 'handoff');
  const handOff = async (i: number): Promise<void> => {
    await armed(worker);
    const done = waitForStatus(worker, (c) => c.key === `r${i}` && c.next === 'completed');
    const { id } = await producer.enqueue('again', { i }, { key: `r${i}` });
    await done;
    await handedOver(captured, id);
  };
  await handOff(0);
  const [original] = captured;
  await forge(attacker, original);
  await handOff(1); // the marker
  assert.equal(calls.get(0), 1);
  // Long after: more hand-offs than the node remembers run ids of.
  for (let i = 2; i < 36; i++) await handOff(i);
  await forge(attacker, original);
  await forge(attacker, { ...(JSON.parse(original!) as object), payload: { i: 99 } });
  await handOff(36);
  assert.equal(calls.get(0), 1, 'the replayed run did not run again');
  assert.equal(calls.get(99), undefined, 'nor a copy with another payload');
  assert.ok([...calls.values()].every((n) => n === 1));
  await Promise.all([worker.stop(), producer.stop()]);
});

test('forged or replayed status events are not re-emitted by a clusterEvents node; real ones still arrive', async () => {
  const observer = db.node({ clusterEvents: true, queues: ['elsewhere'] });
  const sender = db.node({ clusterEvents: true, pollInterval: 30_000, tasks: { told: () => undefined } });
  const got: StatusChange[] = [];
  observer.on('status', (c: StatusChange) => void got.push(c));
  await Promise.all([observer.start(), sender.start()]);
  const attacker = await eve();
  const captured = await capture(attacker, 'status');
  const event = { runId: 424242, job: 'forged', task: 'forged', key: null, previous: 'running', next: 'completed' };
  await forge(attacker, { t: 'status', node: 'someone-else', events: [event] });
  await forge(attacker, { t: 'status', node: sender.nodeId, seq: 1, at: Date.now(), events: [event] });
  await forge(attacker, `${JSON.stringify({ t: 'status', node: sender.nodeId, seq: 2, at: Date.now(), events: [event] }).slice(0, -1)},"mac":"${'0'.repeat(64)}"}`);

  const first = waitForStatus(observer, (c) => c.key === 'm1' && c.next === 'completed');
  await sender.enqueue('told', {}, { key: 'm1' });
  await first;
  assert.deepEqual(got.filter((c) => c.task === 'forged'), []);
  await eventually(async () => captured.some((p) => p.includes('"m1"') && p.includes('completed')), 10_000, 'eve to see the real status event');
  for (const payload of [...captured]) await forge(attacker, payload);
  const second = waitForStatus(observer, (c) => c.key === 'm2' && c.next === 'completed');
  await sender.enqueue('told', {}, { key: 'm2' });
  await second;
  assert.equal(got.filter((c) => c.key === 'm1' && c.next === 'completed').length, 1, 'a replayed event is not emitted twice');
  assert.deepEqual(got.filter((c) => c.task === 'forged'), []);
  await Promise.all([observer.stop(), sender.stop()]);
});

/**
 * 2 000 forged NOTIFYs of every type: garbage, wrong types, out-of-range times, and first 500
 * due times in the next 250 ms (ahead of every real one: enough to fill the producer's list).
 */
function flood(nodeId: string): string[] {
  const now = Date.now();
  const soon = (i: number): string => new Date(now + 10 + (i % 250)).toISOString();
  const out = Array.from({ length: 500 }, (_, i) => JSON.stringify({ t: 'runs', q: 'default', at: soon(i), x: i }));
  const shapes: Array<(i: number) => unknown> = [
    (i) => `not json ${i} {`,
    (i) => (i % 4 === 0 ? 'null' : i % 4 === 1 ? `[${i}]` : i % 4 === 2 ? `"runs${i}"` : String(i)),
    (i) => ({ t: 'runs', q: 'default', at: new Date(now + 400 + i).toISOString(), x: i }),
    (i) => ({ t: 'runs', q: 'default', at: ['infinity', '-infinity', 'NaN', 1e308, -1e308, {}, [soon(i)], true, null, '275760-09-13T00:00:00Z'][i % 10], x: i }),
    (i) => ({ t: 'runs', q: [i % 2 === 0 ? 'default' : 123][0], at: new Date(now - i).toISOString(), x: i }),
    (i) => ({ t: 'runs', x: i }),
    (i) => ({ t: 'jobs', at: ['infinity', soon(i), 1e308, 'x'][i % 4], plan: ['yes', 1, true, null][i % 4], x: i }),
    (i) => ({ t: 'handoff', n: nodeId, run_id: 1_000_000 + i, task: 'timed', queue: 'default', payload: { name: `evil${i}` }, k: randomUUID() }),
    (i) => ({ t: 'handoff', n: nodeId, run_id: [1e308, -1, 'x', null][i % 4] }),
    (i) => ({ t: 'cancel', run: 1_000_000 + i, node: nodeId }),
    (i) => ({ t: 'status', node: `n${i}`, events: i % 2 === 0 ? [{ runId: i }] : 'x' }),
    (i) => ({ t: i, q: 'default' }),
  ];
  for (let i = 0; out.length < 2000; i++) {
    const shape = shapes[i % shapes.length]!(i);
    out.push(typeof shape === 'string' ? shape : JSON.stringify(shape));
  }
  return out;
}

test('a flood of forged and malformed wake-ups: bounded, coalesced claims, no errors, and real retries and delayed runs start on time', async () => {
  const complaints: unknown[] = [];
  const logger: Logger = { ...silentLogger, warn: (o, m) => void complaints.push([m, o]), error: (o, m) => void complaints.push([m, o]), child: () => logger };
  const lateness = new Map<string, number>();
  const timed = (p: { name: string; fail?: boolean }, ctx: TaskContext): void => {
    if (p.fail && ctx.attempt === 1) throw new Error('the first attempt fails');
    lateness.set(p.name, ctx.latenessMs);
  };
  const worker = db.node({ logger, pollInterval: 30_000, concurrency: 4, tasks: { timed } });
  const producer = db.node({ queues: ['elsewhere'] });
  await worker.start();
  await armed(worker);
  const attacker = await eve();
  const id = await discover(attacker, worker);
  // Every named query goes through the Store's private execute (the typed methods call it).
  const store = internals(worker).store as unknown as { claim: (...args: unknown[]) => Promise<unknown>; execute: (...args: unknown[]) => Promise<unknown> };
  const [claim, execute] = [store.claim.bind(internals(worker).store), store.execute.bind(internals(worker).store)];
  let claims = 0;
  let queries = 0;
  store.claim = (...args) => ((claims++), claim(...args));
  store.execute = (...args) => ((queries++), execute(...args));

  // Two retries, due 300–600 ms and 1–2 s after their first attempts fail; then the flood.
  const retrying = ['early', 'late'].map((key) => waitForStatus(worker, (c) => c.key === key && c.next === 'pending'));
  await producer.enqueueMany([
    { task: 'timed', payload: { name: 'early', fail: true }, key: 'early', retries: 1, backoff: 600 },
    { task: 'timed', payload: { name: 'late', fail: true }, key: 'late', retries: 1, backoff: 2000 },
  ]);
  await Promise.all(retrying);
  const messages = flood(id);
  for (let i = 0; i < messages.length; i += 500) {
    await attacker.query('SELECT pg_notify($1, m) FROM unnest($2::text[]) m', [channel, messages.slice(i, i + 500)]);
  }
  // The marker: a real run due now, through the same channel.
  const marked = waitForStatus(worker, (c) => c.key === 'marker' && c.next === 'completed');
  await producer.enqueue('timed', { name: 'marker' }, { key: 'marker' });
  await marked;
  // A run enqueued elsewhere, due in 300 ms: its NOTIFY's due time is looked up, not trusted.
  const delayed = waitForStatus(worker, (c) => c.key === 'delayed' && c.next === 'completed', 20_000);
  await producer.enqueue('timed', { name: 'delayed' }, { key: 'delayed', delay: 300 });
  await delayed;
  await eventually(async () => lateness.has('early') && lateness.has('late'), 40_000, 'both retries to run');

  for (const name of ['early', 'late', 'delayed']) {
    assert.ok(lateness.get(name)! < 3_000, `${name} started ${lateness.get(name)} ms late (poll interval 30 s)`);
  }
  assert.deepEqual([...lateness.keys()].sort(), ['delayed', 'early', 'late', 'marker'], 'no forged hand-off ran');
  assert.ok(claims <= 30, `2 000 forged NOTIFYs and 5 real runs caused ${claims} claims`);
  assert.ok(queries <= 150, `2 000 forged NOTIFYs and 5 real runs caused ${queries} queries`);
  assert.deepEqual(complaints, [], 'malformed notifications are ignored without errors');
  await Promise.all([worker.stop(), producer.stop()]);
});

test('hand-off tokens and the installation secret are readable by no tenant role, even after a blanket GRANT', async () => {
  const { rows: roles } = await db.pool.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [['job_scheduler', 'job_monitor', eveRole]]);
  assert.equal(roles.length, 3);
  for (const { rolname } of roles) {
    for (const table of ['handoffs', 'notify_secret']) {
      const { rows } = await db.pool.query('SELECT has_table_privilege($1, $2, $3) AS can', [rolname, `${s}.${table}`, 'SELECT']);
      assert.equal(rows[0].can, false, `${rolname} may not read ${table}`);
    }
  }
  const worker = db.node({ tasks: { tok: () => undefined } });
  await worker.start();
  await armed(worker);
  assert.equal(await db.count('handoffs', 'token IS NOT NULL AND node_id = $1', [worker.nodeId]), 1);
  // An operator re-running a blanket grant (as docs/sql.md's re-grant does for job_monitor):
  // row-level security without a policy still shows no row to anyone but the owner.
  await db.pool.query(`GRANT USAGE ON SCHEMA ${s} TO ${eveRole}; GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${eveRole}`);
  try {
    const client = await eveWithGrants();
    for (const table of ['handoffs', 'notify_secret']) {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${s}.${table}`);
      assert.equal(rows[0].n, 0, `${table}: no row visible`);
    }
  } finally {
    await db.pool.query(`REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${eveRole}; REVOKE USAGE ON SCHEMA ${s} FROM ${eveRole}`);
  }
  await worker.stop();
});

/** eve's connection once she has been granted USAGE (eve() asserts she has none). */
async function eveWithGrants(): Promise<pg.Client> {
  const url = new URL(db.connectionString);
  const client = new pg.Client({ host: url.hostname, port: Number(url.port || 5432), database: decodeURIComponent(url.pathname.slice(1)), user: eveRole, password: evePassword });
  await client.connect();
  attackers.push(client);
  return client;
}
