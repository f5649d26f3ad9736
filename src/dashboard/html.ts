/**
 * HTML templating for the dashboard: a tagged template that escapes every interpolated value
 * unless it is already `Html` (built by this module), the page layout and small shared widgets.
 * Nothing reaches the page unescaped: job names, commands and error messages are user data.
 */

/** A piece of markup that is safe to insert as is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escape text for HTML content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

/** Tagged template: `html\`<b>${name}</b>\`` escapes `name`; arrays and Html nest. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new Html(out);
}

/** Markup that is already safe (only for constant strings in this package). */
export function raw(text: string): Html {
  return new Html(text);
}

/** What every page template needs to know about the request. */
export interface PageContext {
  /** Mount path without a trailing slash ('' at the root). */
  base: string;
  /** The CSRF token for forms on this page. */
  csrf: string;
  readOnly: boolean;
  /** Who is signed in (shown in the header), if auth is on. */
  user: string | null;
  /** The schema shown in the header. */
  schema: string;
  /** An error to show in a banner. */
  error?: string | null;
  /** A notice to show in a banner (after a successful action). */
  notice?: string | null;
}

const NAV: Array<[string, string]> = [
  ['/', 'Overview'],
  ['/jobs', 'Jobs'],
  ['/runs', 'Runs'],
  ['/nodes', 'Nodes'],
  ['/calendar', 'Calendar'],
];

/** The whole page around `body`. `live` pages refresh their <main> when the data changes. */
export function layout(ctx: PageContext, title: string, active: string, body: Html, options: { live?: boolean } = {}): Html {
  const nav = NAV.map(([path, label]) => html`<a href="${ctx.base}${path}" class="${path === active ? 'active' : ''}">${label}</a>`);
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="kairos-base" content="${ctx.base}"><meta name="kairos-csrf" content="${ctx.csrf}">
<title>${title} · Kairos</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="${ctx.base}/assets/uplot.css"><link rel="stylesheet" href="${ctx.base}/assets/style.css">
<script type="module" src="${ctx.base}/assets/app.js"></script></head>
<body><header><a class="brand" href="${ctx.base}/">Kairos</a><nav>${nav}</nav>
<span class="meta">${ctx.schema}${ctx.readOnly ? html` · <span class="badge">read-only</span>` : ''}${ctx.user ? html` · ${ctx.user}` : ''}
<span class="live-dot" title="live updates"></span></span></header>
<main id="main" data-live="${options.live ? 'true' : 'false'}">
${ctx.error ? html`<div class="banner error" role="alert">${ctx.error}</div>` : ''}
${ctx.notice ? html`<div class="banner notice" role="status">${ctx.notice}</div>` : ''}
${body}
</main></body></html>`;
}

/** A POST button (with CSRF token) that asks for confirmation when `confirm` is given. */
export function actionButton(ctx: PageContext, action: string, label: string, options: { confirm?: string; danger?: boolean; fields?: Record<string, string> } = {}): Html {
  if (ctx.readOnly) return html``;
  const hidden = Object.entries(options.fields ?? {}).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return html`<form method="post" action="${ctx.base}${action}" class="inline"${options.confirm ? html` data-confirm="${options.confirm}"` : ''}>
<input type="hidden" name="_csrf" value="${ctx.csrf}">${hidden}<button type="submit" class="${options.danger ? 'danger' : ''}">${label}</button></form>`;
}

/** A date as ISO text in a <time> element (the client shows it in local time and as "5 min ago"). */
export function time(value: Date | string | null | undefined, options: { relative?: boolean } = {}): Html {
  if (!value) return html`<span class="muted">—</span>`;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return html`<span class="muted">—</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}"${options.relative ? raw(' data-relative') : ''}>${iso.replace('T', ' ').slice(0, 19)} UTC</time>`;
}

/** A duration in ms as short text (850 ms, 2.3 s, 4 min 10 s, 3 h 5 min). */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.round((ms % 86_400_000) / 3_600_000)} h`;
}

/** A status pill. */
export function pill(status: string): Html {
  return html`<span class="pill ${status}">${status}</span>`;
}

/** An inline SVG sparkline of durations (no script, no inline style: CSP-safe). */
export function sparkline(values: number[] | null | undefined, width = 120, height = 24): Html {
  const points = (values ?? []).filter((v) => Number.isFinite(v));
  if (points.length < 2) return html`<span class="muted">—</span>`;
  const max = Math.max(...points, 1);
  const step = width / (points.length - 1);
  const coords = points.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(' ');
  return html`<svg class="spark" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="durations of the last ${points.length} attempts, max ${formatMs(max)}"><polyline points="${coords}"/></svg>`;
}
