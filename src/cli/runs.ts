/**
 * `kairos runs …`, `kairos history [list]` (alias `kairos logs`, its name before issue #13),
 * `kairos history purge` and `kairos schedule preview`.
 */
import type { Command } from 'commander';
import { withClient } from './connect.js';
import { internals } from '../api/internals.js';
import { printJson, printRows } from './output.js';
import { printRunRecord, shellTails } from './run-record.js';
import { oneOf, limitOption, firstRows, fetchLimit, RUN_STATUSES, HISTORY_STATUSES } from './inputs.js';
import { parseDuration } from '../core/duration.js';
import { assertInteger } from '../core/validate.js';
import { parseCron } from '../core/cron.js';
import { nextOccurrences } from '../core/schedule.js';
import { KairosNotFoundError, KairosValidationError } from '../core/errors.js';
import { toHistoryEntry } from '../store/rows.js';
import type { HistoryEntry } from '../core/types.js';

interface Common {
  databaseUrl?: string;
  schema: string;
  json?: boolean;
}

/**
 * A history entry's message as the CLI shows it: with a SQL job's DETAIL and HINT (PostgreSQL's
 * fields, as psql prints them); the SQLSTATE has a column of its own, CONTEXT is in --json.
 */
export function historyMessage(l: HistoryEntry): string | null {
  const parts = [l.message, l.detail && `DETAIL: ${l.detail}`, l.hint && `HINT: ${l.hint}`].filter((part): part is string => Boolean(part));
  return parts.length > 0 ? parts.join('  ') : null;
}

const historyRow = (l: HistoryEntry): Record<string, unknown> => ({ id: l.id, job: l.jobName ?? l.task, run: l.runId, attempt: l.attempt, status: l.status, finished: l.finishedAt, ms: l.durationMs === null ? null : Math.round(l.durationMs), node: l.nodeId, sqlstate: l.sqlstate, message: historyMessage(l), output: outputSummary(l.output) });
const HISTORY_COLUMNS = ['finished', 'job', 'run', 'attempt', 'status', 'ms', 'node', 'sqlstate', 'message', 'output'];

const runId = (value: string): number => assertInteger(Number(value), 'run id', 1, Number.MAX_SAFE_INTEGER);

/** The last line of a shell job's stderr (else stdout), for a table cell; other output as JSON. */
function outputSummary(output: unknown): string | null {
  const tails = shellTails(output);
  if (!tails) return output === null || output === undefined ? null : JSON.stringify(output);
  const last = (text: string): string => text.trim().split('\n').at(-1) ?? '';
  if (last(tails.stderr)) return `stderr: ${last(tails.stderr)}`;
  return last(tails.stdout) ? `stdout: ${last(tails.stdout)}` : null;
}

/** A history entry as one line of `history --follow`. */
function followLine(l: HistoryEntry): string {
  const message = historyMessage(l);
  const output = outputSummary(l.output);
  return `${l.finishedAt.toISOString()}  ${l.status.padEnd(9)} ${(l.jobName ?? l.task).padEnd(24)} run ${l.runId} attempt ${l.attempt}${l.sqlstate ? `  [${l.sqlstate}]` : ''}${message ? `  ${message}` : ''}${output ? `  ${output}` : ''}`;
}

