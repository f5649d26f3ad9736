/**
 * `kairos jobs …`: define and manage jobs from the command line (through the SQL API, so the same
 * validation and errors apply as in psql).
 */
import type { Command } from 'commander';
import { withClient } from './connect.js';
import { internals } from '../api/internals.js';
import { printJson, printObject, printRows, progressBar } from './output.js';
import { parseInstant } from '../core/instant.js';
import { parseDuration } from '../core/duration.js';
import { KairosNotFoundError, KairosValidationError } from '../core/errors.js';
import type { Job } from '../core/types.js';
import { historyMessage } from './runs.js';

interface Common {
  databaseUrl?: string;
  schema: string;
  json?: boolean;
}

interface AddOptions extends Common {
  sql?: string;
  shell?: string;
  /** Run --shell through /bin/sh -c (pipes, redirections), as seed 000's shell jobs do. */
  sh?: boolean;
  task?: string;
  payload?: string;
  cron?: string[];
  every?: string;
  at?: string;
  tz?: string;
  database?: string;
  timeout?: string;
  retries?: string;
  overlap?: string;
  catchUp?: string;
  disableAfter?: string;
  disabled?: boolean;
}

function describeSchedule(job: Job): string {
  const s = job.schedule;
  if (s.kind === 'cron') return `cron ${String(s.cron).replace(/\n/g, ' | ')}${s.timezone === 'UTC' ? '' : ` (${s.timezone})`}`;
  if (s.kind === 'interval') return `every ${s.everyMs / 1000}s`;
  // A malformed row (a broken job) may hold no valid time: shown as such, never thrown on.
  if (s.kind === 'once') return `once at ${Number.isNaN(s.at.getTime()) ? 'an invalid time' : s.at.toISOString()}`;
  return s.kind;
}

/**
 * A job as the `jobs list` table shows it; `broken` is the quarantine's reason (null when
 * healthy). `--json` prints the API's Job object instead, the one shape every command agrees on.
 */
function jobRow(job: Job): Record<string, unknown> {
  return {
    name: job.name, type: job.type, schedule: describeSchedule(job), enabled: job.enabled, next_run: job.nextRun, last_run: job.lastRun,
    last_status: job.lastStatus === null ? null : job.lastStatus ? 'ok' : 'failed', broken: job.brokenReason,
  };
}

/** A time flag read as UTC when it names no offset (the dashboard reads its fields the same way). */
const instant = (value: string | undefined, flag: string): Date | null => (value === undefined ? null : parseInstant(value, flag));

async function add(name: string, o: AddOptions): Promise<void> {
  const kinds = [o.sql !== undefined && 'sql', o.shell !== undefined && 'shell', o.task !== undefined && 'task'].filter(Boolean) as string[];
  if (kinds.length !== 1) throw new KairosValidationError('command', 'Expected exactly one of --sql, --shell or --task');
  if (o.sh && o.shell === undefined) throw new KairosValidationError('sh', '--sh applies to --shell only: it runs the shell command through /bin/sh -c');
  // --tz names the zone of a cron schedule; an interval or a one-off time has none to apply it to.
  if (o.tz !== undefined && o.cron === undefined) throw new KairosValidationError('tz', `--tz applies to --cron only; ${o.every !== undefined ? 'an --every interval has no time zone' : 'give --at an offset instead, e.g. 2026-12-24T18:00:00+02:00'}`);
  const payload = o.payload === undefined ? null : JSON.parse(o.payload);
  await withClient(o, async (kairos) => {
    const [row] = await internals(kairos).store.sql.defineJob({
      job_name: name, command: o.sql ?? o.shell ?? o.task ?? null, job_type: kinds[0]!, cron: o.cron ?? null,
      every_ms: o.every === undefined ? null : parseDuration(o.every, 'every', { minMs: 1000 }),
      at: instant(o.at, 'at'), timezone: o.tz ?? null, database_name: o.database ?? null,
      timeout_ms: o.timeout === undefined ? null : parseDuration(o.timeout, 'timeout'), retries: o.retries ?? null, overlap: o.overlap ?? null,
      catch_up: o.catchUp ?? null, enabled: o.disabled ? false : null, payload: payload === null ? null : JSON.stringify(payload), max_attempts: o.disableAfter ?? null,
      options: o.sh ? JSON.stringify({ shell: true }) : null,
    });
    const job = await kairos.getJob(row!.job_name);
    if (o.json) printJson(job);
    else console.log(`job ${job!.name} saved: ${describeSchedule(job!)}, next run ${job!.nextRun?.toISOString() ?? '—'}`);
  });
}

