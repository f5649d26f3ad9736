/**
 * Status changes for the other nodes, over NOTIFY and signed. A node sends its changes while some
 * node listens for them (the clusterEvents option), whatever its own setting: a listener says so
 * in a signed message at its start and every ANNOUNCE_MS, and answers at once a node that asks
 * (every node asks in start(), which returns on the first answer, or ANSWER_MS after its question
 * came back without one, so that a listener also hears the first changes of a node that starts
 * after it). Without a listener nothing is
 * sent: the channel then carries no task name, key or job name (docs/security.md), and the
 * node saves the messages (docs/performance.md). A listener that stops is forgotten LISTENER_TTL_MS
 * after its last word.
 *
 * Signed because anyone
 * who can connect may NOTIFY the channel, so a node re-emits only events signed with an HMAC
 * (SHA-256) under the installation's secret (migration 0017), which only the schema owner — the
 * nodes' role — can read. The same goes for "I listen": a forged one would have the nodes put
 * their changes on the channel for whoever reads it.
 *
 * Why a signature, not a check against the database: an event is a moment (a run went from
 * running to completed), while the database keeps only what followed (a row in job_logs that a
 * retry may already have followed, or nothing for a run that started). Checking would take a
 * query per event on every node, against rows the sender may not have committed yet; the HMAC
 * costs microseconds, no round trip, and covers every field of the message.
 *
 * A signature does not stop a replay of a real message, so each carries the sender's sequence
 * number (its messages are sent one after another, so they commit and arrive in that order) and
 * the time it was sealed (database clock): a node takes from each sender only numbers above the
 * last it took, only messages sealed within MAX_AGE_MS, and from a sender it has not heard yet
 * only messages sealed after it started listening (less SKEW_MS). What remains: a message a node
 * missed while its LISTEN connection was down can be replayed to it once, within MAX_AGE_MS.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { ClockOffset } from '../core/offset.js';
import type { StatusChange } from '../core/types.js';
import type { Store } from '../store/store.js';
import { KairosStateError } from '../core/errors.js';

/** The signature's place: the payload ends with `,"mac":"<64 hex>"}` (what it signs is the rest). */
const MAC_PREFIX = ',"mac":"';
const MAC_SUFFIX_LENGTH = MAC_PREFIX.length + 64 + 2;
/** What the key signs: nothing else uses it, but a prefix keeps any later use apart. */
const DOMAIN = 'kairos-status-v1\n';
/** A message sealed longer ago than this is not taken (NOTIFY delivers in milliseconds). */
const MAX_AGE_MS = 60_000;
/** Slack for clock estimates and a slow commit, against "sealed before I listened". */
const SKEW_MS = 10_000;
/** Senders remembered (node ids; only signed messages add one). */
const SENDERS = 1024;
/** How a message without events reads (no event message contains it: its events' quotes are escaped within strings). */
const NO_EVENTS = '"events":[]';
/** Bytes of events per message: NOTIFY refuses 8000 bytes, and the envelope takes the rest. */
const CHUNK_BYTES = 7_400;

/** How often a listener says so (signed). */
const ANNOUNCE_MS = 5_000;
/** A listener not heard from for this long is forgotten (three announcements missed). */
const LISTENER_TTL_MS = 3 * ANNOUNCE_MS;
/** How long start() waits for its own question to come back (LISTEN delivers in milliseconds). */
const ECHO_MS = 1_000;
/** Then, how long it waits for a listener's answer (one answer is enough: every listener hears what is sent). */
const ANSWER_MS = 50;

/** A signed message as sealed (the `mac` field is appended to this text). */
interface Sealed {
  t: 'status';
  node: string;
  seq: number;
  at: number;
  /** The sender listens for changes (clusterEvents): send it yours. */
  listen?: true;
  /** The sender has just started: listeners, say so. */
  ask?: true;
  events: StatusChange[];
}

/** Signs this node's status changes and verifies the other nodes'. */
export class ClusterEvents {
  private key: Buffer | undefined;
  private seq = 0;
  private readonly lastSeq = new Map<string, number>();
  private listeningSince = Infinity;
  private buffer: StatusChange[] = [];
  private flushing: Promise<void> | undefined;
  /** Other nodes that listen, with when (local clock) they are forgotten. */
  private readonly listeners = new Map<string, number>();
  private announcer: NodeJS.Timeout | undefined;
  /** While start() waits: the sequence number of its question, and what to call on its echo or an answer. */
  private waiting: { seq: number; echo: () => void; answer: () => void } | undefined;

  constructor(
    private readonly store: Store,
    private readonly nodeId: string,
    private readonly offset: ClockOffset,
    private readonly logger: Logger,
    /** This node listens for the others' changes (clusterEvents). */
    private readonly listening = false,
  ) {}

  /** Read the installation's secret (before LISTEN starts). */
  async start(): Promise<void> {
    const [row] = await this.store.sql.notifySecret();
    if (!row) throw new KairosStateError('the installation has no notify secret (migration 0017): re-run the migrations');
    this.key = Buffer.from(row.secret, 'utf8');
    this.listeningSince = this.dbNow();
  }

  /**
   * LISTEN is up, nothing runs yet: ask who listens and wait for the first answer, or until the
   * question came back (at most ECHO_MS) and ANSWER_MS more passed without one. As a listener,
   * say so too, now and every ANNOUNCE_MS.
   */
  async started(): Promise<void> {
    if (!this.key) return;
    if (this.listening) this.announcer = setInterval(() => void this.send({ listen: true }), ANNOUNCE_MS).unref();
    const timers: NodeJS.Timeout[] = [];
    const done = new Promise<void>((resolve) => {
      const answered = (): void => resolve();
      timers.push(setTimeout(answered, ECHO_MS + ANSWER_MS));
      this.waiting = { seq: this.seq + 1, answer: answered, echo: () => void timers.push(setTimeout(answered, ANSWER_MS)) };
    });
    await this.send(this.listening ? { listen: true, ask: true } : { ask: true });
    await done;
    for (const timer of timers) clearTimeout(timer);
    this.waiting = undefined;
  }

