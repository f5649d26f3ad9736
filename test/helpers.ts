/**
 * Shared test setup: one isolated schema per test file on the real PostgreSQL in DATABASE_URL,
 * Kairos nodes with short intervals and a silent logger, stopped and dropped afterwards (kept
 * when a test in the file failed, for inspection), and `eventually`, the one polling helper.
 */
import { after, afterEach } from 'node:test';
import { Kairos, type KairosOptions, type TaskMap } from '../src/index.js';
import { createTestSchema, silentLogger, type TestSchema } from '../src/testing/index.js';
import { redactConnectionString } from '../src/core/redact.js';

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
  // A failed test's schema is kept, to look at what it left. `passed` is on the context a hook
  // gets (Node 20.20 has it; documented only lately, not in @types/node); a Node without it never
  // says false, and the schema is dropped as before. Failures outside tests (hooks) do not count.
  let failed = false;
  afterEach((t) => {
    if ((t as { passed?: boolean }).passed === false) failed = true;
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop({ timeout: 1000 }).catch(() => undefined)));
    if (!failed) return schema.drop();
    await schema.pool.end();
    console.log(`kept schema "${schema.schema}" on ${redactConnectionString(schema.connectionString)}: a test in this file failed (DROP SCHEMA "${schema.schema}" CASCADE when done)`);
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

/** How `eventually` polls. */
export interface EventuallyOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** What is waited for, for the failure message. */
  what?: string;
  /** Pause between two checks (default 50 ms). */
  intervalMs?: number;
}

/**
 * Wait until `check` (sync or async) returns true, checking at once and then every `intervalMs`;
 * throw, naming what was waited for and how long, after `timeoutMs`. An error thrown by `check`
 * ends the wait at once. The only polling loop of the tests: wait for an event with a bound,
 * never for a fixed time. (`eventually(check, timeoutMs, what)` is the older positional form.)
 */
export async function eventually(check: () => boolean | Promise<boolean>, options?: EventuallyOptions): Promise<void>;
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs?: number, what?: string): Promise<void>;
export async function eventually(check: () => boolean | Promise<boolean>, options: EventuallyOptions | number = {}, what?: string): Promise<void> {
  const { timeoutMs = 10_000, intervalMs = 50, what: waitedFor = 'condition' } = typeof options === 'number' ? { timeoutMs: options, what } : options;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    const left = deadline - Date.now();
    if (left < 0) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${waitedFor}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left + 1)));
  }
}

/**
 * Resolves when a node's background loop (`node.services.producer`, `.ticker`, …) has finished its
 * next pass, however it ended; rejects after `timeoutMs`. Call it before that pass can begin
 * (before start() for the first one): the event that "the start-up claim is over" or "the poll
 * after a reconnect has run", instead of a sleep that hopes so.
 */
export function nextPass(service: { name: string; runOnce(): Promise<unknown> }, timeoutMs = 10_000): Promise<void> {
  const runOnce = service.runOnce;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      service.runOnce = runOnce;
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for a pass of the ${service.name}`));
    }, timeoutMs);
    service.runOnce = async function (this: unknown) {
      service.runOnce = runOnce;
      try {
        return await runOnce.call(this);
      } finally {
        clearTimeout(timer);
        resolve();
      }
    };
  });
}
