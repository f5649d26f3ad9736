/**
 * Run statements as a tenant: SET ROLE on a session of an administrator's pool, as PostgreSQL
 * would have the role act after logging in (row-level security, grants and current_user are the
 * role's). The session is handed back as it was.
 */
import type pg from 'pg';

/** Run `sql` as `role` in one session of `pool`, returning its result. */
export async function asRole(pool: pg.Pool, role: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = await pool.connect();
  try {
    await client.query(`SET ROLE ${role}`);
    return await client.query(sql, values);
  } finally {
    await client.query('RESET ROLE').catch(() => undefined);
    client.release();
  }
}
