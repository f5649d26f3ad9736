/**
 * The runs list (live runs a page at a time, recent failures, both searchable, with bulk cancel
 * and retry of what the filter selects) and a run's own page (every attempt with its output,
 * error, PostgreSQL diagnostics and step logs).
 */
import type { DashRecentFailuresRow, DashRunAttemptsRow, DashRunListRow } from '../store/queries.js';
import { actionButton, formatMs, html, layout, pill, time, type Html, type PageContext } from './html.js';
import { MAX_SEARCH, PAGE_SIZE, RUN_STATUSES, listingQuery, pager, readListing, type Listing } from './listing.js';
import type { Tx } from './db.js';

/** Most runs one bulk action touches (a larger selection is refused: narrow the filter). */
export const MAX_BULK = 500;

const jobLink = (ctx: PageContext, r: { job_id: number | null; job_name: string | null; task: string }): Html =>
  r.job_id && r.job_name ? html`<a href="${ctx.base}/jobs/${r.job_id}">${r.job_name}</a>` : html`${r.task}`;
const nodeLink = (ctx: PageContext, node: string | null): Html => (node ? html`<a href="${ctx.base}/nodes#node-${node}">${node}</a>` : html`—`);

function liveRow(ctx: PageContext, r: DashRunListRow): Html {
  return html`<tr data-run="${r.run_id}"><td><a href="${ctx.base}/runs/${r.run_id}">${r.run_id}</a></td><td>${jobLink(ctx, r)}</td>
<td>${pill(r.cancel_requested ? 'cancelling' : r.status)}</td><td>${r.queue}</td><td>${r.attempt} of ${r.max_retries + 1}</td>
<td>${r.status === 'running' ? time(r.started_at, { relative: true }) : time(r.run_at, { relative: true })}</td><td>${nodeLink(ctx, r.node_id)}</td>
<td>${r.last_error ? html`<span class="message">${r.last_error}</span>` : ''}</td>
<td>${r.cancel_requested ? '' : actionButton(ctx, `/runs/${r.run_id}/cancel`, 'Cancel', { confirm: `Cancel run ${r.run_id}?` })}</td></tr>`;
}

function failureRow(ctx: PageContext, f: DashRecentFailuresRow): Html {
  return html`<tr data-log="${f.log_id}"><td><a href="${ctx.base}/runs/${f.run_id}">${f.run_id}</a></td><td>${jobLink(ctx, f)}</td><td>${pill(f.status)}</td>
<td>${f.attempt}</td><td>${time(f.finished_at, { relative: true })}</td><td>${nodeLink(ctx, f.node_id)}</td><td><span class="message">${f.message ?? ''}</span></td>
<td>${actionButton(ctx, `/logs/${f.log_id}/retry`, 'Retry')}</td></tr>`;
}

/** The bulk forms: they repeat the filter and the count the user saw, which the server checks again. */
function bulkForms(ctx: PageContext, listing: Listing, live: number, failed: number): Html {
  if (ctx.readOnly) return html``;
  const fields = (expected: number): Record<string, string> => ({ q: listing.search ?? '', status: listing.status ?? '', expected: String(expected) });
  return html`<div class="actions bulk">
${live > 0 && live <= MAX_BULK ? actionButton(ctx, '/runs/bulk/cancel', `Cancel ${live} live run${live === 1 ? '' : 's'}`, { danger: true, confirm: `Cancel the ${live} queued or running runs this filter selects?`, fields: fields(live) }) : ''}
${failed > 0 && failed <= MAX_BULK ? actionButton(ctx, '/runs/bulk/retry', `Retry ${failed} failure${failed === 1 ? '' : 's'}`, { confirm: `Queue a new run for each of the ${failed} failed attempts this search selects?`, fields: { ...fields(failed), status: '' } }) : ''}
${live > MAX_BULK || failed > MAX_BULK ? html`<span class="muted">Bulk actions take at most ${MAX_BULK} runs: narrow the filter.</span>` : ''}</div>`;
}

/** The runs page: live runs (filtered, a page at a time) and the latest failures matching the search. */
export async function runsPage(ctx: PageContext, tx: Tx, query: URLSearchParams): Promise<Html> {
  const listing = readListing(query, 'runs', RUN_STATUSES, [], ['notice']);
  const filter = { search: listing.search, status: listing.status };
  const live = await tx.dashRunList({ ...filter, limit: PAGE_SIZE, offset: (listing.page - 1) * PAGE_SIZE });
  const [liveCount] = await tx.dashRunCount(filter);
  const failures = await tx.dashRecentFailures({ search: listing.search, limit: PAGE_SIZE, offset: 0 });
  const [failureCount] = await tx.dashFailureCount({ search: listing.search });
  const liveTotal = liveCount?.total ?? 0;
  const failedTotal = failureCount?.total ?? 0;
  const head = html`<thead><tr><th>Run</th><th>Job</th><th>Status</th><th>Queue</th><th>Attempt</th><th>Since / due</th><th>Node</th><th>Last error</th><th></th></tr></thead>`;
  const body = html`<div class="title"><h1>Runs</h1><span class="muted">${liveTotal} live · ${failedTotal} failed attempts${listing.search ? ' matching' : ''}</span></div>
<form class="filters" method="get" action="${ctx.base}/runs">
<label>Search <input type="search" name="q" value="${listing.search ?? ''}" maxlength="${MAX_SEARCH}" placeholder="job name or task"></label>
<label>Status <select name="status"><option value="">all live</option>${RUN_STATUSES.map((s) => html`<option${s === listing.status ? html` selected` : ''}>${s}</option>`)}</select></label>
<button type="submit">Filter</button></form>
${bulkForms(ctx, listing, liveTotal, failedTotal)}
<h2>Running and queued</h2>${pager(`${ctx.base}/runs`, listing, liveTotal, 'live runs')}
${live.length ? html`<div class="scroll"><table class="grid runs">${head}<tbody>${live.map((r) => liveRow(ctx, r))}</tbody></table></div>` : html`<p class="empty">No run is queued or running${listing.search || listing.status ? ' that matches' : ''}.</p>`}
<h2>Recent failures</h2>${failedTotal > failures.length ? html`<p class="muted">The latest ${failures.length} of ${failedTotal}.</p>` : ''}
${failures.length ? html`<div class="scroll"><table class="grid failures"><thead><tr><th>Run</th><th>Job</th><th>Status</th><th>Attempt</th><th>Finished</th><th>Node</th><th>Message</th><th></th></tr></thead><tbody>
${failures.map((f) => failureRow(ctx, f))}</tbody></table></div>` : html`<p class="empty">No failures recorded.</p>`}`;
  return layout(ctx, 'Runs', '/runs', body, { live: true });
}

