/**
 * Whether the dashboard can do its work: the database answers and Kairos is installed in the
 * schema (at the version this code needs). `/healthz` reports it; a page that fails because the
 * schema is missing shows one clear page instead of a 500; and the periodic work (queue sampling,
 * the live-update check) logs one short line when it starts failing and one when it recovers,
 * not a stack trace on every tick.
 */
import type pg from 'pg';
import { latestVersion, schemaVersion } from '../store/migrate.js';
import type { Logger } from '../core/logger.js';
import { scrub } from './db.js';
import { html, layout, type Html, type PageContext } from './html.js';

/** What `/healthz` answers (nothing else: no versions of the server, no error text, no data). */
export interface Health {
  ok: boolean;
  /** ok | schema-missing | schema-outdated | database-unreachable */
  status: 'ok' | 'schema-missing' | 'schema-outdated' | 'database-unreachable';
}

/** How long the probe waits for the database. */
const PROBE_TIMEOUT_MS = 2000;
// undefined_table, invalid_schema_name, undefined_function: what a query meets when the schema is absent.
const MISSING_STATES = new Set(['42P01', '3F000', '42883']);

/** The schema's state and the log-once rule of one dashboard. */
export class SchemaWatch {
  /** The message last logged for each failing source (cleared when it works again). */
  private readonly failing = new Map<string, string>();

  constructor(private readonly pool: pg.Pool, readonly schema: string, private readonly logger: Logger) {}

  /** Whether an error may mean the schema is not installed (then check() tells). */
  static mayBeMissing(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && MISSING_STATES.has(code);
  }

  /** Ask the database now (bounded by PROBE_TIMEOUT_MS). */
  async check(): Promise<Health> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), PROBE_TIMEOUT_MS)));
      const version = await Promise.race([schemaVersion(this.pool, this.schema), timeout]);
      if (version === 0) return { ok: false, status: 'schema-missing' };
      return version >= latestVersion() ? { ok: true, status: 'ok' } : { ok: false, status: 'schema-outdated' };
    } catch {
      return { ok: false, status: 'database-unreachable' };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The one-line explanation of a failure (schema missing, or the error's own message without secrets). */
  explain(error: unknown): string {
    if (SchemaWatch.mayBeMissing(error)) return `Kairos is not installed in schema "${this.schema}" (or is older than this dashboard): run \`kairos migrate --schema ${this.schema}\``;
    return scrub(error instanceof Error ? error.message : String(error));
  }

  /** `source` failed: logged once (one line, no stack) until it works again or fails differently. */
  failed(source: string, error: unknown): void {
    const message = this.explain(error);
    if (this.failing.get(source) === message) return;
    this.failing.set(source, message);
    this.logger.error({ source, schema: this.schema }, `dashboard ${source} failed: ${message} (logged once until it recovers)`);
  }

  /** `source` worked: if it had failed, say it recovered. */
  succeeded(source: string): void {
    if (!this.failing.delete(source)) return;
    this.logger.info({ source, schema: this.schema }, `dashboard ${source} works again`);
  }
}

/** The page every request gets while the schema is missing or outdated: what is wrong and how to fix it. */
export function schemaPage(ctx: PageContext, health: Health): Html {
  const command = `kairos migrate --schema ${ctx.schema}`;
  const what = health.status === 'schema-outdated'
    ? html`Schema <code>${ctx.schema}</code> holds an older version of Kairos than this dashboard needs.`
    : health.status === 'database-unreachable'
      ? html`The database does not answer.`
      : html`Kairos is not installed in schema <code>${ctx.schema}</code> of this database.`;
  const body = html`<div class="title"><h1>Kairos is not ready</h1></div>
<section class="setup" data-health="${health.status}"><p>${what}</p>
${health.status === 'database-unreachable' ? html`<p>Check the connection string (DATABASE_URL) and that PostgreSQL is running.</p>`
    : html`<p>Install or upgrade it with:</p><pre class="command">${command}</pre><p>(or start a node with <code>kairos start --migrate</code>), then reload this page.</p>`}</section>`;
  return layout(ctx, 'Not ready', '', body);
}
