/**
 * Shared test setup: one isolated schema per test file on the real PostgreSQL in DATABASE_URL,
 * Kairos nodes with short intervals and a silent logger, stopped and dropped afterwards.
 */
import { after } from 'node:test';
import { Kairos, type KairosOptions, type TaskMap } from '../src/index.js';
import { createTestSchema, silentLogger, type TestSchema } from '../src/testing/index.js';

/** A test file's database fixture. */
export interface Fixture extends TestSchema {
  /** A node on this schema (not started). Stopped automatically after the file. */
  node<T extends TaskMap = TaskMap>(options?: Partial<KairosOptions<T>>): Kairos<T>;
  /** Count rows of a Kairos table with an optional WHERE clause (test-only SQL). */
  count(table: string, where?: string, values?: unknown[]): Promise<number>;
}

/** Create the fixture; call at the top of a test file. */
export async function fixture(): Promise<Fixture> {
  const schema = await createTestSchema();
  const nodes: Kairos[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop({ timeout: 1000 }).catch(() => undefined)));
    await schema.drop();
  });
  return {
    ...schema,
    node<T extends TaskMap = TaskMap>(options: Partial<KairosOptions<T>> = {}): Kairos<T> {
      const kairos = new Kairos<T>({
        connectionString: schema.connectionString,
        schema: schema.schema,
        logger: silentLogger,
        pollInterval: 500,
        migrate: false,
        ...options,
      } as KairosOptions<T>);
      nodes.push(kairos as unknown as Kairos);
      return kairos;
    },
    async count(table: string, where = 'true', values: unknown[] = []): Promise<number> {
      const result = await schema.pool.query(`SELECT count(*)::int AS n FROM "${schema.schema}".${table} WHERE ${where}`, values);
      return Number(result.rows[0].n);
    },
  };
}

/** Resolve after `ms` — only for letting real timers fire in multi-node tests, never as a sync point. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wait until `check` returns true, polling the database every 50 ms, at most `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}
