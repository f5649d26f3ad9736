/**
 * `kairos-scheduler/dashboard`: the web dashboard as a plain Node request handler. Serve it with
 * `http.createServer(createDashboard({ connectionString }))`, mount it under a path of your own server
 * (`basePath`), or run `kairos dashboard`. Pages are rendered on the server; a small ES-module
 * client (no bundler, no CDN) draws the uPlot charts and follows live updates.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';
import { assertSchemaName } from '../store/sql.js';
import { createPool } from '../store/db.js';
import { KairosValidationError, describeValue } from '../core/errors.js';
import { assertKnownKeys } from '../core/validate.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { urlPassword } from '../core/redact.js';
import { DashboardDb, showError, type Tx } from './db.js';
import { Security, securityHeaders, type DashboardAuth, type DashboardUser, type Principal } from './security.js';
import { LiveEvents } from './events.js';
import { html, layout, type Html, type PageContext } from './html.js';
import { calendarPage, nodesPage, overviewPage, type QueueSample } from './pages-ops.js';
import { runPage, runsPage } from './pages-runs.js';
import { SchemaWatch, schemaPage, type Health } from './health.js';
import { jobPage, jobsPage } from './pages-jobs.js';
import { formPage, jobValues } from './page-form.js';
import { FormError, noticeText, perform } from './actions.js';
import { previewSchedule, type FormValues } from './form.js';
import { checkFormType, checkPath, consumeBody, parseForm } from './request.js';

export type { DashboardAuth, DashboardUser } from './security.js';
export type { Health } from './health.js';
export { describeCron, describeSchedule } from './describe.js';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** An existing pool (not closed by close()), or… */
  pool?: pg.Pool;
  /** …a PostgreSQL connection string (the dashboard then owns its pool). One of `pool` or `connectionString` is required. */
  connectionString?: string;
  /** @deprecated Use {@link DashboardOptions.connectionString} (the same); kept for compatibility. Giving both is refused. */
  databaseUrl?: string;
  /** Schema of the installation. @default 'kairos' */
  schema?: string;
  /** Path the dashboard is mounted under, e.g. '/kairos'. @default '' (the root) */
  basePath?: string;
  /** Hide and refuse every write. @default false */
  readOnly?: boolean;
  /** Token and/or basic-auth users; with none, whoever reaches the port is in. */
  auth?: DashboardAuth;
  /** Mark cookies Secure (when served over HTTPS). @default false */
  secureCookies?: boolean;
  logger?: Logger;
  /**
   * Host names (Host header, without port) the dashboard answers to. Without auth it defaults to
   * the loopback names only, so a web page cannot reach it through DNS rebinding; with auth, any.
   */
  allowedHosts?: string[];
  /** How often the queue depth is sampled for its chart. @default 15000 */
  sampleIntervalMs?: number;
}

/** The dashboard: a request handler (Express-style `next` optional) with close(). */
export interface Dashboard {
  (req: IncomingMessage, res: ServerResponse, next?: () => void): void;
  /** Stop live updates and sampling; closes the pool if the dashboard created it. */
  close(): Promise<void>;
  /** The options in force (base path normalised). */
  readonly basePath: string;
  /** Whether the database answers and the schema is installed (what `/healthz` reports). */
  health(): Promise<Health>;
}

const ASSET_DIR = fileURLToPath(new URL('../../assets/dashboard/', import.meta.url));
const require = createRequire(import.meta.url);
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** Load the static files once: the client, the stylesheet and uPlot from node_modules. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const files: Array<[string, string]> = [
    ['app.js', `${ASSET_DIR}app.js`], ['style.css', `${ASSET_DIR}style.css`],
    ['uplot.js', require.resolve('uplot/dist/uPlot.esm.js')], ['uplot.css', require.resolve('uplot/dist/uPlot.min.css')],
  ];
  return new Map(files.map(([name, path]) => [name, { type: TYPES[name.split('.').pop()!]!, body: readFileSync(path) }]));
}

function normaliseBase(path: string | undefined): string {
  const base = (path ?? '').replace(/\/+$/, '');
  if (base !== '' && !/^\/[A-Za-z0-9._~\-/]*$/.test(base)) throw new KairosValidationError('basePath', `Expected \`basePath\` to be a URL path such as "/kairos", got ${describeValue(path)}`);
  return base;
}

