/**
 * Issue #15: every driver error a command can meet becomes a message that says what to fix, with
 * the password masked: unreachable (refused, unknown host, timeout), refused login, missing
 * database, a schema without an installation, a URL that is not postgres://.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { fixture } from '../helpers.js';
import { kairos } from './run-cli.js';

const db = await fixture();
const SECRET = 'hunter2-secret';
const url = (change: (u: URL) => void): string => {
  const u = new URL(db.connectionString);
  change(u);
  return u.toString();
};
const list = (databaseUrl: string, env: Record<string, string> = {}) => kairos(['jobs', 'list', '--database-url', databaseUrl, '--schema', db.schema], { env });

/** A TCP server that accepts connections and never answers (a black hole with a listener). */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const { server, port } = await silentServer();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a schema without an installation: says so and how to install it, exit 1', async () => {
  const result = await kairos(['jobs', 'list', '--database-url', db.connectionString, '--schema', 'nothere']);
  assert.equal(result.code, 1);
  assert.equal(result.stderr.trim(), 'kairos: schema "nothere" has no Kairos installation; run `kairos migrate --schema nothere` or check --schema');
  assert.doesNotMatch(result.stderr, /relation/);
  const runs = await kairos(['runs', 'list', '--database-url', db.connectionString, '--schema', 'nothere']);
  assert.match(runs.stderr, /schema "nothere" has no Kairos installation/);
});

test('a closed port: connection refused, with the URL masked', async () => {
  const port = await closedPort();
  const result = await list(url((u) => { u.port = String(port); u.password = SECRET; }));
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`cannot reach the database at postgres://[^:]+:\\*\\*\\*@127\\.0\\.0\\.1:${port}/.*connection refused; is PostgreSQL running there`));
  assert.doesNotMatch(result.stderr, new RegExp(SECRET));
  assert.doesNotMatch(result.stderr, /connect ECONNREFUSED/);
});

test('an unknown host: says the name does not resolve', async () => {
  const result = await list(url((u) => { u.hostname = 'no-such-host.invalid'; u.password = SECRET; }));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /cannot reach the database at .*no-such-host\.invalid.*host name does not resolve; check the host/);
  assert.doesNotMatch(result.stderr, new RegExp(SECRET));
});

test('a server that never answers: a timeout after PGCONNECT_TIMEOUT, not a hang', async () => {
  const { server, port, sockets } = await silentServer();
  after(() => { sockets.forEach((s) => s.destroy()); server.close(); });
  const result = await list(url((u) => { u.port = String(port); u.password = SECRET; }), { PGCONNECT_TIMEOUT: '1' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /cannot reach the database at .*: the connection timed out; check the host, port and firewall/);
  assert.doesNotMatch(result.stderr, new RegExp(SECRET));
});

test('a wrong password: the login was refused, the password never shown', async () => {
  const result = await list(url((u) => { u.password = SECRET; }));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /refused the login: password authentication failed for user "[^"]+"; check the user and password/);
  assert.doesNotMatch(result.stderr, new RegExp(SECRET));
});

test('a missing database: names it and how to fix it', async () => {
  const result = await list(url((u) => { u.pathname = '/no_such_database'; }));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /database "no_such_database" does not exist.*check the database name at the end of --database-url, or create it first/);
  assert.doesNotMatch(result.stderr, new RegExp(`:${new URL(db.connectionString).password}@`));
});

test('a URL that is not postgres:// is refused before connecting, exit 2; migrate too', async () => {
  const result = await list(`mysql://root:${SECRET}@db.example/app`);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--database-url must start with postgres:\/\/ or postgresql:\/\/, got mysql:\/\//);
  assert.doesNotMatch(result.stderr, new RegExp(SECRET));
  const migrate = await kairos(['migrate', '--database-url', 'not a url', '--schema', db.schema]);
  assert.equal(migrate.code, 2);
  assert.match(migrate.stderr, /--database-url is not a URL/);
  const ok = await list(db.connectionString.replace(/^postgres:/, 'postgresql:'));
  assert.equal(ok.code, 0, ok.stderr);
});
