/**
 * The overview (numbers and uPlot charts), nodes and the calendar of upcoming fires (runs: pages-runs.ts).
 */
import { toDueJob } from '../store/rows.js';
import type { DashNodesRow } from '../store/queries.js';
import { scheduleOf } from '../core/planner.js';
import { formatMs, html, layout, pill, raw, time, type Html, type PageContext } from './html.js';
import { upcoming, zoned } from './form.js';
import type { Tx } from './db.js';

/** One sample of the live queue (the dashboard samples it for the queue-depth chart). */
export interface QueueSample {
  at: number;
  queued: number;
  running: number;
}

/** JSON for a `<script type="application/json">` block: never closes the element early. */
function jsonBlock(id: string, data: unknown): Html {
  const text = JSON.stringify(data).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return html`<script type="application/json" id="${id}">${raw(text)}</script>`;
}

function card(label: string, value: string | number, extra: { tone?: string; sub?: string } = {}): Html {
  return html`<div class="card ${extra.tone ?? ''}"><div class="label">${label}</div><div class="value">${value}</div>${extra.sub ? html`<div class="sub">${extra.sub}</div>` : ''}</div>`;
}

/** The overview page. */
export async function overviewPage(ctx: PageContext, tx: Tx, samples: QueueSample[]): Promise<Html> {
  const [s] = await tx.dashSummary();
  const minutes = await tx.dashPerMinute({ minutes: 60 });
  const sum = s!;
  const data = {
    minutes: minutes.map((m) => m.minute.getTime() / 1000),
    completed: minutes.map((m) => m.completed),
    failed: minutes.map((m) => m.failed),
    retrying: minutes.map((m) => m.retrying),
    other: minutes.map((m) => m.other),
    p95: minutes.map((m) => (m.p95_ms === null ? null : Math.round(m.p95_ms))),
    queue: { at: samples.map((q) => q.at / 1000), queued: samples.map((q) => q.queued), running: samples.map((q) => q.running) },
  };
  const failed = sum.failed_1h;
  const body = html`<div class="title"><h1>Overview</h1><span class="muted">last hour · database time ${time(sum.db_now)}</span></div>
<div class="cards">
${card('Runs per minute', (sum.completed_1h / 60).toFixed(1), { sub: `${sum.completed_1h} completed in the last hour` })}
${card('Failures', failed, { tone: failed > 0 ? 'bad' : 'good', sub: 'failed or expired attempts, last hour' })}
${card('p95 duration', formatMs(sum.p95_ms_1h), { sub: 'last hour' })}
${card('Queue depth', sum.queued, { sub: `${sum.running} running · ${sum.scheduled} scheduled later` })}
${card('Live nodes', sum.live_nodes, { tone: sum.live_nodes === 0 ? 'bad' : 'good', sub: 'heartbeat in the last minute' })}
${card('Jobs', sum.jobs, { sub: `${sum.enabled} enabled` })}
</div>
<div class="charts">
<figure><figcaption>Finished attempts per minute, by status</figcaption><div class="chart" data-chart="runs"></div></figure>
<figure><figcaption>Failures per minute</figcaption><div class="chart" data-chart="failures"></div></figure>
<figure><figcaption>p95 duration per minute (ms)</figcaption><div class="chart" data-chart="p95"></div></figure>
<figure><figcaption>Queue depth (sampled by this dashboard)</figcaption><div class="chart" data-chart="queue"></div></figure>
</div>${jsonBlock('overview-data', data)}`;
  return layout(ctx, 'Overview', '/', body, { live: true });
}

/** The nodes page. */
export async function nodesPage(ctx: PageContext, tx: Tx): Promise<Html> {
  const nodes = await tx.dashNodes();
  const state = (n: DashNodesRow): string => (n.stopped_at ? 'stopped' : n.heartbeat_age_ms > 60_000 ? 'lost' : 'live');
  const body = html`<div class="title"><h1>Nodes</h1><span class="muted">${nodes.filter((n) => state(n) === 'live').length} live</span></div>
${nodes.length ? html`<table class="grid nodes"><thead><tr><th>Node</th><th>State</th><th>Host · pid</th><th>Version</th><th>Concurrency</th><th>Queues · tags</th><th>Started</th><th>Heartbeat age</th><th>Running now</th></tr></thead><tbody>
${nodes.map((n) => {
    // json: its shape is the query's json_build_object (a JSON array, never null).
    const running = n.running as Array<{ run: number; job: string; since: string }>;
    return html`<tr id="node-${n.node_id}"><td>${n.name}<div class="muted small">${n.node_id}</div></td><td>${pill(state(n))}</td><td>${n.host} · ${n.pid}</td><td>${n.version}</td>
<td>${running.length} / ${n.concurrency}</td><td>${n.queues.join(', ')}${n.tags.length ? html` · ${n.tags.join(', ')}` : ''}</td>
<td>${time(n.started_at, { relative: true })}</td><td>${formatMs(n.heartbeat_age_ms)}</td>
<td>${running.length ? html`<ul class="plain">${running.map((r) => html`<li>${r.job} <span class="muted">run ${r.run}</span></li>`)}</ul>` : html`<span class="muted">idle</span>`}</td></tr>`;
  })}</tbody></table>` : html`<p class="empty">No node has registered in the last day. Start one with <code>kairos start</code>.</p>`}`;
  return layout(ctx, 'Nodes', '/nodes', body, { live: true });
}