/** A request's input, read and decoded (see readRequest). */
interface RequestInput {
  /** The path below the base path ('/' at least), still percent-encoded. */
  path: string;
  query: URLSearchParams;
  /** The form posted ({} when none was read). */
  body: URLSearchParams;
}

/** The request target as a URL, or null when it is none (e.g. "//"). */
function parseTarget(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://dashboard.invalid');
  } catch {
    return null;
  }
}

/** The error `check` throws, or null: a check whose answer waits until the body is consumed. */
function captured(check: () => void): Error | null {
  try {
    check();
    return null;
  } catch (error) {
    return error as Error;
  }
}

function send(res: ServerResponse, status: number, body: string | Buffer, type = 'text/html; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...extra });
  res.end(body);
}

/**
 * The keys of {@link DashboardOptions} and of its `auth` (a key missing here, or here and not in
 * the interface, fails the type-check). A typo there is refused: `auth: { tokne }` would serve
 * the dashboard without a sign-in.
 */
const DASHBOARD_OPTION_KEYS = {
  pool: true, connectionString: true, databaseUrl: true, schema: true, basePath: true, readOnly: true, auth: true,
  secureCookies: true, logger: true, allowedHosts: true, sampleIntervalMs: true,
} as const satisfies Record<keyof DashboardOptions, true>;
const AUTH_KEYS = { token: true, role: true, users: true } as const satisfies Record<keyof DashboardAuth, true>;
const USER_KEYS = { name: true, password: true, role: true } as const satisfies Record<keyof DashboardUser, true>;

/** Refuse unknown keys in the options, their `auth` and its users, before anything is opened. */
function checkOptionKeys(options: DashboardOptions): void {
  if (!options || typeof options !== 'object') throw new KairosValidationError('options', `Expected the options of createDashboard() to be an object, got ${describeValue(options)}`);
  assertKnownKeys(options, DASHBOARD_OPTION_KEYS, 'createDashboard()');
  assertKnownKeys(options.auth, AUTH_KEYS, 'createDashboard()', 'auth.');
  if (Array.isArray(options.auth?.users)) options.auth.users.forEach((user, i) => assertKnownKeys(user, USER_KEYS, 'createDashboard()', `auth.users[${i}].`));
}

/** Create the dashboard handler. */
export function createDashboard(options: DashboardOptions): Dashboard {
  checkOptionKeys(options);
  const app = new DashboardApp(options);
  // Bad input (a KairosValidationError, or an error of the database's own checks) is a 4xx with
  // its message; anything else is a 500 with a generic text, the details only in the log.
  const handler = ((req: IncomingMessage, res: ServerResponse, next?: () => void) => {
    app.handle(req, res, next).catch((error: unknown) => app.failed(res, error));
  }) as Dashboard;
  Object.defineProperty(handler, 'basePath', { value: app.base });
  handler.close = () => app.close();
  handler.health = () => app.watch.check();
  return handler;
}

/** Samples of the queue depth for the overview's chart, taken every `intervalMs` (the last 240 kept). */
class QueueSampler {
  private readonly samples: QueueSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly db: DashboardDb, private readonly watch: SchemaWatch, intervalMs: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** A copy of the samples so far, oldest first. */
  now(): QueueSample[] {
    return this.samples.slice();
  }

  /** Stop sampling. */
  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    this.db.store.sql.dashQueueDepth().then(([row]) => {
      this.watch.succeeded('queue sampling');
      this.samples.push({ at: row!.at.getTime(), queued: row!.queued, running: row!.running });
      if (this.samples.length > 240) this.samples.shift();
    }, (error: unknown) => this.watch.failed('queue sampling', error));
  }
}

/**
 * The connection string given as `connectionString` or as its deprecated alias `databaseUrl`;
 * both at once is refused (even when equal), so a caller never wonders which one won.
 */
function dashboardConnectionString(options: DashboardOptions): string | undefined {
  if (options.connectionString !== undefined && options.databaseUrl !== undefined) {
    throw new KairosValidationError('connectionString', 'Expected `connectionString` or its deprecated alias `databaseUrl` for the dashboard, got both');
  }
  return options.connectionString ?? options.databaseUrl;
}

