/**
 * Jobs declared in the agent's YAML file (`jobs:`): SQL, shell and multi-step jobs with cron,
 * interval, one-time or pgAgent calendar schedules, applied by `kairos start` before the node
 * starts, all in one transaction through the SQL API (define_job, set_steps, pgagent_schedule),
 * so a declaration is checked by the same rules as any other definition and a refused one changes
 * nothing. The file's shape is checked here (unknown keys with a "did you mean"); values are the
 * SQL API's to judge. Declaring is idempotent: an unchanged job stays as it is (its failure count
 * too), a changed one is redefined. A job removed from the file is left alone (delete it with
 * `kairos jobs delete`): the file does not own the installation's other jobs.
 */
import pg from 'pg';
import { z } from 'zod';
import { KairosValidationError } from '../core/errors.js';
import { didYouMean } from '../core/validate.js';
import { Store } from '../store/store.js';
import type { Logger } from '../core/logger.js';

const bools = (length: number, what: string) => z.array(z.boolean(), { error: `pgAgent's ${length} booleans (${what})` });

const CALENDAR = z.strictObject({
  minutes: bools(60, 'minutes 0-59').optional(),
  hours: bools(24, 'hours 0-23').optional(),
  weekdays: bools(7, 'Sunday first').optional(),
  monthdays: bools(32, 'days 1-31, then the last day of the month').optional(),
  months: bools(12, 'January first').optional(),
});

const STEP = z.strictObject({
  name: z.string(),
  kind: z.enum(['sql', 'shell'], { error: 'sql or shell' }),
  command: z.string(),
  on_error: z.enum(['fail', 'success', 'ignore'], { error: 'fail, success or ignore' }).optional(),
  database: z.string().optional(),
  timeout: z.string().optional(),
});

const text = z.union([z.string(), z.date().transform((d) => d.toISOString())], { error: 'a text or a date' });

/** One declaration, as written under `jobs.<name>`. */
const JOB = z.strictObject({
  type: z.enum(['sql', 'shell', 'steps'], { error: 'sql, shell or steps' }).default('sql'),
  command: z.string().optional(),
  steps: z.array(STEP).min(1).optional(),
  cron: z.union([z.string(), z.array(z.string())]).optional(),
  every: z.string().optional(),
  at: text.optional(),
  calendar: CALENDAR.optional(),
  timezone: z.string().optional(),
  start: text.optional(),
  end: text.optional(),
  exceptions: z.array(z.record(z.string(), z.unknown())).optional(),
  run_as: z.string().optional(),
  database: z.string().optional(),
  timeout: z.string().optional(),
  retries: z.number().int().optional(),
  enabled: z.boolean().optional(),
  description: z.string().optional(),
  shell: z.boolean().optional(),
});

/** A job declared in the file. */
export type DeclaredJob = z.infer<typeof JOB> & { name: string };

/** The schema of `jobs:` (a mapping of job name to declaration). */
export function declaredJobsSchema(): z.ZodType<DeclaredJob[]> {
  return z
    .record(z.string(), JOB, { error: 'a mapping of job names to declarations' })
    .transform((jobs) => Object.entries(jobs).map(([name, job]) => ({ ...job, name }))) as unknown as z.ZodType<DeclaredJob[]>;
}

/** The message for an unknown key of a declaration (zod's unrecognized_keys issue), with a "did you mean". */
export function unknownJobKey(issue: { code: string; keys?: string[]; path: PropertyKey[] }, field: string, from: string): { field: string; message: string } | undefined {
  if (issue.code !== 'unrecognized_keys' || !issue.keys?.length) return undefined;
  const path = issue.path.map(String);
  const known = path.length === 1 ? Object.keys(JOB.shape) : path[1] === 'calendar' ? Object.keys(CALENDAR.shape) : Object.keys(STEP.shape);
  const key = issue.keys[0]!;
  const where = `${field}.${path.join('.')}`;
  return { field: `${where}.${key}`, message: `Unknown key \`${key}\` of \`${where}\`${from}${didYouMean(key, known, 'keys')}` };
}

/**
 * Apply the declarations in one transaction. @throws {KairosValidationError} naming the job and
 * what the SQL API said, after rolling everything back.
 */
export async function applyDeclaredJobs(url: string, schema: string, jobs: DeclaredJob[], logger: Logger): Promise<void> {
  if (jobs.length === 0) return;
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const client = await pool.connect();
  const db = new Store(pool, schema, false).on(client);
  try {
    await client.query('BEGIN');
    for (const job of jobs) {
      try {
        await declare(db, job);
      } catch (error) {
        throw new KairosValidationError(`jobs.${job.name}`, `Job \`${job.name}\` of the configuration file was refused: ${(error as Error).message}; no declared job was changed`, { cause: error });
      }
    }
    await client.query('COMMIT');
    logger.info({ jobs: jobs.map((j) => j.name) }, `declared ${jobs.length} job(s) from the configuration file`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
    await pool.end();
  }
}

async function declare(db: Store['sql'], job: DeclaredJob): Promise<void> {
  const cal = job.calendar;
  await db.declareJob({
    job_name: job.name, command: job.command ?? (job.type === 'steps' ? job.name : null), job_type: job.type,
    cron: job.cron === undefined ? null : [job.cron].flat(), calendar: cal !== undefined,
    minutes: cal?.minutes ?? null, hours: cal?.hours ?? null, weekdays: cal?.weekdays ?? null, monthdays: cal?.monthdays ?? null, months: cal?.months ?? null,
    every: job.every ?? null, at: job.at ?? null, timezone: job.timezone ?? null, start_at: job.start ?? null, end_at: job.end ?? null,
    exceptions: job.exceptions === undefined ? null : JSON.stringify(job.exceptions), database: job.database ?? null,
    run_as: job.run_as ?? null, timeout: job.timeout ?? null, retries: job.retries ?? null, description: job.description ?? null,
    options: job.shell === undefined ? null : JSON.stringify({ shell: job.shell }), enabled: job.enabled ?? null,
  });
  if (job.steps) await db.declareSteps({ job_name: job.name, steps: JSON.stringify(job.steps) });
  else if (job.type === 'steps') throw new KairosValidationError('steps', 'a steps job needs `steps:`');
}
