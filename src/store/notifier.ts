/**
 * LISTEN on the installation's channel with a dedicated connection that reconnects by itself.
 * Notifications are hints: every consumer also polls, and after a reconnect consumers are told to
 * poll at once because notifications sent while disconnected are lost.
 *
 * Any role that can connect may NOTIFY this channel (PostgreSQL has no privilege for it), so a
 * payload is untrusted input: anything but a JSON object with a string `t` is dropped here, and
 * each consumer authenticates or verifies what it acts on (docs/architecture.md, "NOTIFY
 * authentication"; src/engine/notices.ts, which parses each message type).
 *
 * The connection's session also holds an advisory lock on a random key chosen per connection
 * ({@link Notifier.sessionLock}): anyone can ask the database whether this session still lives,
 * in one lock-table probe. The hand-off (migration 0021, src/engine/handoff.ts) relies on it: a
 * node is handed runs only while its LISTEN session lives, and the session ends as soon as the
 * process dies (or the connection drops: the next connection holds another key).
 */
import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../core/logger.js';
import { KairosDatabaseError } from '../core/errors.js';
import { announcedPid } from './pooler.js';

/** A parsed notification: `t` says what it is about. */
export interface Notice {
  t: string;
  [key: string]: unknown;
}

/** Called with the parsed notification and its raw payload (what a signature covers). */
type Handler = (notice: Notice, raw: string) => void;

/** How long a NOTIFY sent to a pooled LISTEN connection may take to come back before LISTEN is deemed deaf. */
const PROBE_MS = 2000;

/** Whether `client` goes through a pooler: its announced process id is not the server's (store/pooler.ts). */
async function throughPoolerRaw(client: pg.Client): Promise<boolean> {
  const result = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return result.rows[0]?.pid !== announcedPid(client);
}

/** Longest payload PostgreSQL delivers (NOTIFY refuses 8000 bytes and more). */
const MAX_PAYLOAD = 8000;

/**
 * A random advisory lock key in [2^32, 2^53): outside the int4 range of the keys Kairos locks
 * for lock keys (`hashtext`), a safe integer (bigints are read as numbers), 53 random bits less a
 * sliver otherwise.
 */
export function sessionLockKey(): number {
  return randomInt(1, 2 ** 21) * 2 ** 32 + randomInt(0, 2 ** 32);
}

/** The LISTEN connection of one node. */
export class Notifier {
  private client: pg.Client | undefined;
  /** The advisory lock key the current connection's session holds (undefined while disconnected). */
  private lockKey: number | undefined;
  private readonly handlers = new Map<string, Handler[]>();
  private readonly reconnectHandlers: Array<() => void> = [];
  private started = false;
  private retryMs = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  /**
   * True once LISTEN was found not to deliver on this connection (store/pooler.ts): the notifier
   * stays disconnected, consumers poll, and no session lock is held.
   */
  deaf = false;

  constructor(
    private readonly connectionConfig: pg.ClientConfig,
    private readonly channel: string,
    private readonly logger: Logger,
    /** Shown in pg_stat_activity (truncated to PostgreSQL's 63 bytes). */
    private readonly applicationName = 'kairos-listener',
  ) {}

  /** Call `handler` for notifications of type `t`. */
  on(t: string, handler: Handler): void {
    this.handlers.set(t, [...(this.handlers.get(t) ?? []), handler]);
  }

  /** Call `handler` after every reconnect (not after the first connect). */
  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  /** True while the LISTEN connection is up. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * The key of the session-level advisory lock the LISTEN connection holds, while it is up:
   * `NOT pg_try_advisory_xact_lock_shared(key)` is true exactly while this session lives. A new
   * connection holds a new key. Undefined while disconnected.
   */
  get sessionLock(): number | undefined {
    return this.client === undefined ? undefined : this.lockKey;
  }