interface Fire {
  at: Date;
  job: string;
  id: number;
  zone: string;
}

/** The calendar: a 24-hour timeline per job and an agenda of the next 7 days (UTC days). */
export async function calendarPage(ctx: PageContext, tx: Tx): Promise<Html> {
  const rows = await tx.dashScheduled();
  const now = new Date();
  const horizon = now.getTime() + 7 * 86_400_000;
  const fires: Fire[] = [];
  const timelines: Array<{ id: number; name: string; at: number[]; capped: boolean }> = [];
  const DAY = 86_400_000;
  const CAP = 1500;
  for (const row of rows) {
    const job = toDueJob(row);
    const zone = job.kind === 'cron' ? job.timezone : 'UTC';
    let times: Date[] = [];
    try {
      const schedule = scheduleOf({ ...job, planned: true });
      // Enough fires to cover a day of a frequent job (capped), or a week of a rare one.
      if (schedule) times = upcoming(schedule, new Date(now.getTime() - 1), CAP, zone, job.exceptions ?? []).filter((d) => d.getTime() <= horizon && (!job.endAt || d <= job.endAt));
    } catch {
      times = [];
    }
    const day = times.filter((d) => d.getTime() <= now.getTime() + DAY);
    timelines.push({ id: job.jobId, name: job.name, at: day.map((d) => (d.getTime() - now.getTime()) / DAY), capped: times.length === CAP && day.length === CAP });
    for (const at of times.slice(0, 100)) fires.push({ at, job: job.name, id: job.jobId, zone });
  }
  fires.sort((a, b) => a.at.getTime() - b.at.getTime());
  const days = new Map<string, Fire[]>();
  for (const f of fires) {
    const day = f.at.toISOString().slice(0, 10);
    days.set(day, [...(days.get(day) ?? []), f]);
  }
  const W = 600;
  // Thin marks up to 300 fires a day; a frequent job's day is drawn as a solid band instead (to
  // the end of the day when the count was capped: such a job keeps firing).
  const strip = (at: number[], capped: boolean): Html => html`<svg class="timeline" viewBox="0 0 ${W} 18" preserveAspectRatio="none" height="18" role="img" aria-label="${at.length} fires in the next 24 hours">
<line x1="0" y1="9" x2="${W}" y2="9" class="axis" vector-effect="non-scaling-stroke"/>${at.length > 300
    ? html`<rect x="${(at[0]! * W).toFixed(1)}" y="3" width="${((capped ? 1 : at.at(-1)!) - at[0]!) * W}" height="12" class="band"/>`
    : at.map((x) => html`<line x1="${(x * W).toFixed(1)}" y1="2" x2="${(x * W).toFixed(1)}" y2="16" class="tick" vector-effect="non-scaling-stroke"/>`)}</svg>`;
  const body = html`<div class="title"><h1>Calendar</h1><span class="muted">upcoming fires of enabled jobs, calendar exceptions left out</span></div>
<h2>Next 24 hours</h2><table class="grid timeline-table"><thead><tr><th>Job</th><th><span class="axis-labels"><span>now</span><span>+6 h</span><span>+12 h</span><span>+18 h</span><span>+24 h</span></span></th><th>Fires</th></tr></thead><tbody>
${timelines.map((t) => html`<tr><td><a href="${ctx.base}/jobs/${t.id}">${t.name}</a></td><td>${strip(t.at, t.capped)}</td><td>${t.capped ? `${t.at.length}+` : t.at.length}</td></tr>`)}</tbody></table>
<h2>Next 7 days</h2>${[...days.entries()].map(([day, list]) => html`<section class="agenda"><h3>${day} <span class="muted">${list.length} fires (UTC day)</span></h3>
<ul>${list.slice(0, 60).map((f) => html`<li>${time(f.at)} <a href="${ctx.base}/jobs/${f.id}">${f.job}</a>${f.zone === 'UTC' ? '' : html` <span class="muted">${zoned(f.at, f.zone)}</span>`}</li>`)}
${list.length > 60 ? html`<li class="muted">and ${list.length - 60} more</li>` : ''}</ul></section>`)}
${fires.length === 0 ? html`<p class="empty">Nothing scheduled in the next 7 days.</p>` : ''}`;
  return layout(ctx, 'Calendar', '/calendar', body, { live: true });
}
