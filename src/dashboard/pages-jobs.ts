/**
 * The jobs list and a job's page: definition, steps, next fires, history and the actions.
 */
import { toDueJob, toJob } from '../store/rows.js';
import type { DashJobHistoryRow, DashJobRow, DashJobsRow, DashStepsRow } from '../store/queries.js';
import { scheduleOf } from '../core/planner.js';
import type { Job } from '../core/types.js';
import { describeSchedule } from './describe.js';
import { upcoming, zoned } from './form.js';
import { actionButton, formatMs, html, layout, pill, sparkline, time, type Html, type PageContext } from './html.js';
import type { Tx } from './db.js';
import { JOB_STATUSES, MAX_SEARCH, PAGE_SIZE, pager, readListing } from './listing.js';

/** A jobs row with the dashboard's extras. */
interface JobView extends Job {
  owner: string;
  database: string | null;
  attempts: number;
  succeeded: number;
  durations: number[];
  running: number;
  pending: number;
  next: Date[];
}

/** A job row of dashJobs (with its recent attempts) or of dashJob (without). */
type JobRow = DashJobRow & Partial<Pick<DashJobsRow, 'attempts' | 'succeeded' | 'durations'>>;

function view(row: JobRow, now: Date, fires: number): JobView {
  const job = toJob(row);
  let next: Date[] = [];
  // A broken (quarantined) job does not fire, whatever its schedule says.
  if (job.enabled && !job.brokenAt) {
    try {
      const schedule = scheduleOf({ ...toDueJob(row), planned: true });
      if (schedule) next = upcoming(schedule, new Date(now.getTime() - 1), fires, job.schedule.kind === 'cron' ? job.schedule.timezone : 'UTC', job.exceptions);
    } catch {
      next = [];
    }
    // The stored next_run is the truth for the first fire (catch-up may have moved it).
    if (job.nextRun && (next.length === 0 || job.nextRun < next[0]!)) next = [job.nextRun, ...next].slice(0, fires);
  }
  return {
    ...job, owner: row.owner, database: row.database_name,
    attempts: row.attempts ?? 0, succeeded: row.succeeded ?? 0, durations: row.durations ?? [],
    running: row.running, pending: row.pending, next,
  };
}

const zoneOf = (job: Job): string => (job.schedule.kind === 'cron' ? job.schedule.timezone : 'UTC');

function fireList(job: JobView): Html {
  if (job.next.length === 0) return html`<span class="muted">—</span>`;
  const zone = zoneOf(job);
  return html`<details class="fires"><summary>${zoned(job.next[0]!, zone)}</summary>
<ol>${job.next.map((d) => html`<li>${zoned(d, zone)}</li>`)}</ol></details>`;
}

function lastRun(job: Job): Html {
  if (!job.lastRun) return html`<span class="muted">never</span>`;
  return html`${time(job.lastRun, { relative: true })} ${job.lastStatus === null ? '' : pill(job.lastStatus ? 'completed' : 'failed')}`;
}

function rate(job: JobView): Html {
  if (job.attempts === 0) return html`<span class="muted">—</span>`;
  const pct = Math.round((job.succeeded / job.attempts) * 100);
  return html`<span class="rate ${pct >= 95 ? 'good' : pct >= 75 ? 'warn' : 'bad'}" title="${job.succeeded} of the last ${job.attempts} attempts succeeded">${pct}%</span>`;
}

function select(name: string, label: string, options: string[], current: string | null): Html {
  return html`<label>${label} <select name="${name}"><option value="">all</option>${options.map((o) => html`<option value="${o}"${o === current ? html` selected` : ''}>${o}</option>`)}</select></label>`;
}