/** Follow the history: print new entries as they arrive until interrupted. */
async function follow(o: Common & { job?: string }): Promise<void> {
  await withClient(o, async (k) => {
    let last = (await k.history({ job: o.job, limit: 1 }))[0]?.id ?? 0;
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    process.once('SIGTERM', () => (stop = true));
    while (!stop) {
      const rows = (await internals(k).store.sql.historyAfter({ after_log_id: last, job_name: o.job ?? null })).map(toHistoryEntry);
      for (const l of rows) {
        last = l.id;
        // One JSON object a line (the same shape as `history --json`'s entries), so a script can read it as it comes.
        console.log(o.json ? JSON.stringify(l) : followLine(l));
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  });
}

/** Register the run, history and schedule commands. */
export function registerRuns(program: Command, common: (cmd: Command) => Command): void {
  const runs = program.command('runs').description('inspect and cancel runs');
  common(runs.command('list').description('pending and running runs'))
    .option('--status <status>', 'pending | running').option('--job <name>', 'runs of one job')
    .option('--limit <n>', 'print at most n runs', '100')
    .action(async (o: Common & { status?: string; job?: string; limit: string }) => {
      const status = o.status === undefined ? undefined : oneOf(o.status, '--status', RUN_STATUSES);
      const limit = limitOption(o.limit);
      await withClient(o, async (k) => {
        const runs = firstRows(await k.listRuns({ status, job: o.job, limit: fetchLimit(limit) }), limit);
        if (o.json) return printJson(runs);
        printRows(runs.map((r) => ({ id: r.id, job: r.jobName ?? r.task, status: r.status, due: r.runAt, attempt: r.attempt, node: r.nodeId, priority: r.priority, queue: r.queue })), ['id', 'job', 'status', 'due', 'attempt', 'node', 'priority', 'queue'], false);
      });
    });
  common(runs.command('show <id>').description('a run: live, or its last history entry')).action(async (id: string, o: Common) =>
    withClient(o, async (k) => {
      const { live, last } = await k.getRun(runId(id));
      if (!live && !last) throw new KairosNotFoundError(`No run ${id}`);
      if (o.json) return printJson({ live, last });
      const attempts = await k.history({ runId: runId(id), limit: 100 });
      printRunRecord(live, attempts);
    }));
  common(runs.command('cancel <id>').description('cancel a run (pending: dropped; running: stopped on its node)')).action(async (id: string, o: Common) =>
    withClient(o, async (k) => {
      const result = await k.cancel(runId(id));
      if (o.json) printJson({ runId: Number(id), result });
      else console.log(`run ${id} ${result}`);
    }));
  // `kairos history` runs its default subcommand `list`; the group itself has no options, so every
  // option reaches the subcommand. `logs` is the command's name before issue #13, kept as an alias
  // for compatibility (`kairos logs [--follow]` lists, as it did).
  const history = program.command('history').alias('logs').description('the history: one entry per finished attempt (`list` it, the default, or `purge` old entries)');
  common(history.command('list', { isDefault: true }).description('the history, newest first (or --follow it live)'))
    .option('--job <name>', 'one job').option('--status <status>', 'only entries with this status').option('--limit <n>', 'print at most n entries', '50').option('-f, --follow', 'keep printing new entries')
    .action(async (o: Common & { job?: string; status?: string; limit: string; follow?: boolean }) => {
      const status = o.status === undefined ? undefined : oneOf(o.status, '--status', HISTORY_STATUSES);
      const limit = limitOption(o.limit);
      if (o.follow && status !== undefined) throw new KairosValidationError('status', '--status cannot be combined with --follow: --follow prints every new entry (filter with --job)');
      if (o.follow) return follow(o);
      await withClient(o, async (k) => {
        const entries = firstRows(await k.history({ job: o.job, status, limit: fetchLimit(limit) }), limit);
        if (o.json) printJson(entries);
        else printRows(entries.map(historyRow), HISTORY_COLUMNS, false);
      });
    });
  common(history.command('purge').description('delete history older than a duration'))
    .requiredOption('--older-than <duration>', 'e.g. 30d').option('--status <status...>', 'only these statuses')
    .action(async (o: Common & { olderThan: string; status?: string[] }) =>
      withClient(o, async (k) => {
        const statuses = o.status?.map((st) => oneOf(st, '--status', HISTORY_STATUSES)) ?? null;
        const cutoff = new Date(Date.now() - parseDuration(o.olderThan, 'older-than', { minMs: 0 }));
        const deleted = await internals(k).store.sql.purgeHistory({ finished_before: cutoff, statuses });
        if (o.json) printJson({ deleted });
        else console.log(`${deleted} history entr${deleted === 1 ? 'y' : 'ies'} deleted`);
      }));
  const schedule = program.command('schedule').description('schedule tools');
  schedule
    .command('preview <cron>')
    .description('the next fire times of a cron expression')
    .option('--tz <zone>', 'time zone', 'UTC').option('--count <n>', 'how many', '10').option('--json', 'JSON output')
    .action((cron: string, o: { tz: string; count: string; json?: boolean }) => {
      const times = nextOccurrences(parseCron(cron, o.tz), new Date(), assertInteger(Number(o.count), 'count', 1, 1000));
      const local = new Intl.DateTimeFormat('sv-SE', { timeZone: o.tz, dateStyle: 'short', timeStyle: 'medium' });
      printRows(times.map((t) => ({ utc: t, local: `${local.format(t)} ${o.tz}` })), ['utc', 'local'], Boolean(o.json));
    });
}
