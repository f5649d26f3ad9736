/**
 * The dashboard answers malformed requests with a 4xx and changes nothing (issue #12, item 8):
 * unreadable cookies, bodies over the limit on every POST route, bad percent-encoding in the
 * path, query or form, invalid UTF-8, NULs, the wrong content type, unknown methods, oversized
 * headers; with and without authentication. Requests are written byte for byte on a socket, as a
 * hostile client would send them. A genuine failure is still a 500, without details.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { fixture } from '../helpers.js';
import { Client, serve, type Served } from '../dashboard/serve.js';
import { MAX_FORM_BYTES } from '../../src/dashboard/request.js';

const db = await fixture();
const s = `"${db.schema}"`;
const jobId = Number((await db.pool.query(`SELECT job_id FROM ${s}.define_job('hardened', 'SELECT 1', every => '1 hour')`)).rows[0].job_id);
const TOKEN = randomBytes(16).toString('hex');
const open = await serve({ pool: db.pool, schema: db.schema });
const guarded = await serve({ pool: db.pool, schema: db.schema, auth: { token: TOKEN } });
const POST_ROUTES = ['/login', '/jobs', ...['run', 'enable', 'disable', 'delete', 'edit'].map((a) => `/jobs/${jobId}/${a}`), '/runs/1/cancel', '/logs/1/retry', '/nowhere'];

/** Everything a request could change. */
async function state(): Promise<string> {
  const { rows: [row] } = await db.pool.query(`SELECT
    (SELECT coalesce(jsonb_agg(to_jsonb(j) ORDER BY job_id), '[]') FROM ${s}.jobs j) AS jobs,
    (SELECT count(*) FROM ${s}.runs) AS runs, (SELECT count(*) FROM ${s}.job_logs) AS logs,
    (SELECT count(*) FROM ${s}.job_steps) AS steps`);
  return JSON.stringify(row);
}

/** A reply read off the socket. */
interface RawReply {
  status: number;
  head: string;
  body: string;
}

/**
 * Send `head` (request line and headers, without the blank line) and `body` as they are, and read
 * the reply until the server closes the connection (the request says Connection: close).
 */
