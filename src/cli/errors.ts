/**
 * The one place that turns what failed in a CLI command into a message an operator can act on
 * and an exit code scripts can rely on: driver errors (unreachable, refused password, missing
 * database or installation), commander's usage errors, and Kairos's own typed errors. Messages
 * never carry a password: a URL is shown through redactConnectionString.
 */
import { KairosConflictError, KairosDatabaseError, KairosNotFoundError, KairosValidationError } from '../core/errors.js';
import { redactConnectionString } from '../core/redact.js';
import { EXIT } from './output.js';

/** What the command was talking to, to name it in the message. */
export interface ErrorContext {
  databaseUrl?: string;
  schema?: string;
}

/** What to print and how to exit. */
export interface CliFailure {
  message: string;
  exitCode: number;
}

interface DriverError {
  code?: string;
  message?: string;
  errors?: DriverError[];
  cause?: unknown;
}

/** The first error in the cause chain (or an AggregateError's list) with a driver code. */
function driverError(error: unknown): DriverError | undefined {
  for (let e = error as DriverError | undefined, depth = 0; e && depth < 5; e = e.cause as DriverError | undefined, depth++) {
    if (typeof e.code === 'string' && !e.code.startsWith('KAIROS_')) return e;
    const inner = e.errors?.find((x) => typeof x.code === 'string');
    if (inner) return inner;
  }
  return undefined;
}

/** pg's connection timeouts carry no code, only their text: found anywhere in the cause chain. */
const CONNECT_TIMEOUT = /connection timeout|timeout expired|timeout exceeded when trying to connect/i;

function timeoutError(error: unknown): DriverError | undefined {
  for (let e = error as DriverError | undefined, depth = 0; e && depth < 5; e = e.cause as DriverError | undefined, depth++) {
    if (CONNECT_TIMEOUT.test(e.message ?? '')) return { code: 'ETIMEDOUT', message: e.message };
  }
  return undefined;
}

/** A database URL is `postgres://` or `postgresql://`; anything else is refused before connecting. */
export function assertPostgresUrl(url: string): string {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new KairosValidationError('database-url', `--database-url is not a URL: ${JSON.stringify(redactConnectionString(url))}; write it as postgres://USER:PASSWORD@HOST:5432/DATABASE`);
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new KairosValidationError('database-url', `--database-url must start with postgres:// or postgresql://, got ${protocol}// (${redactConnectionString(url)}); write it as postgres://USER:PASSWORD@HOST:5432/DATABASE`);
  }
  return url;
}

/** Where the URL points, for messages: host, port and database, the password masked. */
function where(context: ErrorContext): string {
  return context.databaseUrl ? ` at ${redactConnectionString(context.databaseUrl)}` : '';
}

/** The message and fix for a driver error, or undefined when it is not one we know. */
function describeDriverError(e: DriverError, context: ErrorContext): string | undefined {
  const message = e.message ?? '';
  const schema = context.schema ?? 'kairos';
  switch (e.code) {
    case 'ECONNREFUSED':
      return `cannot reach the database${where(context)}: connection refused; is PostgreSQL running there, on that host and port? (check --database-url or DATABASE_URL)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach the database${where(context)}: its host name does not resolve; check the host in --database-url or DATABASE_URL`;
    case 'ETIMEDOUT':
      return `cannot reach the database${where(context)}: the connection timed out; check the host, port and firewall (PGCONNECT_TIMEOUT sets the wait in seconds)`;
    case '28P01':
    case '28000':
      return `the database${where(context)} refused the login: ${message}; check the user and password in --database-url or DATABASE_URL`;
    case '3D000':
      return `${message}${where(context)}: check the database name at the end of --database-url, or create it first (createdb)`;
    case '3F000':
      return `schema "${schema}" has no Kairos installation; run \`kairos migrate --schema ${schema}\` or check --schema`;
    case '42P01': {
      // A Kairos table missing from the schema asked for: the installation is not there.
      const relation = /relation "([^"]+)"/.exec(message)?.[1] ?? '';
      if (relation.startsWith(`${schema}.`) || relation.startsWith(`"${schema}".`)) return `schema "${schema}" has no Kairos installation; run \`kairos migrate --schema ${schema}\` or check --schema`;
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Commander's codes that are not failures (help and version were asked for). */
const COMMANDER_OK = new Set(['commander.helpDisplayed', 'commander.version', 'commander.executeSubCommandAsync']);

/** The message and exit code for anything a command threw. */
export function describeFailure(error: unknown, context: ErrorContext = {}): CliFailure {
  const code = (error as { code?: unknown } | null)?.code;
  // Commander printed its own message already (with its "did you mean"); only the code is ours.
  if (typeof code === 'string' && code.startsWith('commander.')) {
    const ok = COMMANDER_OK.has(code) || (code === 'commander.help' && (error as { exitCode?: number }).exitCode === 0);
    return { message: '', exitCode: ok ? EXIT.ok : EXIT.usage };
  }
  const driver = driverError(error) ?? timeoutError(error);
  const known = driver && describeDriverError(driver, context);
  if (known) return { message: known, exitCode: EXIT.failure };
  const text = scrub(error instanceof Error ? error.message : String(error), context);
  const sqlState = driver?.code;
  if (error instanceof KairosNotFoundError || sqlState === 'P0002') return { message: text, exitCode: EXIT.notFound };
  if (error instanceof KairosValidationError || error instanceof KairosConflictError || error instanceof SyntaxError || sqlState === '22023' || sqlState === '42501') return { message: text, exitCode: EXIT.usage };
  if (error instanceof KairosDatabaseError) return { message: text, exitCode: EXIT.failure };
  return { message: text, exitCode: EXIT.failure };
}

/** A message with the URL's password masked, wherever the driver or a wrapper quoted it. */
function scrub(message: string, context: ErrorContext): string {
  if (!context.databaseUrl) return message;
  let out = message.split(context.databaseUrl).join(redactConnectionString(context.databaseUrl));
  try {
    const password = decodeURIComponent(new URL(context.databaseUrl).password);
    if (password.length >= 3) out = out.split(password).join('***');
  } catch {
    // Not a URL: nothing more to mask than the whole string.
  }
  return out;
}
