/**
 * A real PgBouncer (Debian's package, /usr/sbin/pgbouncer) in transaction mode in front of the
 * test server, on a free loopback port, for the tests in this folder. Without the binary the
 * tests skip with a loud line, unless KAIROS_REQUIRE_PGBOUNCER=1 (set by .ci/run, which installs
 * it), where a missing PgBouncer fails them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

/** Where PgBouncer is looked for (KAIROS_PGBOUNCER overrides). */
export const PGBOUNCER_PATH = process.env.KAIROS_PGBOUNCER ?? '/usr/sbin/pgbouncer';

/** A running PgBouncer. */
export interface Bouncer {
  /** `url` with host and port replaced by PgBouncer's. */
  url(url: string): string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Why the PgBouncer tests cannot run here (undefined when they can). Throws when they are
 * required (KAIROS_REQUIRE_PGBOUNCER=1) and cannot.
 */
export function pgbouncerMissing(): string | undefined {
  if (existsSync(PGBOUNCER_PATH)) return undefined;
  const why = `PgBouncer not found at ${PGBOUNCER_PATH}: the PgBouncer tests are SKIPPED (apt-get install -y pgbouncer, or set KAIROS_PGBOUNCER)`;
  if (process.env.KAIROS_REQUIRE_PGBOUNCER === '1') throw new Error(`${why}; KAIROS_REQUIRE_PGBOUNCER=1 makes them required`);
  console.log(`\n*** ${why} ***\n`);
  return why;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port (bounded). */
async function accepting(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on ${port} within 10 s: ${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Start PgBouncer in front of the server of `serverUrl`: transaction pooling, few server
 * connections (so that clients share them, as in production), plain-text userlist for the URL's
 * user. PgBouncer refuses to run as root: as root it runs as the `postgres` or `nobody` user.
 */
export async function startPgBouncer(serverUrl: string, options: { poolMode?: 'transaction' | 'session'; poolSize?: number } = {}): Promise<Bouncer> {
  const server = new URL(serverUrl);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kairos-pgbouncer-'));
  const user = decodeURIComponent(server.username || userInfo().username);
  const password = decodeURIComponent(server.password);
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" "${password}"\n`);
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${server.hostname} port=${server.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    "unix_socket_dir = ''",
    'auth_type = md5',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    `pool_mode = ${options.poolMode ?? 'transaction'}`,
    `default_pool_size = ${options.poolSize ?? 4}`,
    'max_client_conn = 500',
    'ignore_startup_parameters = extra_float_digits,options',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    '',
  ].join('\n'));
  let uid: number | undefined;
  let gid: number | undefined;
  if (process.getuid?.() === 0) {
    const name = ['postgres', 'nobody'].find((n) => {
      try {
        execFileSync('id', ['-u', n], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })!;
    uid = Number(execFileSync('id', ['-u', name]).toString());
    gid = Number(execFileSync('id', ['-g', name]).toString());
    chownSync(dir, uid, gid);
    for (const file of ['userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, file), uid, gid);
  }
  chmodSync(join(dir, 'userlist.txt'), 0o600);
  let output = '';
  const child = spawn(PGBOUNCER_PATH, [join(dir, 'pgbouncer.ini')], { uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await accepting(port, child, () => output);
  return {
    port,
    url(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