/** One dashboard: its options checked, its pool, security and live events, and the request handling. */
class DashboardApp {
  readonly base: string;
  private readonly schema: string;
  private readonly logger: Logger;
  private readonly pool: pg.Pool;
  private readonly db: DashboardDb;
  private readonly security: Security;
  private readonly readOnly: boolean;
  private readonly allowedHosts: string[] | null;
  private readonly events: LiveEvents;
  private readonly assets: Map<string, { type: string; body: Buffer }>;
  private readonly sampler: QueueSampler;
  /** Whether the schema is installed, and the one-log-line-per-outage rule of the periodic work. */
  readonly watch: SchemaWatch;

  constructor(private readonly options: DashboardOptions) {
    this.schema = assertSchemaName(options.schema ?? 'kairos');
    this.base = normaliseBase(options.basePath);
    const connectionString = dashboardConnectionString(options);
    if (!options.pool && !connectionString) throw new KairosValidationError('connectionString', 'Expected `pool` or `connectionString` for the dashboard, got neither');
    const logger = (this.logger = options.logger ?? silentLogger);
    this.pool = options.pool ?? createPool(connectionString!, 5, (error) => logger.warn({ err: error }, 'idle dashboard connection failed'));
    this.db = new DashboardDb(this.pool, this.schema);
    this.security = new Security(options.auth ?? {}, this.base || '/', Boolean(options.secureCookies));
    this.readOnly = Boolean(options.readOnly);
    this.allowedHosts = options.allowedHosts ?? (this.security.enabled ? null : ['127.0.0.1', 'localhost', '[::1]']);
    this.watch = new SchemaWatch(this.pool, this.schema, logger);
    this.events = new LiveEvents(this.db, logger, this.watch);
    this.assets = loadAssets();
    this.sampler = new QueueSampler(this.db, this.watch, options.sampleIntervalMs ?? 15_000);
  }

  /** Never shown: the dashboard's token and passwords, and the database password however given. */
  private secrets(): string[] {
    const poolConfig = (this.pool as unknown as { options: pg.ClientConfig }).options;
    return [...this.security.secrets, typeof poolConfig.password === 'string' ? poolConfig.password : '', urlPassword(poolConfig.connectionString)];
  }

  /** Stop live updates and sampling; close the pool if the dashboard created it. */
  async close(): Promise<void> {
    this.sampler.stop();
    await this.events.close();
    if (!this.options.pool) await this.pool.end();
  }

  /** Answer a request that failed outside the pages' own error handling. */
  failed(res: ServerResponse, error: unknown): void {
    const shown = showError(error, this.secrets());
    if (shown.status >= 500) this.logger.error({ err: error }, 'dashboard request failed');
    if (res.headersSent) return void res.end();
    send(res, shown.status, shown.message, 'text/plain; charset=utf-8');
  }

  /** Serve one request: outside the base path it goes to `next` (or a 404), inside it is checked, then routed. */
  async handle(req: IncomingMessage, res: ServerResponse, next?: () => void): Promise<void> {
    const url = parseTarget(req.url);
    if (this.base && (url ? url.pathname !== this.base && !url.pathname.startsWith(`${this.base}/`) : Boolean(next))) {
      if (next) return next();
      await consumeBody(req, res, false);
      return send(res, 404, 'Not found', 'text/plain; charset=utf-8');
    }
    securityHeaders(res);
    // The probe answers before the Host and sign-in checks: it says only ok or not (no data), and
    // a kubelet or load balancer asks by IP address without credentials.
    if (url?.pathname === `${this.base}/healthz` && (req.method === 'GET' || req.method === 'HEAD')) {
      await consumeBody(req, res, false);
      const health = await this.watch.check();
      return send(res, health.ok ? 200 : 503, JSON.stringify(health), 'application/json; charset=utf-8');
    }
    const hostname = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const hostAllowed = !this.allowedHosts || this.allowedHosts.includes(hostname);
    const principal = hostAllowed ? this.security.authenticate(req) : null;
    const input = await this.readRequest(req, res, url, principal !== null);
    if (!hostAllowed) {
      return send(res, 421, `This dashboard answers only to ${this.allowedHosts!.join(', ')} without authentication; configure auth or allowedHosts.`, 'text/plain; charset=utf-8');
    }
    return this.route(req, res, input, principal);
  }

