/**
 * Probes and metrics over HTTP: `/healthz` (the process answers), `/readyz` (the database answers
 * and the schema is migrated to the version this code knows) and `/metrics` (Prometheus text). A
 * handler to mount in any Node HTTP server, and the small server the agent runs (`--http-port`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { latestVersion, schemaVersion } from '../store/migrate.js';
import type { KairosMetrics } from './metrics.js';
import { KairosDatabaseError } from '../core/errors.js';
import { assertKnownKeys } from '../core/validate.js';
import type { Kairos } from '../api/kairos.js';
import { maybeInternals } from '../api/internals.js';

/**
 * What the probes need: a Kairos instance, or a pool and the schema Kairos is installed in (a
 * process that probes without running a node). A node's pool is internal, hence the union.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProbeTarget = Kairos<any> | { pool: pg.Pool; options: { schema: string } };

/** Options of {@link observabilityHandler}. */
export interface HandlerOptions {
  /** Serve `/metrics` from these metrics (404 without). */
  metrics?: KairosMetrics;
  /** Path prefix to mount under, e.g. `/kairos` → `/kairos/healthz`. @default '' */
  prefix?: string;
  /** Longest wait for the database in `/readyz`, ms. @default 2000 */
  readyTimeoutMs?: number;
}

/** A request handler: returns false (and leaves the response alone) for paths it does not serve. */
export type ObservabilityHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** The readiness of a Kairos installation, as `/readyz` reports it. */
export interface Readiness {
  ready: boolean;
  /** The schema's migration version (0 = not installed); null when the database did not answer. */
  version: number | null;
  /** The version this code needs. */
  expected: number;
  reason?: string;
}

/**
 * Ready when the database answers within `timeoutMs` and the schema's version is at least the one
 * this code knows (a newer version is fine: migrations are forward-compatible during upgrades).
 */
export async function readiness(target: ProbeTarget, timeoutMs = 2000): Promise<Readiness> {
  const expected = latestVersion();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new KairosDatabaseError(`the database did not answer within ${timeoutMs} ms`)), timeoutMs)));
    const pool = maybeInternals(target)?.pool ?? (target as { pool: pg.Pool }).pool;
    const version = await Promise.race([schemaVersion(pool, target.options.schema), timeout]);
    if (version >= expected) return { ready: true, version, expected };
    const reason = version === 0
      ? `Kairos is not installed in schema "${target.options.schema}"`
      : `schema "${target.options.schema}" is at version ${version}, this node needs ${expected}`;
    return { ready: false, version, expected, reason };
  } catch (error) {
    return { ready: false, version: null, expected, reason: `database unreachable: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The keys of {@link HandlerOptions} (a key missing here, or here and not in the interface, fails the type-check). */
const HANDLER_OPTION_KEYS = { metrics: true, prefix: true, readyTimeoutMs: true } as const satisfies Record<keyof HandlerOptions, true>;
/** The keys of startObservabilityServer()'s options: the handler's, `port` and `host`. */
const SERVER_OPTION_KEYS = { ...HANDLER_OPTION_KEYS, port: true, host: true } as const satisfies Record<keyof ServerOptions, true>;

/** Options of {@link startObservabilityServer}. */
export type ServerOptions = HandlerOptions & { port: number; host?: string };

/** Serve `/healthz`, `/readyz` and `/metrics` (GET and HEAD) under `prefix`. */
export function observabilityHandler(target: ProbeTarget, options: HandlerOptions = {}): ObservabilityHandler {
  assertKnownKeys(options, HANDLER_OPTION_KEYS, 'observabilityHandler()');
  const prefix = (options.prefix ?? '').replace(/\/+$/, '');
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!path.startsWith(`${prefix}/`)) return false;
    const route = path.slice(prefix.length);
    if (route !== '/healthz' && route !== '/readyz' && route !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'application/json', JSON.stringify({ error: 'method not allowed' }), { allow: 'GET, HEAD' });
      return true;
    }
    void serve(route, target, options, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
      else res.destroy();
    });
    return true;
  };
}

async function serve(route: string, target: ProbeTarget, options: HandlerOptions, res: http.ServerResponse): Promise<void> {
  if (route === '/healthz') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
  if (route === '/readyz') {
    const state = await readiness(target, options.readyTimeoutMs);
    return send(res, state.ready ? 200 : 503, 'application/json', JSON.stringify({ status: state.ready ? 'ready' : 'not ready', ...state }));
  }
  if (!options.metrics) return send(res, 404, 'application/json', JSON.stringify({ error: 'metrics are not enabled' }));
  send(res, 200, options.metrics.contentType, await options.metrics.metrics());
}

function send(res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** A started observability server. */
export interface ObservabilityServer {
  server: http.Server;
  /** The address it listens on, e.g. `http://127.0.0.1:9464`. */
  url: string;
  close(): Promise<void>;
}

/** Listen on `host:port` (port 0 = any free port) and serve the probes and metrics; other paths get 404. */
export async function startObservabilityServer(target: ProbeTarget, options: ServerOptions): Promise<ObservabilityServer> {
  assertKnownKeys(options, SERVER_OPTION_KEYS, 'startObservabilityServer()');
  const { port: _port, host: _host, ...handlerOptions } = options;
  const handle = observabilityHandler(target, handlerOptions);
  const server = http.createServer((req, res) => {
    if (!handle(req, res)) send(res, 404, 'application/json', JSON.stringify({ error: 'not found', paths: ['/healthz', '/readyz', '/metrics'] }));
  });
  // Probes must not be held up by idle keep-alive sockets at shutdown.
  server.keepAliveTimeout = 5000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shown}:${address.port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
