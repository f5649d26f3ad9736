/**
 * The create/edit job form. The client (assets/dashboard/app.js) adds step rows, shows the fields
 * of the chosen kind and schedule, and reads the schedule aloud with its next fire times as you
 * type; without JavaScript the form still works and the server checks everything.
 */
import { toJob } from '../store/rows.js';
import type { DashJobRow, DashStepsRow } from '../store/queries.js';
import { formatDuration } from '../core/duration.js';
import { html, layout, type Html, type PageContext } from './html.js';
import type { FormValues, StepValues } from './form.js';

const dt = (d: Date | null): string => (d && !Number.isNaN(d.getTime()) ? d.toISOString().slice(0, 19) : '');
const dur = (ms: number | null): string => (ms === null ? '' : formatDuration(ms));

/** Form values of a stored job (for editing). */
export function jobValues(row: DashJobRow, steps: DashStepsRow[]): FormValues {
  const job = toJob(row);
  const s = job.schedule;
  return {
    name: job.name, description: job.description ?? '', kind: job.type, command: job.type === 'steps' ? '' : job.command,
    payload: job.type === 'task' ? JSON.stringify(job.payload) : '', database: row.database_name ?? '', run_as: row.owner,
    queue: job.queue, priority: String(job.priority), labels: job.labels.join(', '), enabled: job.enabled ? 'on' : 'false',
    schedule_kind: s.kind === 'custom' ? 'manual' : s.kind, cron: s.kind === 'cron' ? s.cron : '', timezone: s.kind === 'cron' ? s.timezone : row.timezone,
    every: s.kind === 'interval' ? formatDuration(s.everyMs) : '', start_at: s.kind === 'interval' ? dt(s.startAt) : '',
    at: s.kind === 'once' ? dt(s.at) : '', end_at: dt(job.endAt), max_runs: job.maxRuns === null ? '' : String(job.maxRuns),
    exceptions: job.exceptions.map((e) => [e.date, e.time].filter(Boolean).join(' ')).join('\n'),
    retries: String(job.retries), timeout: dur(job.timeoutMs), max_attempts: job.disableAfterFailures === null ? '' : String(job.disableAfterFailures),
    catch_up: job.catchUp, overlap: job.overlap, misfire_grace: dur(job.misfireGraceMs), max_lateness: dur(job.maxLatenessMs), node_name: job.nodeName ?? '',
    node_tags: job.nodeTags.join(', '), options: JSON.stringify(row.options ?? {}) === '{}' ? '' : JSON.stringify(row.options),
    steps: steps.map((st) => ({
      name: st.name, kind: st.kind, command: st.command, database: st.database_name ?? '',
      on_error: st.on_error, timeout: dur(st.timeout_ms),
    })),
  } as unknown as FormValues;
}

function options(name: string, current: string | undefined, choices: Array<[string, string]>): Html {
  return html`<select name="${name}" id="f-${name}">${choices.map(([v, label]) => html`<option value="${v}"${v === current ? html` selected` : ''}>${label}</option>`)}</select>`;
}

function field(label: string, name: string, v: FormValues, extra: { placeholder?: string; type?: string; help?: string; readonly?: boolean } = {}): Html {
  return html`<label for="f-${name}">${label}<input id="f-${name}" name="${name}" type="${extra.type ?? 'text'}" value="${v[name] ?? ''}"${extra.placeholder ? html` placeholder="${extra.placeholder}"` : ''}${extra.readonly ? html` readonly` : ''}>${extra.help ? html`<small>${extra.help}</small>` : ''}</label>`;
}

function stepRow(step: StepValues): Html {
  return html`<div class="step">
<input name="step_name" placeholder="name" value="${step.name}" aria-label="step name">
${options('step_kind', step.kind, [['sql', 'SQL'], ['shell', 'shell']])}
<textarea name="step_command" rows="2" placeholder="command" aria-label="step command">${step.command}</textarea>
<input name="step_database" placeholder="database (default: the scheduler's)" value="${step.database}" aria-label="step target database">
${options('step_on_error', step.on_error || 'fail', [['fail', 'on error: fail the job'], ['success', 'on error: count as success'], ['ignore', 'on error: ignore, go on']])}
<input name="step_timeout" placeholder="timeout, e.g. 30s" value="${step.timeout}" aria-label="step timeout">
<button type="button" class="remove-step" aria-label="remove step">✕</button></div>`;
}

