/**
 * Advisory locks held for a while (an exclusive run's attempt, the pruner's pass) without session
 * state: a dedicated connection opens a transaction, takes a transaction-scoped lock and stays
 * idle in it until released. Behind a transaction-mode pooler (PgBouncer, Supavisor, RDS Proxy)
 * an open transaction keeps its server connection, whereas a session lock stays on whichever
 * server connection took it, for whoever is served by it next, and the unlock goes elsewhere.
 * A lost connection ends the transaction and frees the lock, as a session's end did.
 * Session and transaction locks share one lock space: nodes of older versions, which took session
 * locks on the same keys, still exclude these.
 */
import type pg from 'pg';
import type { Store } from './store.js';

/** A lock held by an open transaction; `release()` commits it (idempotent). */
export interface HeldLock {
  release(): Promise<void>;
}

/** Take the lock on `key` if it is free; undefined when another session holds it. */
export async function tryHoldLock(store: Store, key: string): Promise<HeldLock | undefined> {
  const client = await store.pool.connect();
  try {
    await client.query('BEGIN');
    const [row] = await store.sql.tryTransactionLock({ lock_key: key }, client);
    if (row?.locked) return holder(client);
    await client.query('ROLLBACK');
    client.release();
    return undefined;
  } catch (error) {
    // The connection's state is unknown: it is thrown away, not reused.
    client.release(error as Error);
    throw error;
  }
}

function holder(client: pg.PoolClient): HeldLock {
  let released: Promise<void> | undefined;
  return {
    release() {
      released ??= client.query('COMMIT').then(
        () => client.release(),
        (error: Error) => client.release(error),
      );
      return released;
    },
  };
}
