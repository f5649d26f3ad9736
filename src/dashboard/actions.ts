/**
 * The dashboard's writes. Each goes through the SQL API (toggle_job, trigger_job, delete_job,
 * cancel_run, enqueue, define_job, set_steps) inside the request's transaction, as the user's
 * role, so validation, error messages and row-level security are those of the API.
 */
import { KairosConflictError, KairosError, KairosNotFoundError, KairosValidationError, describeValue } from '../core/errors.js';
import type { Tx } from './db.js';
import { readForm, saveJob, type FormValues } from './form.js';
import { RUN_STATUSES, readListing } from './listing.js';
import { MAX_BULK } from './pages-runs.js';

/** Where to go after a successful action, and what to say there. */
export interface ActionResult {
  redirect: string;
  notice: string;
}

/**
 * What a form submission failed with, to re-render it: a wrapper the dashboard unwraps at once
 * (the page shows `cause`), a KairosError like every deliberate throw.
 */
export class FormError extends KairosError {
  override name = 'FormError';

  constructor(readonly values: FormValues, override readonly cause: unknown) {
    super('form rejected', { code: 'KAIROS_FORM' });
  }
}

async function jobName(tx: Tx, id: number): Promise<string> {
  const [row] = await tx.dashJob({ job_id: id });
  if (!row) throw new KairosNotFoundError(`No job with id ${id}`);
  return row.job_name;
}

const positive = (text: string, what: string): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new KairosValidationError(what, `Expected \`${what}\` to be a positive whole number, got "${text}"`);
  return n;
};

/**
 * Perform the write at `path` (relative to the dashboard) with the posted `body`. Returns null
 * when no write lives there.
 */
export async function perform(tx: Tx, path: string, body: URLSearchParams): Promise<ActionResult | null> {
  if (path === '/jobs') {
    const values = readForm(body);
    try {
      const id = await saveJob(tx, values);
      return { redirect: `/jobs/${id}`, notice: 'created' };
    } catch (error) {
      throw new FormError(values, error);
    }
  }
  const job = /^\/jobs\/(\d+)\/(run|enable|disable|delete|edit)$/.exec(path);
  if (job) {
    const id = positive(job[1]!, 'job id');
    const name = await jobName(tx, id);
    switch (job[2]) {
      case 'run': {
        const [row] = await tx.dashTriggerJob({ job_name: name, payload: null });
        return { redirect: `/jobs/${id}`, notice: `queued-${row!.run_id}` };
      }
      case 'enable':
      case 'disable':
        await tx.dashToggleJob({ job_name: name, enabled: job[2] === 'enable' });
        return { redirect: `/jobs/${id}`, notice: `${job[2]}d` };
      case 'delete':
        await tx.dashDeleteJob({ job_name: name });
        return { redirect: '/jobs', notice: 'deleted' };
      default: {
        const values = { ...readForm(body), name } as unknown as FormValues;
        try {
          await saveJob(tx, values);
        } catch (error) {
          throw new FormError(values, error);
        }
        return { redirect: `/jobs/${id}`, notice: 'saved' };
      }
    }
  }
  const cancel = /^\/runs\/(\d+)\/cancel$/.exec(path);
  if (cancel) {
    const [row] = await tx.dashCancelRun({ run_id: positive(cancel[1]!, 'run id'), reason: 'cancelled from the dashboard' });
    return { redirect: '/runs', notice: row!.outcome };
  }
  const bulk = /^\/runs\/bulk\/(cancel|retry)$/.exec(path);
  if (bulk) return bulk[1] === 'cancel' ? bulkCancel(tx, body) : bulkRetry(tx, body);
  const retry = /^\/logs\/(\d+)\/retry$/.exec(path);
  if (retry) {
    const [log] = await tx.dashLog({ log_id: positive(retry[1]!, 'attempt id') });
    if (!log) throw new KairosNotFoundError(`No attempt record ${retry[1]}`);
    // A job's run is retried as a new run of the job (same payload); a plain task as a new enqueue.
    return { redirect: '/runs', notice: `queued-${await retryAttempt(tx, log)}` };
  }
  return null;
}

