/**
 * Is there a connection pooler between Kairos and PostgreSQL? PgBouncer, Supavisor and RDS Proxy
 * answer a connection with a process id (BackendKeyData) of their own, since the client may be
 * served by any server connection; a direct connection's process id is the server process's.
 * So the two differ exactly when a pooler is in between. Kairos then keeps no session state on
 * such connections (docs/operations.md, "Behind a connection pooler"): no named prepared
 * statements, and SQL jobs that must run outside a transaction are refused.
 */
import type pg from 'pg';
import type { Queries } from './queries.js';

/** The process id the connection was given at connect time (pg keeps it as `processID`). */
export function announcedPid(client: pg.ClientBase): number | undefined {
  return (client as unknown as { processID?: number }).processID;
}

/** Whether `client` reaches PostgreSQL through a pooler (one round trip). */
export async function throughPooler(client: pg.ClientBase, sql: Queries): Promise<boolean> {
  const [row] = await sql.backendPid(client);
  return row?.pid !== announcedPid(client);
}

/** Whether the connections of `pool` go through a pooler. */
export async function poolThroughPooler(pool: pg.Pool, sql: Queries): Promise<boolean> {
  const client = await pool.connect();
  try {
    return await throughPooler(client, sql);
  } finally {
    client.release();
  }
}
