import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { fixture } from '../helpers.js';
import { drain, silentLogger as silentLoggerForTests } from '../../src/testing/index.js';
import { Kairos, createMetrics, observabilityHandler, startObservabilityServer } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';
import { parseMetrics, value } from './support.js';
import { startCli } from '../cli/run-cli.js';

const db = await fixture();

/** A user's own server with the handler mounted under /ops; anything else is the user's. */
async function userServer(handler: ReturnType<typeof observabilityHandler>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(418).end('the user\'s own route');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('the handler mounts into any Node server: /healthz, /readyz, /metrics; other paths are left alone', async () => {
  const kairos = db.node({ tasks: { ok: () => 1 } });
  const metrics = createMetrics(kairos);
  await kairos.enqueue('ok', {});
  assert.equal(await drain(kairos), 1);
  const server = await userServer(observabilityHandler(kairos, { metrics, prefix: '/ops/' }));
  try {
    const health = await fetch(`${server.url}/ops/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${server.url}/ops/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { status: string; version: number; expected: number };
    assert.equal(body.status, 'ready');
    assert.equal(body.version, body.expected);
    const scraped = await fetch(`${server.url}/ops/metrics`);
    assert.equal(scraped.status, 200);
    assert.match(scraped.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    assert.equal(value(parseMetrics(await scraped.text()), 'kairos_runs_started_total', { job: 'ok' }), 1);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 418, 'outside the prefix: the user\'s');
    assert.equal((await fetch(`${server.url}/ops/elsewhere`)).status, 418);
    const post = await fetch(`${server.url}/ops/readyz`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const head = await fetch(`${server.url}/ops/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  } finally {
    await server.close();
    metrics.close();
  }
  const bare = await userServer(observabilityHandler(kairos));
  try {
    assert.equal((await fetch(`${bare.url}/metrics`)).status, 404, 'no metrics given: 404');
  } finally {
    await bare.close();
  }
});

test('/readyz is 503 with a reason until the schema is migrated, and when the database is unreachable', async () => {
  const schema = `obs_${randomBytes(4).toString('hex')}`;
  const kairos = new Kairos({ connectionString: db.connectionString, schema, logger: silentLoggerForTests, migrate: false });
  const web = await startObservabilityServer(kairos, { port: 0 });
  try {
    assert.match(web.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'binds 127.0.0.1 by default');
    let res = await fetch(`${web.url}/readyz`);
    assert.equal(res.status, 503);
    let body = (await res.json()) as { status: string; reason: string; version: number };
    assert.equal(body.status, 'not ready');
    assert.equal(body.version, 0);
    assert.match(body.reason, new RegExp(`not installed in schema "${schema}"`));
    assert.equal((await fetch(`${web.url}/healthz`)).status, 200, 'alive all the same');
    await kairos.migrate();
    res = await fetch(`${web.url}/readyz`);
    assert.equal(res.status, 200);
    body = (await res.json()) as { status: string; reason: string; version: number };
    assert.equal(body.status, 'ready');
    assert.equal((await fetch(`${web.url}/nowhere`)).status, 404);
  } finally {
    await web.close();
    await db.pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await internals(kairos).pool.end();
  }
  const down = new Kairos({ connectionString: 'postgres://kairos:pw@127.0.0.1:1/none', logger: silentLoggerForTests });
  const web2 = await startObservabilityServer(down, { port: 0, readyTimeoutMs: 5000 });
  try {
    const res = await fetch(`${web2.url}/readyz`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { reason: string; version: null };
    assert.equal(body.version, null);
    assert.match(body.reason, /^database unreachable: /);
  } finally {
    await web2.close();
    await internals(down).pool.end();
  }
});

test('kairos start --http-port serves the probes and metrics of the agent', async () => {
  const agent = startCli(['start', '--database-url', db.connectionString, '--schema', db.schema, '--http-port', '0', '--log-format', 'json', '--log-level', 'info', '--poll-interval', '1']);
  try {
    await agent.waitFor('kairos agent started');
    const url = /probes and metrics on (http:\/\/127\.0\.0\.1:\d+)/.exec(agent.output())?.[1];
    assert.ok(url, agent.output());
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const m = parseMetrics(await (await fetch(`${url}/metrics`)).text());
    assert.ok(value(m, 'kairos_nodes_live') >= 1);
    assert.equal(value(m, 'kairos_node_active_runs'), 0);
    agent.child.kill('SIGTERM');
    const result = await agent.exited;
    assert.equal(result.code, 0, result.stderr);
    await assert.rejects(fetch(`${url}/healthz`), 'the server is closed with the agent');
  } finally {
    agent.child.kill('SIGKILL');
  }
});

test('KAIROS_HTTP_PORT starts the server too; a port in use stops the agent with a clear error', async () => {
  const blocker = http.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as AddressInfo).port;
  try {
    const nodesBefore = await db.count('nodes');
    const agent = startCli(['start', '--database-url', db.connectionString, '--schema', db.schema, '--log-format', 'json'], { KAIROS_HTTP_PORT: String(port) });
    const result = await agent.exited;
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
    assert.equal(await db.count('nodes'), nodesBefore, 'the node never registered');
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});