/** What PostgreSQL said about a failed SQL attempt (SQLSTATE, DETAIL, HINT, CONTEXT), in full. */
function diagnostics(a: DashRunAttemptsRow): Html {
  if (!a.sqlstate || a.sqlstate === '00000') return html``;
  const rows: Array<[string, string | null]> = [['SQLSTATE', a.sqlstate], ['Detail', a.detail], ['Hint', a.hint]];
  return html`<dl class="diagnostics">${rows.filter(([, v]) => v).map(([k, v]) => html`<dt>${k}</dt><dd><code>${v}</code></dd>`)}
${a.context ? html`<dt>Context</dt><dd><pre>${a.context}</pre></dd>` : ''}</dl>`;
}

function stepLogs(a: DashRunAttemptsRow): Html {
  // json: its shape is the query's json_build_object (a JSON array, never null).
  const steps = a.steps as Array<{ name: string; status: string; message: string | null; ms: number | null; output: unknown }>;
  if (steps.length === 0) return html``;
  return html`<h4>Steps</h4><ol class="steps">${steps.map((s) => html`<li>${pill(s.status)} ${s.name} <span class="muted">${formatMs(s.ms)}</span>${s.message ? html`<div class="message">${s.message}</div>` : ''}
${s.output === null || s.output === undefined ? '' : html`<details><summary>output</summary><pre>${JSON.stringify(s.output, null, 2)}</pre></details>`}</li>`)}</ol>`;
}

function attemptSection(ctx: PageContext, a: DashRunAttemptsRow): Html {
  return html`<section class="attempt" data-attempt="${a.attempt}"><h3>Attempt ${a.attempt} ${pill(a.status)}</h3>
<dl class="definition"><dt>Scheduled</dt><dd>${time(a.scheduled_at)}</dd><dt>Started</dt><dd>${time(a.run_time)}</dd><dt>Finished</dt><dd>${time(a.finished_at)}</dd>
<dt>Duration</dt><dd>${formatMs(a.duration_ms)}</dd><dt>Node</dt><dd>${nodeLink(ctx, a.node_id)}</dd></dl>
${a.message ? html`<h4>Error</h4><pre class="message">${a.message}</pre>` : ''}${diagnostics(a)}
${a.output === null ? '' : html`<h4>Output</h4><pre>${JSON.stringify(a.output, null, 2)}</pre>`}
${stepLogs(a)}
${a.status === 'failed' || a.status === 'expired' ? actionButton(ctx, `/logs/${a.log_id}/retry`, 'Retry') : ''}</section>`;
}

/** A run's page (null: no such run visible to this user). */
export async function runPage(ctx: PageContext, tx: Tx, id: number): Promise<Html | null> {
  const [run] = await tx.dashRun({ run_id: id });
  if (!run) return null;
  const attempts = await tx.dashRunAttempts({ run_id: id });
  const actions = run.live && !run.cancel_requested ? actionButton(ctx, `/runs/${id}/cancel`, 'Cancel', { confirm: `Cancel run ${id}?` }) : html``;
  const body = html`<div class="title"><h1>Run ${id} ${pill(run.cancel_requested ? 'cancelling' : run.status)}</h1><div class="actions">${actions}</div></div>
<dl class="definition"><dt>Job</dt><dd>${jobLink(ctx, run)}</dd><dt>Task</dt><dd>${run.task}</dd><dt>Queue</dt><dd>${run.queue}</dd>
<dt>Node</dt><dd>${nodeLink(ctx, run.node_id)}</dd><dt>Scheduled</dt><dd>${time(run.scheduled_at)}</dd>
${run.live ? html`<dt>Due</dt><dd>${time(run.run_at)}</dd><dt>Started</dt><dd>${time(run.started_at)}</dd><dt>Attempt</dt><dd>${run.attempt} of ${(run.max_retries ?? 0) + 1}</dd>` : ''}
${run.live && run.last_error ? html`<dt>Last error</dt><dd class="message">${run.last_error}</dd>` : ''}</dl>
<h2>Payload</h2><pre>${JSON.stringify(run.payload ?? {}, null, 2)}</pre>
<h2>Attempts</h2>${attempts.length ? attempts.map((a) => attemptSection(ctx, a)) : html`<p class="empty">No attempt has finished yet.</p>`}
<p><a href="${ctx.base}/runs${listingQuery({ search: null, status: null, page: 1, extra: {} })}">All runs</a></p>`;
  return layout(ctx, `Run ${id}`, '/runs', body, { live: true });
}