async function show(name: string, o: Common): Promise<void> {
  await withClient(o, async (kairos) => {
    const job = await kairos.getJob(name);
    if (!job) throw new KairosNotFoundError(`No job named "${name}"`);
    const history = await kairos.history({ job: name, limit: 10 });
    if (o.json) return printJson({ ...job, history });
    printObject({ ...jobRow(job), command: job.command, owner: (job as unknown as { owner?: string }).owner, retries: job.retries, timeout_ms: job.timeoutMs, overlap: job.overlap, catch_up: job.catchUp, failure_limit: job.disableAfterFailures ?? 'never', consecutive_failures: job.consecutiveFailures, running: job.running, pending: job.pending }, false);
    console.log('');
    printRows(history.map((l) => ({ run: l.runId, attempt: l.attempt, status: l.status, started: l.startedAt, ms: l.durationMs, node: l.nodeId, sqlstate: l.sqlstate, message: historyMessage(l) })), ['run', 'attempt', 'status', 'started', 'ms', 'node', 'sqlstate', 'message'], false);
  });
}

/** Register `kairos jobs …` on the program. */
export function registerJobs(program: Command, common: (cmd: Command) => Command): void {
  const jobs = program.command('jobs').description('define and manage jobs');
  common(jobs.command('list').description('list jobs'))
    .option('--enabled', 'only enabled jobs').option('--label <label>', 'only jobs with this label (class)')
    .option('--search <text>', 'name contains')
    .action(async (o: Common & { enabled?: boolean; label?: string; search?: string }) =>
      withClient(o, async (k) => {
        const jobs = await k.listJobs({ enabled: o.enabled ? true : undefined, label: o.label, search: o.search, limit: 100_000 });
        if (o.json) printJson(jobs);
        else printRows(jobs.map(jobRow), ['name', 'type', 'schedule', 'enabled', 'next_run', 'last_run', 'last_status', 'broken'], false);
      }));
  common(jobs.command('add <name>').description('create or update a job (SQL, shell or JS task)'))
    .option('--sql <statement>', 'a SQL job').option('--shell <command>', 'a shell job (an argv command line)')
    .option('--sh', 'run --shell through /bin/sh -c: pipes, redirections, ;').option('--task <task>', 'enqueue a JS task')
    .option('--payload <json>', 'payload of a task job')
    .option('--cron <expression...>', 'cron schedule (several lines allowed)').option('--every <duration>', 'fixed interval, e.g. 15m')
    .option('--at <time>', 'one time, ISO 8601 (UTC unless it has an offset, e.g. 2026-12-24T18:00:00+02:00)').option('--tz <zone>', 'time zone of --cron (default UTC)')
    .option('--database <name>', 'run SQL in this database').option('--timeout <duration>', 'abort after this long')
    .option('--retries <n>', 'the retry limit: how many more attempts a failed run gets').option('--overlap <policy>', 'allow | skip | queue | replace')
    .option('--catch-up <policy>', 'skip | latest | all').option('--disable-after <n>', 'the failure limit: disable the job after n consecutive failed attempts')
    .option('--disabled', 'create it disabled')
    .action(add);
  common(jobs.command('show <name>').description('a job with its recent history')).action(show);
  for (const [verb, text] of [['enable', 'enable a job (resets its consecutive failures)'], ['disable', 'disable a job']] as const) {
    common(jobs.command(`${verb} <name>`).description(text)).action(async (name: string, o: Common) =>
      withClient(o, async (k) => {
        const job = verb === 'enable' ? await k.enable(name) : await k.disable(name);
        if (o.json) printJson(job);
        else console.log(`job ${name} ${verb}d; next run ${job.nextRun?.toISOString() ?? '—'}`);
      }));
  }
  common(jobs.command('run <name>').description('run a job now, outside its schedule')).action(async (name: string, o: Common) =>
    withClient(o, async (k) => {
      const id = await k.trigger(name);
      if (o.json) printJson({ runId: id });
      else console.log(`run ${id} queued`);
    }));
  common(jobs.command('delete <name>').description('delete a job with its queued runs and history')).action(async (name: string, o: Common) =>
    withClient(o, async (k) => {
      if (!(await k.unschedule(name))) throw new KairosNotFoundError(`No job named "${name}"`);
      if (o.json) printJson({ job: name, deleted: true });
      else console.log(`job ${name} deleted`);
    }));
  common(jobs.command('backfill <name>').description('create runs for every missed occurrence in a time range'))
    .requiredOption('--from <time>', 'start, ISO 8601 (UTC unless it has an offset)').requiredOption('--to <time>', 'end, ISO 8601 (UTC unless it has an offset)')
    .action(async (name: string, o: Common & { from: string; to: string }) =>
      withClient(o, async (k) => {
        const created = await k.backfill(name, instant(o.from, 'from')!, instant(o.to, 'to')!, progressBar(`backfill ${name}`));
        if (o.json) printJson({ job: name, created });
        else console.log(`${created} run(s) created`);
      }));
}
