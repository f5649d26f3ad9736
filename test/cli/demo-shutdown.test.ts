/**
 * `kairos demo` never leaves its embedded PostgreSQL running: after SIGINT, SIGTERM, SIGHUP (the
 * terminal closed) and EPIPE (stdout piped to a reader that went away), the server's postmaster
 * is gone and its port refuses connections. Uncaught errors go through the same hooks
 * (src/cli/shutdown.ts), tested with a small process that owns a server and crashes, since nothing
 * outside the demo can make it throw. All demo cases share one data directory, initialised once.
 * `kairos start` without a database (its own embedded server) is checked with SIGHUP, the signal
 * it did not handle before; SIGINT and SIGTERM go through the same hooks.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { livePostmaster } from '../../src/embedded/postgres.js';
import { eventually } from '../helpers.js';
import { startCli } from './run-cli.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const dataDir = join(mkdtempSync(join(tmpdir(), 'kairos-demo-shutdown-')), 'pg');

after(async () => {
  // A failing case may have left the server up: stop it so the test leaves nothing behind.
  const pid = livePostmaster(dataDir);
  if (pid !== null) {
    process.kill(pid, 'SIGINT');
    await eventually(() => livePostmaster(dataDir) === null, 30_000, 'the leftover postmaster to stop');
  }
  rmSync(join(dataDir, '..'), { recursive: true, force: true });
});

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(false)));
    socket.on('error', () => resolve(true));
  });

/** Whether `pid` runs (a zombie does not: the postmaster's parent is PID 1, which may be slow to reap it). */
function runs(pid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    return stat !== '' && !/^\d+ \(.*\) Z/.test(stat);
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** After the process exited: no postmaster for the data dir, nothing on the port (bounded wait). */
async function assertServerGone(pid: number, port: number, why: string): Promise<void> {
  await eventually(() => livePostmaster(dataDir) === null, 20_000, `the embedded PostgreSQL (pid ${pid}) to be gone after ${why}`);
  assert.equal(runs(pid), false, `postmaster ${pid} still runs after ${why}`);
  assert.equal(await refused(port), true, `port ${port} still accepts connections after ${why}`);
}

/** Start the demo on the shared data dir; resolves once its node has started, with the server's pid and port. */
async function demo(): Promise<{ running: ReturnType<typeof startCli>; pid: number; port: number }> {
  const running = startCli(['demo', '--data-dir', dataDir], { DATABASE_URL: undefined });
  await running.waitFor(/Kairos node \S+ started/, 60_000);
  const port = Number(/127\.0\.0\.1:(\d+)\//.exec(running.output())?.[1]);
  const pid = livePostmaster(dataDir);
  assert.ok(pid !== null && port > 0, `the demo runs an embedded server: ${running.output()}`);
  return { running, pid, port };
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`${signal}: the demo stops its nodes and the embedded PostgreSQL, then exits`, async () => {
    const { running, pid, port } = await demo();
    running.child.kill(signal);
    const result = await running.exited;
    assert.match(result.stdout, /stopped cleanly/, result.stdout + result.stderr);
    assert.equal(result.code, 0, result.stderr);
    await assertServerGone(pid, port, signal);
  });
}

test('EPIPE: stdout closed early (as `kairos demo | head` does) stops the server instead of crashing', async () => {
  const { running, pid, port } = await demo();
  running.child.stdout!.destroy(); // the reader goes away; the demo's next line meets EPIPE
  const result = await running.exited;
  assert.doesNotMatch(result.stderr, /EPIPE|Unhandled 'error'/, result.stderr);
  assert.equal(result.code, 0, result.stderr);
  await assertServerGone(pid, port, 'EPIPE');
});

for (const how of ['throw', 'reject'] as const) {
  test(`an ${how === 'throw' ? 'uncaught exception' : 'unhandled rejection'} stops the embedded PostgreSQL before the process exits 1`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/cli/shutdown-crash.ts', dataDir, how], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const port = Number(/ready on port (\d+)/.exec(output)?.[1]);
    assert.ok(port > 0, output);
    assert.equal(code, 1, output);
    assert.match(output, how === 'throw' ? /an uncaught exception/ : /an unhandled rejection/);
    assert.equal(livePostmaster(dataDir), null, `the server still runs after the crash: ${output}`);
    assert.equal(await refused(port), true);
  });
}

test('kairos start with the embedded PostgreSQL: SIGHUP (the terminal closed) stops the node and the server', async () => {
  // start keeps its server in ./.kairos/agent-pg: run it in a folder of its own.
  const cwd = join(dataDir, '..', 'agent');
  mkdirSync(cwd);
  const env = { ...process.env, DATABASE_URL: undefined, KAIROS_LOG_FORMAT: 'json' };
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const started = new Promise<void>((resolve, reject) => {
    const check = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('kairos agent started')) resolve();
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('close', () => reject(new Error(`kairos start exited before starting: ${output}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  try {
    await started;
    const agentDir = join(cwd, '.kairos', 'agent-pg');
    const pid = livePostmaster(agentDir);
    assert.ok(pid !== null, `start runs an embedded server: ${output}`);
    child.kill('SIGHUP');
    assert.equal(await exited, 0, output);
    assert.match(output, /"stopped"/);
    await eventually(() => livePostmaster(agentDir) === null && !runs(pid), 20_000, `the agent's embedded PostgreSQL (pid ${pid}) to be gone after SIGHUP`);
  } finally {
    clearTimeout(killer);
    const pid = livePostmaster(join(cwd, '.kairos', 'agent-pg'));
    if (pid !== null) process.kill(pid, 'SIGINT'); // a failing run must not leave it up (after() waits for none on this dir)
  }
});
