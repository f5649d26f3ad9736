/**
 * The dashboard's security: who is asking (a token or basic-auth users, each optionally bound to
 * a database role), CSRF tokens tied to a per-browser cookie plus an Origin check on every write,
 * and the response headers (CSP without inline scripts, no framing, no sniffing).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KairosValidationError } from '../core/errors.js';
import { urlOrigin } from '../core/redact.js';
import { assertRoleName } from '../store/sql.js';
import { parseCookies } from './request.js';

/** A dashboard user for basic auth. */
export interface DashboardUser {
  name: string;
  password: string;
  /** Database role the user's requests run as (SET ROLE): RLS and grants then apply. */
  role?: string;
}

/** Authentication settings. With none, anyone who reaches the port may use the dashboard. */
export interface DashboardAuth {
  /** A shared token: `Authorization: Bearer …`, or entered once on the sign-in page. */
  token?: string;
  /** Role of every request whose user names none (the token, or everyone when auth is off). */
  role?: string;
  /** Basic-auth users. */
  users?: DashboardUser[];
}

/** Who a request is from. */
export interface Principal {
  name: string;
  role: string | null;
}

const SESSION_COOKIE = 'kairos_session';
const CSRF_COOKIE = 'kairos_csrf';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The request's cookies; one that cannot be decoded is left out (never an error). */
export function cookies(req: IncomingMessage): Record<string, string> {
  return parseCookies(req.headers.cookie);
}

/** Authentication, sessions and CSRF for one dashboard instance. */
export class Security {
  /** Per-process secret: restarting the dashboard signs everyone out, which is fine. */
  private readonly secret = randomBytes(32);
  readonly enabled: boolean;

  constructor(private readonly auth: DashboardAuth, private readonly cookiePath: string, private readonly secure: boolean) {
    for (const [i, user] of (auth.users ?? []).entries()) {
      if (!user.name || !user.password) throw new KairosValidationError(`auth.users[${i}]`, `Expected \`auth.users[${i}]\` to have a name and a password`);
      if (user.role !== undefined) assertRoleName(user.role, `auth.users[${i}].role`);
    }
    if (auth.role !== undefined) assertRoleName(auth.role, 'auth.role');
    if (auth.token !== undefined && auth.token.length < 16) throw new KairosValidationError('auth.token', 'Expected `auth.token` to be at least 16 characters long');
    this.enabled = Boolean(auth.token) || (auth.users?.length ?? 0) > 0;
  }

  /** Secrets that must never appear in a page. */
  get secrets(): string[] {
    return [this.auth.token ?? '', ...(this.auth.users ?? []).map((u) => u.password)];
  }

  private sign(text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('base64url');
  }

  /** The request's principal, or null when authentication is required and missing/wrong. */
  authenticate(req: IncomingMessage): Principal | null {
    const { token, users = [], role = null } = this.auth;
    if (!this.enabled) return { name: '', role };
    const header = req.headers.authorization ?? '';
    if (token && header.startsWith('Bearer ') && same(header.slice(7).trim(), token)) return { name: 'token', role };
    if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const name = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const user = users.find((u) => same(u.name, name));
      // Compare against something even for unknown users, so timing does not reveal names.
      if (colon > 0 && same(password, user?.password ?? this.sign('no-such-user')) && user) return { name: user.name, role: user.role ?? role };
    }
    const session = cookies(req)[SESSION_COOKIE];
    if (token && session && same(session, this.sign(`token:${token}`))) return { name: 'token', role };
    return null;
  }

  /** Whether basic auth is offered (the browser then asks for a user and password). */
  get basic(): boolean {
    return (this.auth.users?.length ?? 0) > 0;
  }

  /** Whether the sign-in form (token) is offered. */
  get tokenLogin(): boolean {
    return Boolean(this.auth.token);
  }

  /** Check a token entered on the sign-in page; on success, set the session cookie. */
  login(res: ServerResponse, given: string): boolean {
    const { token } = this.auth;
    if (!token || !same(given, token)) return false;
    this.setCookie(res, SESSION_COOKIE, this.sign(`token:${token}`));
    return true;
  }

  private setCookie(res: ServerResponse, name: string, value: string): void {
    const cookie = `${name}=${encodeURIComponent(value)}; Path=${this.cookiePath}; HttpOnly; SameSite=Strict${this.secure ? '; Secure' : ''}`;
    const existing = res.getHeader('Set-Cookie');
    res.setHeader('Set-Cookie', [...(Array.isArray(existing) ? existing : existing ? [String(existing)] : []), cookie]);
  }

  /** The CSRF token for this browser (creating its cookie when missing). */
  csrfToken(req: IncomingMessage, res: ServerResponse, principal: Principal): string {
    let id = cookies(req)[CSRF_COOKIE];
    if (!id || !/^[A-Za-z0-9_-]{20,100}$/.test(id)) {
      id = randomBytes(24).toString('base64url');
      this.setCookie(res, CSRF_COOKIE, id);
      // Later reads in this request see the new cookie.
      req.headers.cookie = `${req.headers.cookie ? `${req.headers.cookie}; ` : ''}${CSRF_COOKIE}=${id}`;
    }
    return this.sign(`csrf:${id}:${principal.name}`);
  }

  /**
   * Check a write: the token must match this browser's cookie and user, and the request must come
   * from this origin (Origin, or Referer when a browser sends no Origin). Returns why it is
   * refused, or null.
   */
  checkWrite(req: IncomingMessage, principal: Principal, given: string | undefined): string | null {
    const host = req.headers.host;
    const origin = req.headers.origin ?? (req.headers.referer ? urlOrigin(req.headers.referer) : undefined);
    if (!origin || !host || (origin !== `http://${host}` && origin !== `https://${host}`)) return 'the request did not come from this dashboard (Origin check failed)';
    const id = cookies(req)[CSRF_COOKIE];
    if (!id || !given || !same(given, this.sign(`csrf:${id}:${principal.name}`))) return 'the form expired or did not come from this dashboard (CSRF token missing or wrong); reload the page and try again';
    return null;
  }
}

/** Headers on every response: no inline script or style, no framing, no sniffing, no referrer leaks. */
export function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
}