/** Queue a new run for a failed attempt: a job's as a run of the job (same payload), a plain task's as a new enqueue. */
async function retryAttempt(tx: Tx, log: { job_name: string | null; task: string; queue: string; payload: unknown }): Promise<number> {
  const payload = JSON.stringify(log.payload ?? {});
  const [row] = log.job_name
    ? await tx.dashTriggerJob({ job_name: log.job_name, payload })
    : await tx.dashEnqueue({ task: log.task, payload, queue: log.queue });
  return row!.run_id;
}

/**
 * The filter of a bulk action (the runs list's, checked the same way) and the count the user
 * confirmed. The count must still be what the filter selects, so a list that changed since the
 * user looked is not acted on blindly; and it is bounded by MAX_BULK.
 */
async function bulkSelection(body: URLSearchParams, count: (filter: { search: string | null; status: string | null }) => Promise<number>): Promise<{ search: string | null; status: string | null; total: number }> {
  const fields = new URLSearchParams([...body].filter(([k]) => k !== '_csrf' && k !== 'expected'));
  const listing = readListing(fields, 'bulk action', RUN_STATUSES);
  const text = body.get('expected') ?? '';
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1) throw new KairosValidationError('expected', `Expected \`expected\` (the number of runs you confirmed) to be a positive whole number, got ${describeValue(text)}`);
  const total = await count({ search: listing.search, status: listing.status });
  if (total > MAX_BULK) throw new KairosValidationError('q', `Expected a filter that selects at most ${MAX_BULK} runs, got ${total}: narrow it`);
  if (total !== Number(text)) throw new KairosConflictError(`The filter now selects ${total} runs, not the ${text} you confirmed; nothing was changed. Review the list and try again.`);
  return { search: listing.search, status: listing.status, total };
}

/** Cancel every live run the filter selects (those already being cancelled are left as they are). */
async function bulkCancel(tx: Tx, body: URLSearchParams): Promise<ActionResult> {
  const filter = await bulkSelection(body, async (f) => (await tx.dashRunCount(f))[0]!.total);
  const runs = await tx.dashRunList({ search: filter.search, status: filter.status, limit: MAX_BULK, offset: 0 });
  let done = 0;
  for (const run of runs) {
    if (run.cancel_requested) continue;
    await tx.dashCancelRun({ run_id: run.run_id, reason: 'cancelled from the dashboard (bulk)' });
    done += 1;
  }
  return { redirect: '/runs', notice: `bulk-cancelled-${done}` };
}

/** Queue a new run for every failed attempt the search selects. */
async function bulkRetry(tx: Tx, body: URLSearchParams): Promise<ActionResult> {
  const filter = await bulkSelection(body, async (f) => {
    if (f.status !== null) throw new KairosValidationError('status', 'Expected no `status` for a bulk retry (it retries failed attempts), got one');
    return (await tx.dashFailureCount({ search: f.search }))[0]!.total;
  });
  const failures = await tx.dashRecentFailures({ search: filter.search, limit: MAX_BULK, offset: 0 });
  for (const log of failures) await retryAttempt(tx, log);
  return { redirect: '/runs', notice: `bulk-retried-${failures.length}` };
}

/** The banner text of a notice code (codes keep arbitrary text out of URLs). */
export function noticeText(code: string | null): string | null {
  if (!code) return null;
  const queued = /^queued-(\d+)$/.exec(code);
  if (queued) return `Run ${queued[1]} queued.`;
  const bulk = /^bulk-(cancelled|retried)-(\d+)$/.exec(code);
  if (bulk) return bulk[1] === 'cancelled' ? `${bulk[2]} runs cancelled (or being stopped by their node).` : `${bulk[2]} failed attempts queued again.`;
  const texts: Record<string, string> = {
    created: 'Job created.', saved: 'Job saved.', enabled: 'Job enabled.', disabled: 'Job disabled.', deleted: 'Job deleted.',
    cancelled: 'Run cancelled.', cancelling: 'Run cancelling: its node is stopping it.',
  };
  return texts[code] ?? null;
}