  /** Connect and LISTEN; resolves once listening (or rejects if the first attempt fails). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.connect(false);
  }

  /** Stop listening and close the connection. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    this.lockKey = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(isReconnect: boolean): Promise<void> {
    this.connecting = this.open(isReconnect).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(isReconnect: boolean): Promise<void> {
    const client = new pg.Client({ ...this.connectionConfig, application_name: this.applicationName.slice(0, 63) });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new KairosDatabaseError('connection ended')));
    client.on('notification', (message) => this.dispatch(message.payload));
    await client.connect();
    const key = sessionLockKey();
    try {
      const pooled = await throughPoolerRaw(client);
      // Behind a pooler the session is only ours in session mode: ask the server to prove that
      // LISTEN delivers before relying on it (and before taking a session lock that would stay
      // on a server connection someone else is served by next).
      if (pooled) await client.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
      if (pooled && !(await this.delivers(client))) {
        await client.end().catch(() => undefined);
        this.goDeaf();
        return;
      }
      // Free by construction (a fresh random key): the lock is never waited for. Taken first, so
      // that pg_stat_activity still shows the connection's last statement as its LISTEN.
      await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
      await client.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (!this.started) {
      await client.end().catch(() => undefined);
      return;
    }
    this.lockKey = key;
    this.client = client;
    this.retryMs = 100;
    if (isReconnect) {
      this.logger.info({ channel: this.channel }, 'LISTEN connection restored');
      for (const handler of this.reconnectHandlers) handler();
    }
  }

  /**
   * Whether a NOTIFY sent from another connection reaches `client` within PROBE_MS. Through a
   * transaction-mode pooler it never does: LISTEN ran on a server connection that went back to
   * the pool, and what it hears goes to whichever client that connection serves then, or nowhere.
   */
  private async delivers(client: pg.Client): Promise<boolean> {
    const token = `kairos-probe:${randomUUID()}`;
    const heard = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), PROBE_MS);
      client.on('notification', (message) => {
        if (message.payload !== JSON.stringify({ t: 'probe', token })) return;
        clearTimeout(timer);
        resolve(true);
      });
    });
    const sender = new pg.Client({ ...this.connectionConfig, application_name: `${this.applicationName}-probe`.slice(0, 63) });
    sender.on('error', () => undefined);
    try {
      await sender.connect();
      await sender.query('SELECT pg_notify($1, $2)', [this.channel, JSON.stringify({ t: 'probe', token })]);
    } finally {
      await sender.end().catch(() => undefined);
    }
    return heard;
  }

  /** LISTEN cannot work on this connection: say so once, and leave consumers to their polling. */
  private goDeaf(): void {
    this.deaf = true;
    this.logger.warn(
      { channel: this.channel },
      'LISTEN does not deliver notifications on this connection (a transaction-mode pooler such as PgBouncer, Supavisor or RDS Proxy?): ' +
        'runs are picked up by polling (pollInterval), hand-off and cluster events are off. Set listenConnectionString ' +
        '(KAIROS_LISTEN_URL) to a direct or session-mode connection (docs/operations.md, "Behind a connection pooler").',
    );
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.lockKey = undefined;
    client.end().catch(() => undefined);
    if (!this.started) return;
    this.logger.warn({ err: error }, 'LISTEN connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.started || this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 5000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect(true).catch((error: unknown) => {
        this.logger.warn({ err: error }, 'LISTEN reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
  }

  private dispatch(payload: string | undefined): void {
    // The length check is only against parsing a payload no Kairos sender makes.
    if (!payload || payload.length > MAX_PAYLOAD) return;
    let notice: unknown;
    try {
      notice = JSON.parse(payload);
    } catch {
      return;
    }
    // 'null', an array, a string…: thrown on outside the try below, `null.t` crashed the process.
    if (typeof notice !== 'object' || notice === null || Array.isArray(notice)) return;
    const t = (notice as { t?: unknown }).t;
    if (typeof t !== 'string') return;
    for (const handler of this.handlers.get(t) ?? []) {
      try {
        handler(notice as Notice, payload);
      } catch (error) {
        this.logger.error({ err: error }, 'notification handler failed');
      }
    }
  }
}
