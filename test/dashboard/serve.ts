/**
 * Test helpers: serve a dashboard on an ephemeral loopback port, and a tiny HTTP client that keeps
 * cookies and reads the CSRF token from pages, as a browser would.
 */
import http from 'node:http';
import { after } from 'node:test';
import { createDashboard, type Dashboard, type DashboardOptions } from '../../src/dashboard/index.js';

/** A served dashboard. */
export interface Served {
  dashboard: Dashboard;
  /** e.g. http://127.0.0.1:34567 (plus the base path when mounted). */
  url: string;
  origin: string;
}

/** Serve `createDashboard(options)` until the test file ends. */
export async function serve(options: DashboardOptions, wrap?: (dashboard: Dashboard) => http.RequestListener): Promise<Served> {
  const dashboard = createDashboard(options);
  const server = http.createServer(wrap ? wrap(dashboard) : dashboard);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await dashboard.close();
  });
  return { dashboard, url: `${origin}${dashboard.basePath}`, origin };
}

/** A response, read whole. */
export interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

/** A cookie-keeping client of one dashboard. */
export class Client {
  private readonly jar = new Map<string, string>();
  /** Extra headers on every request (e.g. Authorization). */
  headers: Record<string, string> = {};

  constructor(readonly served: Served) {}

  private cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** A request to a dashboard path; redirects are not followed. */
  async request(path: string, init: { method?: string; form?: Record<string, string | string[]>; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...this.headers, ...init.headers };
    if (this.jar.size) headers.cookie = this.cookieHeader();
    let body: string | undefined;
    if (init.form) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(init.form)) for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
      body = params.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await fetch(`${this.served.url}${path}`, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** GET a page and return its CSRF token (from the meta tag). */
  async csrf(path = '/jobs'): Promise<string> {
    const page = await this.request(path);
    const match = /<meta name="kairos-csrf" content="([^"]+)">/.exec(page.text);
    if (!match) throw new Error(`no CSRF token on ${path} (status ${page.status})`);
    return match[1]!;
  }

  /** POST a form the way the dashboard's own pages do (token and same Origin). */
  async post(path: string, form: Record<string, string | string[]> = {}): Promise<Reply> {
    const token = await this.csrf();
    return this.request(path, { form: { _csrf: token, ...form }, headers: { origin: this.served.origin } });
  }
}