/** The form page; `editing` locks the name (define_job upserts by name). */
export function formPage(ctx: PageContext, v: FormValues, options_: { editing: boolean; action: string; jobId?: number }): Html {
  const steps = v.steps?.length ? v.steps : [{ name: '', kind: 'sql', command: '', database: '', on_error: 'fail', timeout: '' }];
  const title = options_.editing ? `Edit ${v.name}` : 'New job';
  const body = html`<div class="title"><h1>${title}</h1>${options_.jobId ? html`<a class="button" href="${ctx.base}/jobs/${options_.jobId}">Back to the job</a>` : ''}</div>
<form method="post" action="${ctx.base}${options_.action}" class="job-form" id="job-form" novalidate>
<input type="hidden" name="_csrf" value="${ctx.csrf}">
<fieldset class="f-job"><legend>Job</legend>
${field('Name', 'name', v, { readonly: options_.editing, help: options_.editing ? 'The name identifies the job; create a new job to rename it.' : 'Letters, digits, spaces and _ . : - / @' })}
${field('Description', 'description', v)}
<label for="f-kind">Kind ${options('kind', v.kind ?? 'sql', [['sql', 'SQL'], ['shell', 'shell command'], ['task', 'JavaScript task'], ['steps', 'multi-step (SQL and shell steps)']])}</label>
<label for="f-command" data-kinds="sql shell task">Command <small>SQL statement(s), shell command, or the task's name</small><textarea id="f-command" name="command" rows="4" spellcheck="false">${v.command ?? ''}</textarea></label>
<label for="f-payload" data-kinds="task">Payload (JSON)<textarea id="f-payload" name="payload" rows="2" spellcheck="false">${v.payload ?? ''}</textarea></label>
<div class="grid2">${field('Target database', 'database', v, { help: 'SQL jobs: empty runs in the scheduler\'s database' })}${field('Run as role', 'run_as', v, { help: 'the job owner; empty: the dashboard\'s role' })}</div>
<label class="check"><input type="checkbox" name="enabled"${v.enabled === undefined || v.enabled === 'on' || v.enabled === 'true' ? html` checked` : ''}> Enabled</label>
</fieldset>
<fieldset class="f-steps" data-kinds="steps"><legend>Steps</legend><div id="steps">${steps.map(stepRow)}</div>
<template id="step-template">${stepRow({ name: '', kind: 'sql', command: '', database: '', on_error: 'fail', timeout: '' })}</template>
<button type="button" id="add-step">Add a step</button></fieldset>
<fieldset class="f-schedule"><legend>Schedule</legend>
<label for="f-schedule_kind">Type ${options('schedule_kind', v.schedule_kind ?? 'cron', [['cron', 'cron'], ['interval', 'fixed interval'], ['once', 'one time'], ['manual', 'manual (only when triggered)']])}</label>
<label for="f-cron" data-schedules="cron">Cron <small>5 or 6 fields, one expression per line</small><textarea id="f-cron" name="cron" rows="2" spellcheck="false" placeholder="*/15 * * * *">${v.cron ?? ''}</textarea></label>
<div class="grid2" data-schedules="cron">${field('Time zone', 'timezone', v, { placeholder: 'UTC' })}${field('Not before (UTC)', 'not_before', v, { type: 'datetime-local' })}</div>
<div class="grid2" data-schedules="interval">${field('Every', 'every', v, { placeholder: '15m' })}${field('Anchor (UTC)', 'start_at', v, { type: 'datetime-local' })}</div>
<div data-schedules="once">${field('At (UTC)', 'at', v, { type: 'datetime-local' })}</div>
<div class="grid2" data-schedules="cron interval">${field('Ends (UTC)', 'end_at', v, { type: 'datetime-local' })}${field('At most this many runs', 'max_runs', v)}</div>
<label for="f-exceptions" data-schedules="cron interval">Calendar exceptions <small>one per line: 2025-12-25, 02:00 or 2025-12-25 02:00 (in the time zone)</small><textarea id="f-exceptions" name="exceptions" rows="2">${v.exceptions ?? ''}</textarea></label>
<output id="schedule-preview" class="preview" aria-live="polite"></output>
</fieldset>
<fieldset class="f-policies"><legend>Retries, timeout and policies</legend><div class="grid3">
${field('Retries', 'retries', v, { placeholder: '0' })}${field('Timeout', 'timeout', v, { placeholder: 'e.g. 10m' })}${field('Failure limit (consecutive failed attempts)', 'max_attempts', v, { placeholder: 'never' })}
<label for="f-overlap">Overlap ${options('overlap', v.overlap ?? 'skip', [['skip', 'skip if still running'], ['queue', 'queue one'], ['replace', 'replace the running one'], ['allow', 'allow overlap']])}</label>
<label for="f-catch_up">Catch-up ${options('catch_up', v.catch_up ?? 'latest', [['latest', 'run the latest missed'], ['skip', 'skip missed'], ['all', 'run all missed']])}</label>
${field('Catch-up: drop fires later than', 'max_lateness', v, { placeholder: '1d' })}${field('Misfire grace', 'misfire_grace', v, { placeholder: 'e.g. 5m' })}
${field('Queue', 'queue', v, { placeholder: 'default' })}${field('Priority', 'priority', v, { placeholder: '5' })}${field('Labels', 'labels', v, { placeholder: 'comma-separated' })}
${field('Only on node', 'node_name', v)}${field('Only on nodes tagged', 'node_tags', v, { placeholder: 'comma-separated' })}${field('Options (JSON)', 'options', v, { placeholder: '{"env": {…}}' })}
</div></fieldset>
<div class="actions"><button type="submit" class="primary">${options_.editing ? 'Save' : 'Create job'}</button></div>
</form>`;
  return layout(ctx, title, '/jobs', body);
}
