/**
 * Connections to the databases SQL jobs target: the scheduler's own pool for its database, and
 * a small pool per other database (same server, or a named connection of the agent).
 */
import pg from 'pg';
import { KairosValidationError } from '../../core/errors.js';
import { guardCheckedOutClients } from '../../store/db.js';

/** Where SQL runs. */
export class Connections {
  private readonly others = new Map<string, pg.Pool>();

  constructor(
    /** The scheduler's pool. */
    readonly local: pg.Pool,
    /** The connection string of the scheduler's database (other databases are derived from it). */
    private readonly baseUrl: string | undefined,
    /** Named connection strings from the agent's configuration. */
    private readonly named: Record<string, string> = {},
  ) {}

  /** The pool for a job's target (null: the scheduler's database). */
  poolFor(database: string | null, connection: string | null): pg.Pool {
    if (connection) {
      const url = this.named[connection];
      if (!url) throw new KairosValidationError('connection', `No connection named "${connection}" is configured on this agent`);
      return this.pool(`conn:${connection}`, url);
    }
    if (!database) return this.local;
    if (!this.baseUrl) throw new KairosValidationError('database', `Cannot reach database "${database}": the agent was given a pool, not a connection string`);
    const url = new URL(this.baseUrl);
    url.pathname = `/${encodeURIComponent(database)}`;
    return this.pool(`db:${database}`, url.toString());
  }

  private pool(key: string, url: string): pg.Pool {
    let pool = this.others.get(key);
    if (!pool) {
      pool = new pg.Pool({ connectionString: url, max: 4, application_name: 'kairos-sql-job' });
      pool.on('error', () => undefined);
      guardCheckedOutClients(pool);
      this.others.set(key, pool);
    }
    return pool;
  }

  /** Close the pools of other databases. */
  async close(): Promise<void> {
    await Promise.all([...this.others.values()].map((p) => p.end().catch(() => undefined)));
    this.others.clear();
  }
}
