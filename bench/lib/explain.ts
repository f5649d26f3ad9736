/**
 * EXPLAIN (ANALYZE, BUFFERS) of a statement inside a transaction that is rolled back, so that
 * data-modifying statements (claims, completions) leave nothing behind. The statement runs once.
 */
import type pg from 'pg';

/** What one EXPLAIN ANALYZE said. */
export interface Explained {
  /** Execution Time, ms. */
  ms: number;
  /** Shared buffers (hit + read) of the top node, which include its children's. */
  buffers: number;
  /** The plan as text (costs off). */
  plan: string;
}

/**
 * Explain `text`. `values` may be a function run first in the same transaction (e.g. claiming the
 * runs a completion then records); `prepare` is SQL run first (e.g. making jobs due).
 */
export async function explain(client: pg.ClientBase, text: string, values: unknown[] | ((client: pg.ClientBase) => Promise<unknown[]>), prepare?: string): Promise<Explained> {
  await client.query('BEGIN');
  try {
    if (prepare) await client.query(prepare);
    const params = typeof values === 'function' ? await values(client) : values;
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`, params);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    const buffers = /Buffers: shared((?: \w+=\d+)+)/.exec(plan)?.[1] ?? '';
    const count = (kind: string): number => Number(new RegExp(`${kind}=(\\d+)`).exec(buffers)?.[1] ?? 0);
    return { ms: Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN), buffers: count('hit') + count('read'), plan };
  } finally {
    await client.query('ROLLBACK');
  }
}