  /** Route a checked request: assets and sign-in first, then (signed in) writes, live events and pages. */
  private async route(req: IncomingMessage, res: ServerResponse, { path, query, body }: RequestInput, signedIn: Principal | null): Promise<void> {
    const asset = /^\/assets\/([a-z.]+)$/.exec(path);
    if (asset && req.method === 'GET') return this.asset(res, asset[1]!);
    let principal = signedIn;
    if (path === '/login' && req.method === 'POST') {
      if (this.security.login(res, body.get('token') ?? '')) {
        res.writeHead(303, { Location: `${this.base}/` });
        return void res.end();
      }
      principal = null;
    }
    if (!principal) return this.unauthorized(res, path === '/login' && req.method === 'POST');
    if (req.method === 'POST') return this.write(req, res, path, principal, body);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed', 'text/plain; charset=utf-8', { Allow: 'GET, POST' });
    if (path === '/events') return this.events.open(req, res);
    if (path === '/api/preview') {
      return send(res, 200, JSON.stringify(previewSchedule(query, new Date())), 'application/json; charset=utf-8');
    }
    return this.read(req, res, path, query, principal);
  }

  private asset(res: ServerResponse, name: string): void {
    const file = this.assets.get(name);
    return file ? send(res, 200, file.body, file.type, { 'Cache-Control': 'public, max-age=300' }) : send(res, 404, 'Not found', 'text/plain; charset=utf-8');
  }

  /** Render a page in a transaction as the principal's role. */
  private async read(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, principal: Principal): Promise<void> {
    const ctx = this.context(req, res, principal, { notice: noticeText(query.get('notice')) });
    try {
      const rendered = await this.db.tx(principal.role, (tx) => this.page(path, query, tx, ctx, this.sampler.now()));
      // A page that renders again after the schema was missing: the next outage is logged again.
      this.watch.succeeded('page');
      if (!rendered) return this.errorPage(res, ctx, 404, 'Not found (or not visible to your role).');
      send(res, 200, rendered.text);
    } catch (error) {
      if (await this.schemaMissing(res, ctx, error)) return;
      const shown = showError(error, this.secrets());
      if (shown.status === 500) this.logger.error({ err: error, path }, 'dashboard page failed');
      this.errorPage(res, ctx, shown.status === 400 && this.readOnly ? 403 : shown.status, shown.message);
    }
  }

  /** A page failed because the schema is not installed: one clear page (503), one log line per outage. */
  private async schemaMissing(res: ServerResponse, ctx: PageContext, error: unknown): Promise<boolean> {
    if (!SchemaWatch.mayBeMissing(error)) return false;
    const health = await this.watch.check();
    if (health.ok) return false;
    this.watch.failed('page', error);
    send(res, 503, schemaPage(ctx, health).text);
    return true;
  }

  private context(req: IncomingMessage, res: ServerResponse, principal: Principal, extra: Partial<PageContext> = {}): PageContext {
    return { base: this.base, csrf: this.security.csrfToken(req, res, principal), readOnly: this.readOnly, user: principal.name || null, schema: this.schema, ...extra };
  }

  private errorPage(res: ServerResponse, ctx: PageContext, status: number, message: string): void {
    send(res, status, layout({ ...ctx, error: message }, 'Error', '', html`<p><a href="${ctx.base}/">Back to the overview</a></p>`).text);
  }

  private async page(path: string, query: URLSearchParams, tx: Tx, ctx: PageContext, samplesNow: QueueSample[]): Promise<Html | null> {
    if (path === '/' || path === '') return overviewPage(ctx, tx, samplesNow);
    if (path === '/jobs') return jobsPage(ctx, tx, query);
    if (path === '/runs') return runsPage(ctx, tx, query);
    const run = /^\/runs\/(\d{1,15})$/.exec(path);
    if (run) return runPage(ctx, tx, Number(run[1]));
    if (path === '/nodes') return nodesPage(ctx, tx);
    if (path === '/calendar') return calendarPage(ctx, tx);
    if (path === '/jobs/new') {
      if (this.readOnly) throw new KairosValidationError('readOnly', 'This dashboard is read-only');
      return formPage(ctx, { kind: 'sql', schedule_kind: 'cron', timezone: 'UTC' }, { editing: false, action: '/jobs' });
    }
    const job = /^\/jobs\/(\d{1,9})(\/edit)?$/.exec(path);
    if (!job) return null;
    const id = Number(job[1]);
    if (!job[2]) return jobPage(ctx, tx, id);
    if (this.readOnly) throw new KairosValidationError('readOnly', 'This dashboard is read-only');
    const [row] = await tx.dashJob({ job_id: id });
    if (!row) return null;
    return formPage(ctx, jobValues(row, await tx.dashSteps({ job_id: id })), { editing: true, action: `/jobs/${id}/edit`, jobId: id });
  }

