/**
 * The `kairos` command line: `demo` and `migrate` (the agent and job commands join later).
 */
import { Command, Option } from 'commander';
import { migrateCommand } from './migrate.js';
import { demoCommand } from './demo.js';
import { registerJobs } from './jobs.js';
import { registerRuns } from './runs.js';
import { registerDashboard } from './dashboard.js';
import { startCommand } from './start.js';
import { describeFailure, type ErrorContext } from './errors.js';
import { VERSION } from '../api/kairos.js';

/** Build the command tree (exported for tests). */
export function program(): Command {
  const cli = new Command('kairos').version(VERSION).description('Kairos: a PostgreSQL-native job scheduler');
  cli.exitOverride();
  const databaseUrl = (): Option => new Option('--database-url <url>', 'PostgreSQL connection string').env('DATABASE_URL');
  const schema = (): Option => new Option('--schema <name>', 'schema of the installation').env('KAIROS_SCHEMA').default('kairos');
  cli
    .command('migrate')
    .description('install or upgrade the Kairos schema')
    .addOption(databaseUrl())
    .addOption(schema())
    .action(migrateCommand);
  cli
    .command('demo')
    .description('run a demo: recurring and one-off jobs firing, retried and recorded (embedded PostgreSQL unless --database-url)')
    .addOption(databaseUrl())
    .addOption(new Option('--schema <name>', 'schema of the demo installation').default('kairos_demo'))
    .addOption(new Option('--duration <seconds>', 'stop by itself after this many seconds').argParser((v) => Number(v)))
    .addOption(new Option('--data-dir <dir>', 'embedded PostgreSQL data directory').default('.kairos/demo-pg'))
    .action(demoCommand);
  cli
    .command('start')
    .description('run an agent node: SQL, shell, multi-step and JS task jobs (embedded PostgreSQL when no database is given)')
    .option('--database-url <url>', 'PostgreSQL connection string (env DATABASE_URL)')
    .option('--listen-url <url>', 'direct or session-mode connection for LISTEN when --database-url is a transaction-mode pooler (env KAIROS_LISTEN_URL)')
    .option('--schema <name>', 'schema of the installation (env KAIROS_SCHEMA)')
    .option('--concurrency <n>', 'jobs at once (env KAIROS_CONCURRENCY)')
    .option('--queues <names>', 'comma-separated queues (env KAIROS_QUEUES)')
    .option('--poll-interval <duration>', 'polling fallback (env KAIROS_POLL_INTERVAL)')
    .option('--allow-shell', 'run shell jobs on this host (env KAIROS_ALLOW_SHELL)')
    .option('--prepared-statements <on>', 'true | false: prepare hot statements (off by itself behind a connection pooler; env KAIROS_PREPARED_STATEMENTS)')
    .option('--migrate', 'install or upgrade the schema first')
    .option('--config <file>', 'YAML configuration file')
    .option('--node-name <name>', 'this node\'s name (env KAIROS_NODE_NAME)')
    .option('--node-tags <tags>', 'comma-separated tags (env KAIROS_NODE_TAGS)')
    .option('--log-level <level>', 'debug | info | warn | error (env KAIROS_LOG_LEVEL)')
    .option('--log-format <format>', 'json | pretty | auto (env KAIROS_LOG_FORMAT)')
    .option('--tasks <paths...>', 'JS task modules or folders (env KAIROS_TASKS)')
    .option('--shutdown-timeout <duration>', 'grace period on SIGTERM (env KAIROS_SHUTDOWN_TIMEOUT)')
    .option('--http-port <port>', 'serve /healthz, /readyz and /metrics on this port (env KAIROS_HTTP_PORT)')
    .option('--http-host <address>', 'address of that server (env KAIROS_HTTP_HOST; default 127.0.0.1)')
    .action(startCommand);
  const common = (cmd: Command): Command => cmd.addOption(databaseUrl()).addOption(schema()).option('--json', 'JSON output for scripts');
  registerJobs(cli, common);
  registerRuns(cli, common);
  registerDashboard(cli);
  return cli;
}

/** What a command was pointed at, read from its arguments and environment, to name it in an error. */
function errorContext(argv: string[]): ErrorContext {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
  };
  return { databaseUrl: value('--database-url') ?? process.env.DATABASE_URL, schema: value('--schema') ?? process.env.KAIROS_SCHEMA ?? 'kairos' };
}

/** Run the CLI with `argv` (as process.argv). */
export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    const failure = describeFailure(error, errorContext(argv));
    if (failure.message) console.error(`kairos: ${failure.message}`);
    process.exitCode = failure.exitCode;
  }
}
