/**
 * The dashboard's writes. Each goes through the SQL API (toggle_job, trigger_job, delete_job,
 * cancel_run, enqueue, define_job, set_steps) inside the request's transaction, as the user's
 * role, so validation, error messages and row-level security are those of the API.
 */
import { KairosError, KairosNotFoundError, KairosValidationError } from '../core/errors.js';
import type { Tx } from './db.js';
import { readForm, saveJob, type FormValues } from './form.js';

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
  const retry = /^\/logs\/(\d+)\/retry$/.exec(path);
  if (retry) {
    const [log] = await tx.dashLog({ log_id: positive(retry[1]!, 'attempt id') });
    if (!log) throw new KairosNotFoundError(`No attempt record ${retry[1]}`);
    // A job's run is retried as a new run of the job (same payload); a plain task as a new enqueue.
    const payload = JSON.stringify(log.payload ?? {});
    const [row] = log.job_name
      ? await tx.dashTriggerJob({ job_name: log.job_name, payload })
      : await tx.dashEnqueue({ task: log.task, payload, queue: log.queue });
    return { redirect: '/runs', notice: `queued-${row!.run_id}` };
  }
  return null;
}

/** The banner text of a notice code (codes keep arbitrary text out of URLs). */
export function noticeText(code: string | null): string | null {
  if (!code) return null;
  const queued = /^queued-(\d+)$/.exec(code);
  if (queued) return `Run ${queued[1]} queued.`;
  const texts: Record<string, string> = {
    created: 'Job created.', saved: 'Job saved.', enabled: 'Job enabled.', disabled: 'Job disabled.', deleted: 'Job deleted.',
    cancelled: 'Run cancelled.', cancelling: 'Run cancelling: its node is stopping it.',
  };
  return texts[code] ?? null;
}