  private async write(req: IncomingMessage, res: ServerResponse, path: string, principal: Principal, body: URLSearchParams): Promise<void> {
    const ctx = this.context(req, res, principal);
    if (this.readOnly) return this.errorPage(res, ctx, 403, 'This dashboard is read-only: changes are refused.');
    const refused = this.security.checkWrite(req, principal, body.get('_csrf') ?? (req.headers['x-csrf-token'] as string | undefined));
    if (refused) return this.errorPage(res, ctx, 403, `Refused: ${refused}.`);
    try {
      const result = await this.db.tx(principal.role, (tx) => perform(tx, path, body));
      if (!result) return this.errorPage(res, ctx, 404, 'There is no such action.');
      res.writeHead(303, { Location: `${this.base}${result.redirect}?notice=${encodeURIComponent(result.notice)}`, 'Cache-Control': 'no-store' });
      res.end();
    } catch (error) {
      if (await this.schemaMissing(res, ctx, error)) return;
      this.writeFailed(res, ctx, path, error);
    }
  }

  /** A refused action: the form again with its values and the reason, or an error page. */
  private writeFailed(res: ServerResponse, ctx: PageContext, path: string, error: unknown): void {
    const cause = error instanceof FormError ? error.cause : error;
    const shown = showError(cause, this.secrets());
    if (shown.status === 500) this.logger.error({ err: cause, path }, 'dashboard action failed');
    if (error instanceof FormError) {
      const editing = path !== '/jobs';
      const values: FormValues = error.values;
      return send(res, shown.status, formPage({ ...ctx, error: shown.message }, values, { editing, action: path, jobId: editing ? Number(path.split('/')[2]) : undefined }).text);
    }
    this.errorPage(res, ctx, shown.status, shown.message);
  }

  /**
   * Read what the request carries before anything answers it: the body (kept for a signed-in
   * write or the sign-in form, else thrown away), then the target, decoded strictly. Bad input
   * throws a KairosValidationError, answered with a 4xx by the handler.
   */
  private async readRequest(req: IncomingMessage, res: ServerResponse, url: URL | null, trusted: boolean): Promise<RequestInput> {
    const path = url ? url.pathname.slice(this.base.length) || '/' : '/';
    const wanted = req.method === 'POST' && (trusted || path === '/login');
    const type = wanted ? captured(() => checkFormType(req)) : null;
    const raw = await consumeBody(req, res, wanted && type === null);
    if (!url) throw new KairosValidationError('url', `Expected a request target such as "/jobs", got ${describeValue(req.url)}`);
    checkPath(url.pathname);
    if (type) throw type;
    return { path, query: parseForm(url.search.slice(1), 'query'), body: parseForm(raw, 'form') };
  }

  private unauthorized(res: ServerResponse, failed: boolean): void {
    const headers: Record<string, string> = this.security.basic ? { 'WWW-Authenticate': 'Basic realm="Kairos dashboard", charset="UTF-8"' } : {};
    const form = this.security.tokenLogin
      ? html`<form method="post" action="${this.base}/login" class="login"><label>Access token <input type="password" name="token" autocomplete="current-password" autofocus></label><button type="submit" class="primary">Sign in</button></form>`
      : html`<p>Sign in with your user name and password.</p>`;
    const body = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · Kairos</title><link rel="stylesheet" href="${this.base}/assets/style.css"><link rel="icon" href="data:,"></head>
<body class="signin"><main><h1>Kairos</h1>${failed ? html`<div class="banner error">That token is not right.</div>` : ''}${form}</main></body></html>`;
    send(res, 401, body.text, 'text/html; charset=utf-8', headers);
  }
}