/** The jobs page: filtered by the checked query (see listing.ts), a page at a time. */
export async function jobsPage(ctx: PageContext, tx: Tx, query: URLSearchParams): Promise<Html> {
  const listing = readListing(query, 'jobs', JOB_STATUSES, ['owner', 'queue', 'tag'], ['notice']);
  const { owner, queue, tag } = listing.extra;
  const filter = { search: listing.search, status: listing.status, owner: owner ?? null, queue: queue ?? null, tag: tag ?? null };
  const rows = await tx.dashJobs({ ...filter, limit: PAGE_SIZE, offset: (listing.page - 1) * PAGE_SIZE });
  const [count] = await tx.dashJobCount(filter);
  const [facets] = await tx.dashFacets();
  const now = new Date();
  const jobs = rows.map((r) => view(r, now, 10));
  const status = listing.status;
  const body = html`<div class="title"><h1>Jobs</h1>${ctx.readOnly ? '' : html`<a class="button primary" href="${ctx.base}/jobs/new">New job</a>`}</div>
<form class="filters" method="get" action="${ctx.base}/jobs">
<label>Search <input type="search" name="q" value="${listing.search ?? ''}" maxlength="${MAX_SEARCH}" placeholder="name or description"></label>
<label>Status <select name="status"><option value="">all</option>${JOB_STATUSES.map((s) => html`<option${s === status ? html` selected` : ''}>${s}</option>`)}</select></label>
${select('owner', 'Owner', facets?.owners ?? [], owner ?? null)}
${select('queue', 'Queue', facets?.queues ?? [], queue ?? null)}
${select('tag', 'Tag', facets?.tags ?? [], tag ?? null)}
<button type="submit">Filter</button></form>
${pager(`${ctx.base}/jobs`, listing, count?.total ?? 0, 'jobs')}
<div class="scroll"><table class="grid jobs"><thead><tr><th>Job</th><th>Schedule</th><th>Next fires</th><th>Last run</th><th>Success</th><th>Duration</th><th>Owner · queue</th></tr></thead><tbody>
${jobs.map((j) => html`<tr class="${j.enabled && !j.brokenAt ? '' : 'disabled'}" data-job="${j.name}">
<td><a href="${ctx.base}/jobs/${j.id}">${j.name}</a> <span class="kind">${j.type}</span>${j.enabled ? '' : html` <span class="pill disabled">disabled</span>`}
${j.brokenReason ? html` <span class="pill broken" title="${j.brokenReason}">broken</span>` : ''}
${j.running ? html` <span class="pill running">${j.running} running</span>` : ''}
${j.description ? html`<div class="muted small">${j.description}</div>` : ''}${j.labels.map((l) => html`<span class="tag">${l}</span>`)}</td>
<td>${describeSchedule(j.schedule)}</td><td>${fireList(j)}</td><td>${lastRun(j)}</td><td>${rate(j)}</td>
<td>${sparkline(j.durations)}</td><td>${j.owner} · ${j.queue}</td></tr>`)}
</tbody></table></div>${jobs.length === 0 ? html`<p class="empty">No jobs match.</p>` : ''}`;
  return layout(ctx, 'Jobs', '/jobs', body, { live: true });
}

