/**
 * The exact text and parameters Kairos sends for a statement, taken from its own Store methods
 * (so the profile follows the code when a query gains a parameter), without running it.
 */
import type pg from 'pg';
import { Store } from '../../src/store/store.js';
import type { Queryable } from '../../src/store/db.js';

/** A statement as the driver would send it. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** Call a Store method against a pool that records instead of running; returns what it would send. */
export async function captureStatement(schema: string, call: (store: Store) => Promise<unknown>): Promise<Statement> {
  let captured: Statement | undefined;
  const recorder = {
    query: async (query: string | pg.QueryConfig, values: unknown[] = []) => {
      captured = typeof query === 'string' ? { text: query, values } : { text: query.text, values: query.values ?? [] };
      return { rows: [], rowCount: 0 };
    },
  };
  // Not prepared: the recorder has no connections to check out.
  await call(new Store(recorder as unknown as pg.Pool, schema, false));
  if (!captured) throw new Error('the Store method sent no statement');
  return captured;
}

/** How a Store runs a named query: its (private) execute, which store.sql, store.on() and store.run all call. */
export type Execute = (name: string, values: unknown[], db?: Queryable) => Promise<{ rows: unknown[]; rowCount: number | null }>;

/** Replace `store`'s execute by `wrap(original)`, to observe every named query it runs (bench only). */
export function wrapExecute(store: Store, wrap: (original: Execute) => Execute): void {
  const target = store as unknown as { execute: Execute };
  target.execute = wrap(target.execute.bind(store));
}

/** Remember the last parameters (in parameter order) of every named query `store` runs. */
export function recordStatements(store: Store): Map<string, unknown[]> {
  const seen = new Map<string, unknown[]>();
  wrapExecute(store, (original) => (name, values, db) => {
    seen.set(name, values);
    return original(name, values, db);
  });
  return seen;
}

/** A parameter as an SQL literal (for pgbench scripts). */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return `'${value.toISOString()}'`;
  if (Array.isArray(value)) return `'{${value.map((v) => `"${String(v).replace(/(["\\])/g, '\\$1')}"`).join(',')}}'`;
  return `'${String(value).replace(/'/g, "''")}'`;
}