async function raw(served: Served, head: string, body: Buffer | string = ''): Promise<RawReply> {
  const socket = net.connect(Number(new URL(served.origin).port), '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve, reject) => {
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  socket.write(`${head}\r\n\r\n`);
  if (body.length > 0) socket.write(body);
  await closed;
  const text = Buffer.concat(chunks).toString('latin1');
  const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
  assert.ok(match, `no HTTP reply: ${JSON.stringify(text.slice(0, 200))}`);
  const split = text.indexOf('\r\n\r\n');
  return { status: Number(match[1]), head: text.slice(0, split), body: text.slice(split + 4) };
}

/** A request head to `served` with the given extra header lines. */
function headOf(served: Served, method: string, path: string, headers: string[] = []): string {
  return [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${new URL(served.origin).port}`, 'Connection: close', ...headers].join('\r\n');
}

/** A POST of `body` (a Buffer or text) with its length and a form content type unless given. */
function post(served: Served, path: string, body: Buffer | string, headers: string[] = []): Promise<RawReply> {
  const typed = headers.some((h) => /^content-type:/i.test(h)) ? headers : ['Content-Type: application/x-www-form-urlencoded', ...headers];
  return raw(served, headOf(served, 'POST', path, [...typed, `Content-Length: ${Buffer.byteLength(body)}`]), body);
}

const is4xx = (reply: RawReply, what: string): void => assert.ok(reply.status >= 400 && reply.status < 500, `${what}: ${reply.status} ${reply.body.slice(0, 200)}`);

/** A browser session of `served`: its cookie header and a CSRF token for forms. */
async function session(served: Served): Promise<{ cookie: string; csrf: string }> {
  const client = new Client(served);
  const csrf = await client.csrf();
  const page = await client.request('/jobs');
  assert.equal(page.status, 200);
  const cookie = (client as unknown as { jar: Map<string, string> }).jar;
  return { cookie: `Cookie: ${[...cookie].map(([k, v]) => `${k}=${v}`).join('; ')}`, csrf };
}

test('malformed cookies are ignored: never a 500, and an unreadable session cookie signs nobody in', async () => {
  const before = await state();
  const junk = ['kairos_session=%E0%A4%A', ';;;==', 'kairos_session=%ZZ; kairos_csrf=%', '=; =x; kairos_csrf', `kairos_session=${'%'.repeat(500)}`, '__proto__=%E0; constructor=x'];
  for (const cookie of junk) {
    assert.equal((await raw(guarded, headOf(guarded, 'GET', '/jobs', [`Cookie: ${cookie}`]))).status, 401, `guarded, Cookie: ${cookie}`);
    assert.equal((await raw(guarded, headOf(guarded, 'GET', '/jobs', [`Cookie: ${cookie}`, `Authorization: Bearer ${TOKEN}`]))).status, 200, `the token still works next to Cookie: ${cookie}`);
    const page = await raw(open, headOf(open, 'GET', '/jobs', [`Cookie: ${cookie}`]));
    assert.equal(page.status, 200, `open, Cookie: ${cookie}: ${page.body.slice(0, 200)}`);
    assert.match(page.head, /Set-Cookie: kairos_csrf=/i, 'an unreadable CSRF cookie is replaced');
    const write = await post(open, `/jobs/${jobId}/disable`, '_csrf=anything', [`Cookie: ${cookie}`, `Origin: ${open.origin}`]);
    assert.equal(write.status, 403, `a write with Cookie: ${cookie}`);
  }
  assert.equal(await state(), before);
});

test('a body over the limit gets 413 on every POST route, with or without auth, and nothing changes', async () => {
  const before = await state();
  const big = `_csrf=x&name=${'x'.repeat(2 * 1024 * 1024)}`;
  for (const path of POST_ROUTES) {
    assert.equal((await post(open, path, big)).status, 413, `open ${path}`);
    assert.equal((await post(guarded, path, big, [`Authorization: Bearer ${TOKEN}`])).status, 413, `signed in ${path}`);
    // Without credentials nothing is read but the token of the sign-in form.
    assert.equal((await post(guarded, path, big)).status, path === '/login' ? 413 : 401, `not signed in ${path}`);
  }
  assert.equal((await post(open, '/jobs', `name=${'x'.repeat(MAX_FORM_BYTES - 5)}`)).status, 403, 'at the limit the form is read (then refused for its missing CSRF token)');
  assert.equal((await post(open, '/jobs', `name=${'x'.repeat(MAX_FORM_BYTES - 4)}`)).status, 413, 'one byte over');
  // Chunked, so that the size is only known while reading.
  const chunk = Buffer.from('x'.repeat(64 * 1024));
  const chunked = Buffer.concat([...Array.from({ length: 32 }, () => Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])), Buffer.from('0\r\n\r\n')]);
  assert.equal((await raw(open, headOf(open, 'POST', '/jobs', ['Content-Type: application/x-www-form-urlencoded', 'Transfer-Encoding: chunked']), chunked)).status, 413, 'chunked');
  // A declared length far over the limit is refused before a byte of the body is sent.
  assert.equal((await raw(open, headOf(open, 'POST', '/jobs', ['Content-Type: application/x-www-form-urlencoded', `Content-Length: ${2 ** 30}`]))).status, 413, 'declared 1 GiB');
  assert.equal(await state(), before);
});

test('bad percent-encoding in the path or query, a NUL, an unparseable target and unknown methods get a 4xx', async () => {
  const before = await state();
  const bad400 = ['/jobs/%ZZ', `/jobs/${jobId}%E0%A4%A`, '/jobs?q=%E0%A4%A', '/jobs?q=%', '/jobs?q=a%00b', '/jobs?status=%00', '/api/preview?cron=%ZZ', '//', '//%ZZ'];
  for (const path of bad400) {
    const reply = await raw(open, headOf(open, 'GET', path));
    assert.equal(reply.status, 400, `${path}: ${reply.body.slice(0, 200)}`);
    assert.doesNotMatch(reply.body, /\n\s+at /, 'no stack trace');
    is4xx(await raw(guarded, headOf(guarded, 'GET', path)), `guarded ${path}`);
  }
  for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    assert.equal((await raw(open, headOf(open, method, `/jobs/${jobId}`, ['Content-Length: 3']), 'a=b')).status, 405, method);
    assert.equal((await raw(guarded, headOf(guarded, method, `/jobs/${jobId}`, [`Authorization: Bearer ${TOKEN}`]))).status, 405, `guarded ${method}`);
  }
  is4xx(await raw(open, headOf(open, 'GET', '/jobs', [`Cookie: ${'x'.repeat(64 * 1024)}`])), 'a header over the server\'s limit');
  is4xx(await raw(guarded, headOf(guarded, 'GET', '/jobs', ['Authorization: Basic %%%', 'Origin: ::::'])), 'junk credentials');
  // Bad input is a 4xx; a missing schema is a 503 page saying how to install it (issue #15), without details.
  const broken = await serve({ pool: db.pool, schema: `missing_${randomBytes(4).toString('hex')}` });
  const failed = await raw(broken, headOf(broken, 'GET', '/jobs'));
  assert.equal(failed.status, 503);
  assert.match(failed.body, /kairos migrate --schema missing_/);
  assert.doesNotMatch(failed.body, /\n\s+at |relation|does not exist/);
  assert.equal((await raw(broken, headOf(broken, 'GET', '/jobs?q=%ZZ'))).status, 400, 'bad input is refused before the database is asked');
  assert.equal(await state(), before);
});

test('malformed forms (bad encoding, invalid UTF-8, NUL, deep JSON, wrong content type) get a 4xx and write nothing', async () => {
  const { cookie, csrf } = await session(open);
  const auth = [cookie, `Origin: ${open.origin}`];
  const form = (fields: string): string => `_csrf=${encodeURIComponent(csrf)}&${fields}`;
  const job = 'kind=task&command=t&schedule_kind=manual&name=';
  const before = await state();
  const cases: Array<[string, Buffer | string, string[], number]> = [
    ['bad percent-encoding', form(`${job}x%ZZ`), [], 400],
    ['truncated UTF-8 escape', form(`${job}x%E0%A4%A`), [], 400],
    ['raw invalid UTF-8', Buffer.concat([Buffer.from(form(`${job}x`)), Buffer.from([0xff, 0xfe])]), [], 400],
    ['NUL in a field', form(`${job}a%00b`), [], 400],
    ['NUL in a field name', form(`${job}ok&x%00=1`), [], 400],
    ['bad JSON', form(`${job}json-job&payload=%7B`), [], 400],
    ['JSON nested 100 000 deep', form(`${job}deep-job&payload=${'['.repeat(100_000)}${']'.repeat(100_000)}`), [], 400],
    ['JSON content', JSON.stringify({ _csrf: csrf, name: 'x' }), ['Content-Type: application/json'], 415],
    ['multipart', `--b\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${csrf}\r\n--b--\r\n`, ['Content-Type: multipart/form-data; boundary=b'], 415],
    ['no content type', form(`${job}x`), ['Content-Type:'], 415],
  ];
  for (const [what, body, headers, status] of cases) {
    const reply = await post(open, '/jobs', body, [...auth, ...headers]);
    assert.equal(reply.status, status, `${what}: ${reply.body.slice(0, 300)}`);
    assert.doesNotMatch(reply.body, /\n\s+at /, `${what}: no stack trace`);
  }
  const fine = await post(open, '/jobs', form(`${job}fine-job`), auth);
  assert.equal(fine.status, 303, `a well-formed form still works: ${fine.body.slice(0, 300)}`);
  await db.pool.query(`DELETE FROM ${s}.jobs WHERE job_name = 'fine-job'`);
  assert.equal(await state(), before);
});