function definition(job: JobView): Html {
  const rows: Array<[string, unknown]> = [
    ['Kind', job.type], ['Schedule', describeSchedule(job.schedule)], ['Enabled', job.enabled ? 'yes' : 'no'],
    ['Broken', job.brokenReason ?? 'no'],
    ['Owner (runs as)', job.owner], ['Target database', job.database ?? '(the scheduler\'s)'], ['Queue · priority', `${job.queue} · ${job.priority}`],
    ['Retries', `${job.retries} (backoff ${formatMs(job.backoffMs)}, at most ${formatMs(job.backoffMaxMs)})`], ['Timeout', formatMs(job.timeoutMs)],
    ['Failure limit', job.disableAfterFailures ?? 'never'], ['Consecutive failures', job.consecutiveFailures],
    ['Overlap', job.overlap], ['Catch-up', `${job.catchUp} (max lateness ${formatMs(job.maxLatenessMs)})`], ['Misfire grace', formatMs(job.misfireGraceMs)],
    ['Ends', time(job.endAt)], ['Runs', `${job.runCount}${job.maxRuns ? ` of ${job.maxRuns}` : ''}`],
    ['Calendar exceptions', job.exceptions.map((e) => [e.date, e.time].filter(Boolean).join(' ')).join(', ') || '—'],
    ['Pinned to', [job.nodeName, ...job.nodeTags.map((t) => `tag ${t}`)].filter(Boolean).join(', ') || 'any node'],
    ['Labels', job.labels.join(', ') || '—'], ['Running · queued', `${job.running} · ${job.pending}`],
  ];
  return html`<dl class="definition">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function stepsTable(steps: DashStepsRow[]): Html {
  if (steps.length === 0) return html``;
  return html`<h2>Steps</h2><table class="grid"><thead><tr><th>#</th><th>Name</th><th>Kind</th><th>Command</th><th>Database</th><th>On error</th><th>Timeout</th></tr></thead><tbody>
${steps.map((s) => html`<tr><td>${s.position}</td><td>${s.name}</td><td>${s.kind}</td><td><code>${s.command}</code></td><td>${s.database_name ?? '—'}</td><td>${s.on_error}</td><td>${formatMs(s.timeout_ms)}</td></tr>`)}
</tbody></table>`;
}

function historyTable(logs: DashJobHistoryRow[]): Html {
  if (logs.length === 0) return html`<p class="empty">No attempts recorded yet.</p>`;
  return html`<table class="grid history"><thead><tr><th>Run</th><th>Attempt</th><th>Status</th><th>Scheduled</th><th>Started</th><th>Duration</th><th>Node</th><th>Message and output</th></tr></thead><tbody>
${logs.map((l) => {
    // json: its shape is the query's json_build_object (a JSON array, never null).
    const steps = l.steps as Array<{ name: string; status: string; message: string | null; ms: number | null }>;
    // jsonb of any shape (what the job returned): shown as JSON.
    const output = l.output === null ? null : JSON.stringify(l.output, null, 2);
    return html`<tr><td>${l.run_id}</td><td>${l.attempt}</td><td>${pill(l.status)}</td><td>${time(l.scheduled_at)}</td>
<td>${time(l.run_time ?? l.finished_at)}</td><td>${formatMs(l.duration_ms)}</td><td>${l.node_id ?? '—'}</td>
<td>${l.message ? html`<div class="message">${l.message}</div>` : ''}${diagnostics(l)}${steps.length ? html`<ul class="steps">${steps.map((s) => html`<li>${pill(s.status)} ${s.name} <span class="muted">${formatMs(s.ms)}</span>${s.message ? html` — ${s.message}` : ''}</li>`)}</ul>` : ''}
${output ? html`<details><summary>output</summary><pre>${output}</pre></details>` : ''}</td></tr>`;
  })}</tbody></table>`;
}

/**
 * A SQL attempt's diagnostics (PostgreSQL's SQLSTATE, DETAIL, HINT; CONTEXT folded away), shown
 * under its message; nothing for a success (00000) or another job type.
 */
function diagnostics(l: DashJobHistoryRow): Html {
  if (!l.sqlstate || l.sqlstate === '00000') return html``;
  return html`<div class="diagnostics muted">SQLSTATE ${l.sqlstate}${l.detail ? html` · DETAIL: ${l.detail}` : ''}${l.hint ? html` · HINT: ${l.hint}` : ''}</div>
${l.context ? html`<details><summary>context</summary><pre>${l.context}</pre></details>` : ''}`;
}

/** Why a quarantined job does not fire, and how it fires again. */
function brokenBanner(job: Job): Html {
  if (!job.brokenAt) return html``;
  return html`<div class="banner error">Broken since ${time(job.brokenAt)}: ${job.brokenReason ?? ''}
This job does not fire until it is redefined (Edit, schedule(), define_job) or enabled.</div>`;
}

/** A job's page (null: no such job visible to this user). */
export async function jobPage(ctx: PageContext, tx: Tx, id: number): Promise<Html | null> {
  const [row] = await tx.dashJob({ job_id: id });
  if (!row) return null;
  const job = view(row, new Date(), 10);
  const steps = await tx.dashSteps({ job_id: id });
  const logs = await tx.dashJobHistory({ job_id: id, limit: 50 });
  const zone = zoneOf(job);
  const actions = html`<div class="actions">
${actionButton(ctx, `/jobs/${id}/run`, 'Run now')}
${job.enabled ? actionButton(ctx, `/jobs/${id}/disable`, 'Disable') : actionButton(ctx, `/jobs/${id}/enable`, 'Enable')}
${ctx.readOnly ? '' : html`<a class="button" href="${ctx.base}/jobs/${id}/edit">Edit</a>`}
${actionButton(ctx, `/jobs/${id}/delete`, 'Delete', { danger: true, confirm: `Delete job "${job.name}" with its queued runs and history?` })}</div>`;
  const body = html`<div class="title"><h1>${job.name} <span class="kind">${job.type}</span> ${job.enabled ? pill('enabled') : pill('disabled')}${job.brokenAt ? html` ${pill('broken')}` : ''}</h1>${actions}</div>
${job.description ? html`<p class="lead">${job.description}</p>` : ''}
${brokenBanner(job)}
${job.lastMessage ? html`<div class="banner error">Last failure: ${job.lastMessage}</div>` : ''}
<div class="columns"><section><h2>Definition</h2>${definition(job)}
${job.type === 'steps' ? '' : html`<h2>Command</h2><pre class="command">${job.command}</pre>`}
${job.type === 'task' ? html`<h2>Payload</h2><pre>${JSON.stringify(job.payload, null, 2)}</pre>` : ''}</section>
<section><h2>Next fires <span class="muted">${zone}</span></h2>${job.next.length ? html`<ol class="fires">${job.next.map((d) => html`<li>${zoned(d, zone)}</li>`)}</ol>` : html`<p class="muted">None scheduled.</p>`}
<h2>Durations</h2>${sparkline(logs.map((l) => l.duration_ms).filter((ms) => ms !== null).reverse().slice(-40), 320, 60)}</section></div>
${stepsTable(steps)}
<h2>History</h2>${historyTable(logs)}`;
  return layout(ctx, job.name, '/jobs', body, { live: true });
}
