/**
 * `kairos start`: the agent. One node that runs every kind of job — SQL, shell (when allowed),
 * multi-step, and JavaScript tasks from modules given on the command line — configured by flags,
 * environment and a YAML file; the embedded PostgreSQL when no database is given.
 */
import pg from 'pg';
import { Kairos } from '../api/kairos.js';
import { loadAgentConfig, redactConfig, type AgentConfig } from './config.js';
import { agentLogger } from './logger.js';
import { loadTaskModules } from './tasks.js';
import { rememberEmbeddedUrl, forgetEmbeddedUrl } from './connect.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../embedded/postgres.js';
import { redactConnectionString } from '../core/redact.js';
import { schemaVersion, latestVersion } from '../store/migrate.js';
import type { Logger } from '../core/logger.js';
import { applyDeclaredJobs } from './declared-jobs.js';
import { exitOnShutdown } from './shutdown.js';
import { logRuns } from './run-log.js';
import { createMetrics } from '../observability/metrics.js';
import { createAlerts } from '../observability/alerts.js';
import { startObservabilityServer, type ObservabilityServer } from '../observability/http.js';
import { KairosDatabaseError, KairosStateError } from '../core/errors.js';

/** Check the database answers and the schema is installed, with messages an operator can act on. */
async function preflight(url: string, config: AgentConfig): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
  try {
    const version = await schemaVersion(pool, config.schema).catch((error: Error) => {
      throw new KairosDatabaseError(`cannot reach the database at ${redactConnectionString(url)}: ${error.message}`, { cause: error });
    });
    if (!config.migrate && version < latestVersion()) {
      throw new KairosStateError(version === 0
        ? `Kairos is not installed in schema "${config.schema}": run \`kairos migrate\` or start with --migrate`
        : `schema "${config.schema}" is at version ${version}, this agent needs ${latestVersion()}: run \`kairos migrate\` or start with --migrate`);
    }
  } finally {
    await pool.end();
  }
}

/**
 * Stop the node, then the embedded server, on SIGTERM, SIGINT or SIGHUP, closed output or an
 * uncaught error (shutdown.ts), then exit. Never resolves: the process ends there.
 */
function untilShutdown(kairos: Kairos, logger: Logger, afterStop: () => Promise<void>, stopServer: () => Promise<void>): Promise<never> {
  exitOnShutdown(async (reason) => {
    logger.info({ signal: reason }, 'stopping: running jobs finish or are handed back');
    try {
      await kairos.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping failed'));
      await afterStop().catch((error: unknown) => logger.error({ err: error }, 'stopping alerts and probes failed'));
    } finally {
      await stopServer();
    }
    logger.info({}, 'stopped');
  }, (error) => logger.error({ err: error }, 'stopping the embedded PostgreSQL failed'));
  return new Promise<never>(() => undefined);
}

/** Action of `kairos start`. */
export async function startCommand(flags: Record<string, unknown>): Promise<void> {
  const config = await loadAgentConfig({ flags, env: process.env, configFile: flags.config as string | undefined });
  const logger = agentLogger(config.logLevel, config.logFormat);
  logger.info({ config: redactConfig(config) }, 'kairos agent configuration');
  for (const note of config.notes ?? []) logger.info({}, note);
  let server: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  if (!url) {
    server = await startEmbeddedPostgres({ dataDir: '.kairos/agent-pg' });
    url = server.url;
    rememberEmbeddedUrl(url);
    logger.info({ database: redactConnectionString(url), dataDir: server.dataDir }, 'no database given: using the embedded PostgreSQL');
    config.migrate = true;
  }
  const embedded = server;
  const stopServer = async (): Promise<void> => {
    if (!embedded) return;
    forgetEmbeddedUrl();
    await embedded.stop();
  };
  let web: ObservabilityServer | undefined;
  try {
    await preflight(url, config);
    const tasks = await loadTaskModules(config.tasks);
    const kairos = new Kairos({
      connectionString: url, listenConnectionString: config.listenUrl ?? undefined, schema: config.schema, concurrency: config.concurrency, queues: config.queues,
      pollInterval: config.pollInterval, nodeName: config.nodeName ?? undefined, nodeTags: config.nodeTags,
      runSqlJobs: true, allowShell: config.allowShell, connections: config.connections, preparedStatements: config.preparedStatements,
      shutdownTimeout: config.shutdownTimeout, migrate: config.migrate, logger, tasks,
    });
    // Declared jobs before the node starts (after the schema, when it is this agent's to install).
    if (config.jobs?.length) {
      if (config.migrate) await kairos.migrate();
      await applyDeclaredJobs(url, config.schema, config.jobs, logger);
    }
    // Observers first, so the first attempt is counted; the probes answer while the node starts.
    const metrics = createMetrics(kairos);
    const alerts = createAlerts(kairos, { checkedRules: config.alerts ?? [], registry: metrics.registry });
    if (config.httpPort !== undefined) {
      web = await startObservabilityServer(kairos, { port: config.httpPort, host: config.httpHost, metrics });
      logger.info({ url: web.url }, `probes and metrics on ${web.url} (/healthz, /readyz, /metrics)`);
    }
    const stopRunLog = logRuns(kairos, logger);
    await kairos.start();
    logger.info({ node: kairos.nodeId, tasks: Object.keys(tasks), shell: config.allowShell }, 'kairos agent started');
    await untilShutdown(kairos, logger, async () => {
      stopRunLog();
      await alerts.close(5000);
      metrics.close();
      await web?.close();
    }, stopServer);
  } catch (error) {
    await web?.close();
    await stopServer().catch(() => undefined);
    throw error;
  }
}