  /** Stop announcing (what is queued is flushed by flush()). */
  stop(): void {
    clearInterval(this.announcer);
    this.announcer = undefined;
    this.waiting?.answer();
  }

  /** Whether this node sends its changes now: started, and some other node listens. */
  get publishing(): boolean {
    return this.key !== undefined && this.hasListeners();
  }

  /** Queue changes for the other nodes; sent on the next turn of the event loop. */
  publish(changes: StatusChange[]): void {
    if (!this.publishing || changes.length === 0) return;
    this.buffer.push(...changes);
    if (this.buffer.length === changes.length) setImmediate(() => void this.flush());
  }

  /** Send what is queued; one sender at a time, so that sequence numbers arrive in order. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private hasListeners(): boolean {
    if (this.listeners.size === 0) return false;
    const now = Date.now();
    for (const [node, until] of this.listeners) if (until <= now) this.listeners.delete(node);
    return this.listeners.size > 0;
  }

  /** A signed word from `node`: it listens (send it changes from now on), or asks who does. */
  private heard(node: string, message: Partial<Sealed>): void {
    if (message.listen === true) {
      this.listeners.delete(node);
      this.listeners.set(node, Date.now() + LISTENER_TTL_MS);
      if (this.listeners.size > SENDERS) this.listeners.delete(this.listeners.keys().next().value!);
      this.waiting?.answer();
    }
    if (message.ask === true && this.listening) void this.send({ listen: true });
  }

  /** Send a message without events (listen, ask). */
  private async send(word: Pick<Sealed, 'listen' | 'ask'>): Promise<void> {
    if (!this.key) return;
    const payload = this.seal([], word);
    await this.store.sql.publish({ channel: this.store.channel, payload }).catch((error: unknown) => this.logger.warn({ err: error }, 'publishing status changes failed'));
  }

  /** The events of a signed, fresh, not yet seen message of another node; undefined for anything else. */
  open(raw: string): StatusChange[] | undefined {
    // Only a listener wants the events; every node wants the words (they carry no events).
    if (!this.listening && !raw.includes(NO_EVENTS)) return undefined;
    const body = this.key && signedBody(raw, this.key);
    if (!body) return undefined;
    const message = JSON.parse(body) as Partial<Sealed>;
    const { node, seq, at, events } = message;
    const waiting = this.waiting;
    if (waiting && node === this.nodeId && seq === waiting.seq) waiting.echo();
    if (typeof node !== 'string' || node === this.nodeId || !Array.isArray(events)) return undefined;
    if (typeof seq !== 'number' || typeof at !== 'number' || !this.fresh(node, seq, at)) return undefined;
    this.lastSeq.delete(node);
    this.lastSeq.set(node, seq);
    if (this.lastSeq.size > SENDERS) this.lastSeq.delete(this.lastSeq.keys().next().value!);
    this.heard(node, message);
    return this.listening ? events : undefined;
  }

  private fresh(node: string, seq: number, at: number): boolean {
    const now = this.dbNow();
    if (at < now - MAX_AGE_MS || at > now + MAX_AGE_MS) return false;
    const last = this.lastSeq.get(node);
    return last === undefined ? at >= this.listeningSince - SKEW_MS : seq > last;
  }

  private async drain(): Promise<void> {
    // The last listener left meanwhile: nobody wants these.
    if (!this.hasListeners()) {
      this.buffer = [];
      return;
    }
    while (this.buffer.length > 0) {
      const payload = this.seal(this.takeChunk());
      await this.store.sql.publish({ channel: this.store.channel, payload }).catch((error: unknown) => this.logger.warn({ err: error }, 'publishing status changes failed'));
    }
  }

  /** The next events that fit one NOTIFY (at least one). */
  private takeChunk(): StatusChange[] {
    let bytes = 0;
    let count = 0;
    while (count < this.buffer.length) {
      bytes += Buffer.byteLength(JSON.stringify(this.buffer[count])) + 1;
      if (count > 0 && bytes > CHUNK_BYTES) break;
      count++;
    }
    return this.buffer.splice(0, count);
  }

  private seal(events: StatusChange[], word: Pick<Sealed, 'listen' | 'ask'> = {}): string {
    const message: Sealed = { t: 'status', node: this.nodeId, seq: ++this.seq, at: this.dbNow(), ...word, events };
    const body = JSON.stringify(message);
    return `${body.slice(0, -1)}${MAC_PREFIX}${mac(this.key!, body).toString('hex')}"}`;
  }

  /** Now by the database clock, as this node estimates it. */
  private dbNow(): number {
    return Date.now() + this.offset.ms;
  }
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(DOMAIN).update(body).digest();
}

/** The signed text of `raw` if its signature is good under `key`, else undefined. */
function signedBody(raw: string, key: Buffer): string | undefined {
  if (raw.length <= MAC_SUFFIX_LENGTH || !raw.endsWith('"}')) return undefined;
  const suffix = raw.slice(-MAC_SUFFIX_LENGTH);
  const hex = suffix.slice(MAC_PREFIX.length, -2);
  if (!suffix.startsWith(MAC_PREFIX) || !/^[0-9a-f]{64}$/.test(hex)) return undefined;
  const body = `${raw.slice(0, -MAC_SUFFIX_LENGTH)}}`;
  return timingSafeEqual(mac(key, body), Buffer.from(hex, 'hex')) ? body : undefined;
}
