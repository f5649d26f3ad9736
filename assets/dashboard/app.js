/* global document, window, fetch, EventSource, DOMParser, URLSearchParams, FormData, setInterval, HTMLElement */
// The Kairos dashboard's client: a plain ES module served by the dashboard itself (no bundler,
// no CDN). Pages work without it; it adds live updates (server-sent events), the uPlot charts,
// relative times, confirmations, and the job form's live schedule preview and step editor.

const base = document.querySelector('meta[name="kairos-base"]')?.content ?? '';

/** "5 min ago" / "in 3 h" for <time data-relative>, with the server's "YYYY-MM-DD HH:MM:SS UTC" as a tooltip (one format everywhere). */
function relativeTimes(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time[datetime]')) {
    const at = new Date(el.getAttribute('datetime'));
    el.title = `${at.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
    if (!el.hasAttribute('data-relative')) continue;
    const s = Math.round((at.getTime() - now) / 1000);
    const abs = Math.abs(s);
    const text = abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
    el.textContent = s <= 0 ? `${text} ago` : `in ${text}`;
  }
}

/** Forms with data-confirm ask first (delete, cancel). */
document.addEventListener('submit', (event) => {
  const form = event.target;
  const message = form.getAttribute && form.getAttribute('data-confirm');
  if (message && !window.confirm(message)) event.preventDefault();
});

const COLORS = { completed: '#16a34a', failed: '#dc2626', retrying: '#d97706', other: '#64748b', p95: '#7c3aed', queued: '#2563eb', running: '#0891b2' };

async function charts(root) {
  const dataEl = root.querySelector('#overview-data');
  if (!dataEl) return;
  const { default: uPlot } = await import(`${base}/assets/uplot.js`);
  const data = JSON.parse(dataEl.textContent);
  const series = (label, color, fill) => ({ label, stroke: color, width: 2, fill: fill ? `${color}22` : undefined, points: { show: false } });
  const specs = {
    runs: [[data.minutes, data.completed, data.failed, data.retrying, data.other],
      [series('completed', COLORS.completed, true), series('failed', COLORS.failed), series('retrying', COLORS.retrying), series('other', COLORS.other)]],
    failures: [[data.minutes, data.failed], [series('failed', COLORS.failed, true)]],
    p95: [[data.minutes, data.p95], [series('p95 ms', COLORS.p95, true)]],
    queue: [[data.queue.at, data.queue.queued, data.queue.running], [series('queued', COLORS.queued, true), series('running', COLORS.running)]],
  };
  for (const el of root.querySelectorAll('[data-chart]')) {
    const [values, lines] = specs[el.dataset.chart];
    el.textContent = '';
    if (values[0].length === 0) {
      el.innerHTML = '<p class="empty">No data yet.</p>';
      continue;
    }
    const width = Math.max(280, el.clientWidth || 480);
    // Axes in UTC like every time the dashboard shows (uPlot's default is the viewer's zone).
    new uPlot({ width, height: 200, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'), series: [{}, ...lines], axes: [{ stroke: '#64748b' }, { stroke: '#64748b', size: 64 }], legend: { live: false } }, values, el);
  }
}

/** Live updates: re-render <main> from a fresh copy of the page when the server says so. */
function live() {
  const dot = document.querySelector('.live-dot');
  const source = new EventSource(`${base}/events`);
  let busy = false;
  let again = false;
  // A submitted form is taking the user elsewhere (often after changing this very page: a deleted
  // job's page is gone); refreshing the old page now would only fetch what no longer exists.
  let leaving = false;
  document.addEventListener('submit', (event) => {
    if (!event.defaultPrevented) leaving = true;
  });
  window.addEventListener('pageshow', () => (leaving = false));
  source.onopen = () => dot?.classList.add('on');
  source.onerror = () => dot?.classList.remove('on');
  async function refresh() {
    const main = document.getElementById('main');
    if (!main || main.dataset.live !== 'true' || leaving) return;
    // A change during a refresh is not dropped: one more refresh follows.
    if (busy) {
      again = true;
      return;
    }
    // Never swap the page under someone typing in a filter (the next change refreshes it).
    const active = document.activeElement;
    if (active && main.contains(active) && ['INPUT', 'SELECT', 'TEXTAREA'].includes(active.tagName)) return;
    // Keep the fire lists the user opened open after the refresh (keyed by their row's job name).
    const openJobs = [...main.querySelectorAll('details[open]')].map((d) => d.closest('[data-job]')?.dataset.job).filter(Boolean);
    busy = true;
    try {
      const response = await fetch(window.location.href, { headers: { Accept: 'text/html' } });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
      const fresh = doc.getElementById('main');
      if (!fresh) return;
      // The notice of the action that led here stays until the user moves on.
      const notice = main.querySelector('.banner.notice');
      main.innerHTML = fresh.innerHTML;
      if (notice && !main.querySelector('.banner.notice')) main.prepend(notice);
      for (const d of main.querySelectorAll('[data-job] details')) if (openJobs.includes(d.closest('[data-job]').dataset.job)) d.open = true;
      init(main);
      document.dispatchEvent(new window.CustomEvent('kairos:refreshed'));
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }
  source.addEventListener('change', () => void refresh());
}

/** The job form: fields of the chosen kind and schedule, steps, and the live schedule preview. */
function jobForm(form) {
  const kind = form.querySelector('#f-kind');
  const scheduleKind = form.querySelector('#f-schedule_kind');
  const show = () => {
    for (const el of form.querySelectorAll('[data-kinds]')) el.hidden = !el.dataset.kinds.split(' ').includes(kind.value);
    for (const el of form.querySelectorAll('[data-schedules]')) el.hidden = !el.dataset.schedules.split(' ').includes(scheduleKind.value);
  };
  kind.addEventListener('change', show);
  scheduleKind.addEventListener('change', () => { show(); preview(); });
  show();
  const steps = form.querySelector('#steps');
  form.querySelector('#add-step').addEventListener('click', () => {
    steps.append(form.querySelector('#step-template').content.cloneNode(true));
  });
  steps.addEventListener('click', (event) => {
    if (event.target.classList.contains('remove-step') && steps.children.length > 1) event.target.closest('.step').remove();
  });
  const output = form.querySelector('#schedule-preview');
  let timer;
  let seq = 0;
  async function preview() {
    const fields = new FormData(form);
    const query = new URLSearchParams();
    for (const name of ['schedule_kind', 'cron', 'timezone', 'every', 'start_at', 'at', 'end_at', 'exceptions']) query.set(name, fields.get(name) ?? '');
    const mine = ++seq;
    const response = await fetch(`${base}/api/preview?${query}`, { headers: { Accept: 'application/json' } });
    if (mine !== seq || !response.ok) return;
    const result = await response.json();
    output.textContent = '';
    output.className = `preview ${result.ok ? 'ok' : 'error'}`;
    if (!result.ok) {
      output.textContent = result.error;
      return;
    }
    const words = document.createElement('strong');
    words.textContent = result.words;
    output.append(words);
    if (result.next && result.next.length) {
      const list = document.createElement('ol');
      for (const at of result.next) {
        const item = document.createElement('li');
        item.textContent = at;
        list.append(item);
      }
      output.append(list);
    }
  }
  form.addEventListener('input', (event) => {
    if (!['cron', 'timezone', 'every', 'start_at', 'at', 'end_at', 'exceptions'].includes(event.target.name)) return;
    clearTimeout(timer);
    timer = setTimeout(preview, 200);
  });
  preview();
}

function init(root) {
  relativeTimes(root);
  charts(root).catch((error) => console.error('charts failed', error));
}

init(document);
const here = new window.URL(window.location.href);
if (here.searchParams.has('notice')) {
  here.searchParams.delete('notice');
  window.history.replaceState(null, '', here.pathname + here.search);
}
const form = document.getElementById('job-form');
if (form instanceof HTMLElement) jobForm(form);
if (document.getElementById('main')) live();
setInterval(() => relativeTimes(document), 30000);
