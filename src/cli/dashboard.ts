/**
 * `kairos dashboard`: serve the web dashboard. Binds to 127.0.0.1 unless --host says otherwise,
 * and refuses to listen anywhere else without authentication (KAIROS_DASHBOARD_TOKEN and/or
 * KAIROS_DASHBOARD_USER + KAIROS_DASHBOARD_PASSWORD).
 */
import http from 'node:http';
import { Option, type Command } from 'commander';
import { databaseUrl } from './connect.js';
import { agentLogger } from './logger.js';
import { KairosStateError, KairosValidationError } from '../core/errors.js';
import { createDashboard, type Dashboard, type DashboardAuth } from '../dashboard/index.js';

/** Flags of `kairos dashboard`. */
interface DashboardFlags {
  databaseUrl?: string;
  schema: string;
  host: string;
  port: string;
  readOnly?: boolean;
  basePath?: string;
  role?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Authentication from the environment (nothing when none of the variables is set). */
export function authFromEnv(env: NodeJS.ProcessEnv, role?: string): DashboardAuth {
  const auth: DashboardAuth = {};
  if (env.KAIROS_DASHBOARD_TOKEN) auth.token = env.KAIROS_DASHBOARD_TOKEN;
  if (env.KAIROS_DASHBOARD_USER || env.KAIROS_DASHBOARD_PASSWORD) {
    if (!env.KAIROS_DASHBOARD_USER || !env.KAIROS_DASHBOARD_PASSWORD) {
      throw new KairosValidationError('KAIROS_DASHBOARD_USER', 'Expected both KAIROS_DASHBOARD_USER and KAIROS_DASHBOARD_PASSWORD for basic auth, got only one');
    }
    auth.users = [{ name: env.KAIROS_DASHBOARD_USER, password: env.KAIROS_DASHBOARD_PASSWORD }];
  }
  if (role) auth.role = role;
  return auth;
}

/** Whether a host is the loopback interface only. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase());
}

/** Why the port could not be listened on, in words (EADDRINUSE, EACCES, EADDRNOTAVAIL), with the cause. */
function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as { code?: string }).code;
  const why = code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use (another dashboard or program listens there); choose another with --port`
    : code === 'EACCES' ? `no permission to listen on port ${port} of ${host}; choose a port above 1023 with --port`
      : code === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine; choose another with --host`
        : `cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`;
  return new KairosStateError(`Cannot start the dashboard: ${why}`, { cause: error });
}

/** Say at start, in one line, when the database does not answer or the schema is not installed (the dashboard still serves: /healthz says 503 until it is fixed). */
async function reportHealth(dashboard: Dashboard, schema: string): Promise<void> {
  const health = await dashboard.health();
  if (health.status === 'database-unreachable') console.error('kairos: the dashboard cannot reach the database (check DATABASE_URL / --database-url and that PostgreSQL runs); it keeps trying, /healthz answers 503 meanwhile');
  else if (!health.ok) console.error(`kairos: Kairos is not installed in schema "${schema}" (or is older than this dashboard): run \`kairos migrate --schema ${schema}\`; pages explain it meanwhile`);
}

async function serve(flags: DashboardFlags): Promise<void> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new KairosValidationError('port', `Expected \`--port\` to be a port number from 0 to 65535, got "${flags.port}"`);
  const auth = authFromEnv(process.env, flags.role);
  const authenticated = Boolean(auth.token || auth.users?.length);
  if (!isLoopback(flags.host) && !authenticated) {
    throw new KairosValidationError('host', `Refusing to serve the dashboard on ${flags.host} without authentication: set KAIROS_DASHBOARD_TOKEN (16+ characters) and/or KAIROS_DASHBOARD_USER and KAIROS_DASHBOARD_PASSWORD, or bind to 127.0.0.1`);
  }
  const logger = agentLogger(process.env.KAIROS_LOG_LEVEL ?? 'info', 'auto');
  const dashboard = createDashboard({ connectionString: databaseUrl(flags.databaseUrl), schema: flags.schema, basePath: flags.basePath, readOnly: Boolean(flags.readOnly), auth, logger });
  const server = http.createServer(dashboard);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, flags.host, () => resolve());
    });
  } catch (error) {
    // Close the pool and timers so the process exits at once with the message, not a stack trace.
    await dashboard.close();
    throw listenError(error, flags.host, port);
  }
  const address = server.address();
  const shown = typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : `${flags.host}:${port}`;
  console.log(`Kairos dashboard on http://${shown}${dashboard.basePath}/ (schema ${flags.schema}${flags.readOnly ? ', read-only' : ''}${authenticated ? ', authentication on' : ''})`);
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      server.closeAllConnections();
      server.close(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await reportHealth(dashboard, flags.schema);
  await stopped;
  await dashboard.close();
}

/** Register `kairos dashboard` on the program. */
export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('serve the web dashboard (127.0.0.1 unless --host; auth from KAIROS_DASHBOARD_TOKEN / _USER + _PASSWORD)')
    .addOption(new Option('--database-url <url>', 'PostgreSQL connection string').env('DATABASE_URL'))
    .addOption(new Option('--schema <name>', 'schema of the installation').env('KAIROS_SCHEMA').default('kairos'))
    .addOption(new Option('--host <address>', 'address to listen on').env('KAIROS_DASHBOARD_HOST').default('127.0.0.1'))
    .addOption(new Option('--port <n>', 'port to listen on').env('KAIROS_DASHBOARD_PORT').default('8080'))
    .addOption(new Option('--read-only', 'hide and refuse every change').env('KAIROS_DASHBOARD_READ_ONLY'))
    .addOption(new Option('--base-path <path>', 'URL path to serve under, e.g. /kairos').default(''))
    .addOption(new Option('--role <name>', 'database role the signed-in user acts as (SET ROLE; RLS applies)').env('KAIROS_DASHBOARD_ROLE'))
    .action(serve);
}
