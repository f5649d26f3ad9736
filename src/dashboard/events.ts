/**
 * Live updates: a server-sent-events stream that tells open pages when the data changed. It is fed
 * by LISTEN/NOTIFY on the installation's channel (new runs, changed jobs, cancellations, cluster
 * status events) through the engine's Notifier, and — because attempts finishing send no NOTIFY of
 * their own — by a cheap fingerprint query every couple of seconds while someone is watching.
 * Pages then fetch themselves again; the stream itself carries no data (nothing for RLS to leak).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import { Notifier } from '../store/notifier.js';
import type { Logger } from '../core/logger.js';
import type { DashboardDb } from './db.js';
import type { SchemaWatch } from './health.js';

/** The SSE hub of one dashboard. */
export class LiveEvents {
  private readonly clients = new Set<ServerResponse>();
  private notifier: Notifier | undefined;
  private poll: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private lastStamp = '';
  private closed = false;

  constructor(private readonly db: DashboardDb, private readonly logger: Logger, private readonly watch: SchemaWatch, private readonly pollMs = 2000) {}

  /** How many pages are listening. */
  get size(): number {
    return this.clients.size;
  }

  /** Serve one event stream until the browser goes away. */
  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 3000\n\n');
    this.clients.add(res);
    req.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.idle();
    });
    this.wake();
  }

  /** Tell every page that something changed (debounced: a burst of NOTIFYs is one event). */
  changed(reason: string): void {
    if (this.pending || this.closed) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      const message = `event: change\ndata: ${JSON.stringify({ reason, at: Date.now() })}\n\n`;
      for (const res of this.clients) res.write(message);
    }, 250);
  }

  /** Start listening when the first page connects. */
  private wake(): void {
    if (this.closed) return;
    if (!this.notifier) {
      const config = (this.db.pool as unknown as { options: pg.ClientConfig }).options;
      this.notifier = new Notifier({ ...config }, this.db.store.channel, this.logger, 'kairos-dashboard');
      for (const t of ['runs', 'handoff', 'jobs', 'cancel', 'status']) this.notifier.on(t, () => this.changed(t));
      this.notifier.onReconnect(() => this.changed('reconnect'));
      this.notifier.start().catch((error: unknown) => this.logger.warn({ err: error }, 'dashboard LISTEN failed; falling back to polling'));
    }
    this.poll ??= setInterval(() => void this.checkStamp(), this.pollMs);
    this.keepAlive ??= setInterval(() => {
      for (const res of this.clients) res.write(': keep-alive\n\n');
    }, 15_000);
  }

  private async checkStamp(): Promise<void> {
    try {
      const [row] = await this.db.store.sql.dashStamp();
      this.watch.succeeded('change check');
      const stamp = JSON.stringify(row);
      if (this.lastStamp && stamp !== this.lastStamp) this.changed('poll');
      this.lastStamp = stamp;
    } catch (error) {
      // Every pollMs while a page is open: one line per outage, not a stack trace every tick.
      this.watch.failed('change check', error);
    }
  }

  /** No page is listening: stop polling and LISTENing. */
  private idle(): void {
    clearInterval(this.poll);
    clearInterval(this.keepAlive);
    this.poll = undefined;
    this.keepAlive = undefined;
    this.lastStamp = '';
    const notifier = this.notifier;
    this.notifier = undefined;
    void notifier?.stop();
  }

  /** End every stream and stop. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pending);
    for (const res of this.clients) res.end();
    this.clients.clear();
    clearInterval(this.poll);
    clearInterval(this.keepAlive);
    await this.notifier?.stop();
    this.notifier = undefined;
  }
}
