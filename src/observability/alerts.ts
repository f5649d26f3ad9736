/**
 * Alerts: notifications about failed runs, jobs disabled after repeated failures or quarantined
 * as broken, and late or expired scheduled runs, sent through webhooks, a PostgreSQL NOTIFY
 * channel or the log. Rules
 * come from code or the agent's YAML and from the `alert_rules` table (add_alert in SQL).
 *
 * One node sends each alert, without coordination: every event is observed only where it is
 * recorded. A final failure is alerted by the node that recorded it (its completer, or the rescuer
 * that abandoned a run), a disabled job by the node whose failure disabled it, a broken job by the
 * node whose ticker quarantined it, a late start by the
 * node that started the attempt, and an expired run by the node whose rescuer dropped it. Events
 * other nodes forward (the `clusterEvents` option) are ignored here. Retried attempts are not
 * alerted: only the failure after the last retry (or one that disables the job) is.
 */
import type { Counter, Registry } from 'prom-client';
import { promClient } from './metrics.js';
import type { Kairos } from '../api/kairos.js';
import { internals } from '../api/internals.js';
import type { StatusChange } from '../core/types.js';
import { KairosValidationError } from '../core/errors.js';
import { assertKnownKeys } from '../core/validate.js';
import type { AlertRulesRow } from '../store/queries.js';
import type { AttemptInfo, AttemptObserver } from './tracing.js';
import type { JobBrokenEvent } from '../engine/quarantine.js';
import { parseAlertRules, type AlertEvent, type AlertRule } from './alert-rules.js';
import { loggableUrl, sendWebhook } from './webhook.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKairos = Kairos<any>;

/** What an alert says (the webhook body and the NOTIFY payload). */
export interface Alert {
  event: AlertEvent;
  /** The job's name, or the task name of an ad-hoc run. */
  job: string;
  task: string | null;
  runId: number | null;
  attempt: number | null;
  queue: string | null;
  message: string;
  scheduledAt: string | null;
  startedAt: string | null;
  /** For `late`: start minus scheduled time. */
  latenessMs: number | null;
  /** The node that sent the alert. */
  node: string;
  schema: string;
  /** When the alert was made (node clock). */
  at: string;
}

/** Options of {@link createAlerts}. */
export interface AlertsOptions {
  /** Rules given in code: checked here, camelCase or YAML spelling (see parseAlertRules). @default [] */
  rules?: unknown[];
  /** Rules already checked by parseAlertRules or the agent's configuration. @default [] */
  checkedRules?: AlertRule[];
  /** Also use the rules of the `alert_rules` table. @default true */
  sqlRules?: boolean;
  /** How long rules read from the table are reused before they are read again, ms. @default 10000 */
  refreshMs?: number;
  /** First webhook retry delay, ms (doubles each retry). @default 1000 */
  webhookBackoffMs?: number;
  /** Environment to read `secretEnv` from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Count deliveries on this registry (`kairos_alerts_sent_total`, `kairos_alerts_failed_total`), e.g. `metrics.registry`. */
  registry?: Registry;
}

/** A running alerts module. */
export interface KairosAlerts {
  /** The rules in force (secrets included: do not log). */
  rules(): Promise<AlertRule[]>;
  /** Send an alert through every matching rule (also used internally). */
  dispatch(alert: Alert): Promise<void>;
  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
  /** Stop observing the node and wait up to `timeoutMs` for deliveries in flight. */
  close(timeoutMs?: number): Promise<void>;
}

const MAX_IN_FLIGHT = 200;
const MAX_MESSAGE = 2000;

/** The keys of {@link AlertsOptions} (a key missing here, or here and not in the interface, fails the type-check). */
const ALERTS_OPTION_KEYS = {
  rules: true, checkedRules: true, sqlRules: true, refreshMs: true, webhookBackoffMs: true, env: true, registry: true,
} as const satisfies Record<keyof AlertsOptions, true>;

/** Create the alerts of `kairos` and start observing it (before or after start()). */
export function createAlerts(kairos: AnyKairos, options: AlertsOptions = {}): KairosAlerts {
  assertKnownKeys(options, ALERTS_OPTION_KEYS, 'createAlerts()');
  const env = options.env ?? process.env;
  const configured = configuredRules(options, env);
  const sqlRules = new SqlRules(kairos, options.refreshMs ?? 10_000, options.sqlRules ?? true);
  const rules = async (): Promise<AlertRule[]> => [...configured, ...(await sqlRules.get())];
  const dispatcher = new Dispatcher(kairos, env, alertCounters(options.registry), options.webhookBackoffMs, rules);
  const raiser = new Raiser(kairos, rules, (alert) => dispatcher.dispatch(alert));
  const detach = observe(kairos, raiser, rules);
  const idle = async (): Promise<void> => {
    while (dispatcher.inFlight.size > 0 || raiser.preparing.size > 0) await Promise.allSettled([...raiser.preparing, ...dispatcher.inFlight]);
  };
  return {
    rules,
    dispatch: (alert) => dispatcher.dispatch(alert),
    idle,
    async close(timeoutMs = 10_000) {
      detach();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
  };
}

/** The rules given in code or by the agent, refused at once when a webhook's secret is not at hand. */
function configuredRules(options: AlertsOptions, env: NodeJS.ProcessEnv): AlertRule[] {
  const configured = [...(options.checkedRules ?? []), ...parseAlertRules(options.rules ?? [], 'alerts')];
  configured.forEach((rule, i) => {
    if (rule.channel === 'webhook' && rule.secret === undefined && !env[rule.secretEnv!]) {
      throw new KairosValidationError(`alerts[${i}].secret_env`, `Expected environment variable ${rule.secretEnv} (\`alerts[${i}].secret_env\`) to hold the webhook secret, got nothing`);
    }
  });
  return configured;
}

/** Delivery counters, by channel and event. */
interface AlertCounters {
  sent: Counter<'channel' | 'event'>;
  failed: Counter<'channel' | 'event'>;
}

/** The counters, on `registry` when given (else counted but not exported). */
function alertCounters(registry: Registry | undefined): AlertCounters {
  const registers = registry ? [registry] : [];
  const { Counter } = promClient();
  return {
    sent: new Counter({ name: 'kairos_alerts_sent_total', help: 'Alerts delivered by this node, by channel and event', labelNames: ['channel', 'event'], registers }),
    failed: new Counter({ name: 'kairos_alerts_failed_total', help: 'Alerts this node could not deliver (after retries), by channel and event', labelNames: ['channel', 'event'], registers }),
  };
}

/** Sends each alert through every matching rule, in the background and with a cap on deliveries under way. */
class Dispatcher {
  /** Webhook, NOTIFY and log deliveries under way (capped). */
  readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly kairos: AnyKairos,
    private readonly env: NodeJS.ProcessEnv,
    private readonly counters: AlertCounters,
    private readonly webhookBackoffMs: number | undefined,
    private readonly rules: () => Promise<AlertRule[]>,
  ) {}

  /** Start a delivery per matching rule; resolves once they are started, not finished. */
  async dispatch(alert: Alert): Promise<void> {
    const matching = (await this.rules()).filter((rule) => matches(rule, alert));
    for (const rule of matching) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        this.kairos.logger.error({ event: alert.event, job: alert.job }, `alert dropped: ${MAX_IN_FLIGHT} deliveries already in flight`);
        this.counters.failed.inc({ channel: rule.channel, event: alert.event });
        continue;
      }
      const delivery: Promise<void> = this.deliver(rule, alert)
        .catch((error: unknown) => {
          this.kairos.logger.error({ err: error, channel: rule.channel, rule: rule.source }, 'alert delivery failed');
          this.counters.failed.inc({ channel: rule.channel, event: alert.event });
        })
        .finally(() => this.inFlight.delete(delivery));
      this.inFlight.add(delivery);
    }
  }

  private async deliver(rule: AlertRule, alert: Alert): Promise<void> {
    const logger = this.kairos.logger;
    if (rule.channel === 'log') {
      logger.warn({ alert }, `kairos alert: ${describe(alert)}`);
    } else if (rule.channel === 'notify') {
      await internals(this.kairos).store.sql.alertNotify({ channel: rule.name, payload: JSON.stringify(alert) });
    } else {
      const secret = rule.secret ?? this.env[rule.secretEnv!] ?? '';
      const ok = await sendWebhook({ url: rule.url, secret, body: alert, event: alert.event, retries: rule.retries, timeoutMs: rule.timeoutMs, backoffMs: this.webhookBackoffMs }, logger);
      if (!ok) {
        logger.error({ webhook: loggableUrl(rule.url), rule: rule.source, event: alert.event, job: alert.job }, 'alert webhook could not be delivered');
        this.counters.failed.inc({ channel: rule.channel, event: alert.event });
        return;
      }
    }
    this.counters.sent.inc({ channel: rule.channel, event: alert.event });
  }
}

/** Prepares alerts in the background (rules read, details looked up): the engine never waits for alerts. */
class Raiser {
  /** Events being looked at before any delivery. */
  readonly preparing = new Set<Promise<void>>();

  constructor(
    private readonly kairos: AnyKairos,
    private readonly rules: () => Promise<AlertRule[]>,
    private readonly dispatch: (alert: Alert) => Promise<void>,
  ) {}

  /** Make and dispatch an alert of `event`, unless no rule wants that event (then nothing is looked up). */
  raise(event: AlertEvent, make: () => Promise<Alert | undefined>): void {
    const work: Promise<void> = (async () => {
      if (!(await this.rules()).some((r) => r.events.includes(event))) return;
      const alert = await make();
      if (alert) await this.dispatch(alert);
    })()
      .catch((error: unknown) => this.kairos.logger.error({ err: error, event }, 'preparing an alert failed'))
      .finally(() => this.preparing.delete(work));
    this.preparing.add(work);
  }
}

/** The engine events named in the header, each turned into an alert; returns what stops observing. */
function observe(kairos: AnyKairos, raiser: Raiser, rules: () => Promise<AlertRule[]>): () => void {
  const onStatus = (changes: StatusChange[]): void => {
    for (const change of changes) {
      if (change.next === 'failed' || change.next === 'expired') raiser.raise(change.next, () => runEndAlert(kairos, change.next as AlertEvent, change));
    }
  };
  const onDisabled = ({ job }: { job: string }): void => raiser.raise('disabled', () => disabledAlert(kairos, job));
  const onBroken = ({ job, reason }: JobBrokenEvent): void => {
    raiser.raise('broken', async () => baseAlert(kairos, 'broken', job, `job ${job} is broken and quarantined (it does not fire until redefined or enabled): ${reason}`));
  };
  const onMissed = (event: MissedFires): void => raiser.raise('missed', async () => missedAlert(kairos, event));
  const observer: AttemptObserver = {
    started(run) {
      if (!run.scheduledAt || run.attempt !== 1) return;
      const latenessMs = run.startedAt.getTime() - run.scheduledAt.getTime();
      if (latenessMs <= 0) return;
      raiser.raise('late', async () => lateAlert(kairos, run, latenessMs, await rules()));
    },
  };
  kairos.localStatus.push(onStatus);
  kairos.on('jobDisabled', onDisabled);
  kairos.on('jobBroken', onBroken);
  kairos.on('missedFires', onMissed);
  internals(kairos).services.executor.observers.push(observer);
  return () => {
    remove(kairos.localStatus, onStatus);
    kairos.off('jobDisabled', onDisabled);
    kairos.off('jobBroken', onBroken);
    kairos.off('missedFires', onMissed);
    remove(internals(kairos).services.executor.observers, observer);
  };
}

/** The fields every alert has; the rest null until an event fills them in. */
function baseAlert(kairos: AnyKairos, event: AlertEvent, job: string, message: string): Alert {
  return {
    event, job, task: null, runId: null, attempt: null, queue: null, message: message.slice(0, MAX_MESSAGE), scheduledAt: null, startedAt: null,
    latenessMs: null, node: kairos.nodeId, schema: kairos.options.schema, at: new Date().toISOString(),
  };
}

/** A failed or expired run, described from its last history row (when it is still there). */
async function runEndAlert(kairos: AnyKairos, event: AlertEvent, change: StatusChange): Promise<Alert> {
  const [log] = await internals(kairos).store.sql.lastHistoryOfRun({ run_id: change.runId });
  if (!log) return { ...baseAlert(kairos, event, change.job, `run ${change.runId} ${change.next}`), runId: change.runId, task: change.task };
  return {
    ...baseAlert(kairos, event, log.job_name ?? log.task, log.message ?? `run ${change.runId} ${change.next}`),
    task: log.task, runId: change.runId, attempt: log.attempt, queue: log.queue,
    scheduledAt: iso(log.scheduled_at), startedAt: iso(log.run_time),
  };
}

/** A job disabled at its failure limit, with its consecutive failures, the limit and its last error when it can still be read. */
async function disabledAlert(kairos: AnyKairos, job: string): Promise<Alert> {
  const info = await kairos.getJob(job).catch(() => undefined);
  const detail = info ? `after ${info.consecutiveFailures} consecutive failed attempts (failure limit ${info.disableAfterFailures ?? '-'}); last error: ${info.lastMessage ?? '-'}` : 'after repeated failures';
  return baseAlert(kairos, 'disabled', job, `job ${job} disabled ${detail}`);
}

/** A late first attempt, or undefined when no rule's threshold is passed (matches() checks each rule's own). */
function lateAlert(kairos: AnyKairos, run: AttemptInfo, latenessMs: number, all: AlertRule[]): Alert | undefined {
  const job = run.jobName ?? run.task;
  if (!all.some((r) => r.events.includes('late') && (r.job === undefined || r.job === job) && latenessMs > r.lateAfterMs)) return undefined;
  return {
    ...baseAlert(kairos, 'late', job, `run ${run.runId} of ${job} started ${Math.round(latenessMs / 1000)} s after its scheduled time`),
    task: run.task, runId: run.runId, attempt: run.attempt, queue: run.queue, scheduledAt: iso(run.scheduledAt), startedAt: iso(run.startedAt), latenessMs,
  };
}

/** What the ticker reports when occurrences were dropped or skipped. */
interface MissedFires {
  job: string;
  missed: number;
  skipped: number;
  catchUp: string;
  overlap: string;
}

/** Occurrences a job lost to its catch-up or overlap policy. */
function missedAlert(kairos: AnyKairos, { job, missed, skipped, catchUp, overlap }: MissedFires): Alert {
  const parts = [
    missed > 0 ? `${missed} occurrence(s) dropped by catch-up policy ${catchUp}` : '',
    skipped > 0 ? `${skipped} skipped: a run was still active (overlap policy ${overlap})` : '',
  ].filter(Boolean);
  return baseAlert(kairos, 'missed', job, `job ${job} missed fires: ${parts.join('; ')}`);
}

/** Does `rule` want `alert`? (`late` only past the rule's own threshold.) */
function matches(rule: AlertRule, alert: Alert): boolean {
  if (!rule.events.includes(alert.event)) return false;
  if (rule.job !== undefined && rule.job !== alert.job) return false;
  return alert.event !== 'late' || (alert.latenessMs ?? 0) > rule.lateAfterMs;
}

function describe(alert: Alert): string {
  if (alert.event === 'failed') return `run ${alert.runId} of ${alert.job} failed: ${alert.message}`;
  if (alert.event === 'expired') return `run ${alert.runId} of ${alert.job} expired: ${alert.message}`;
  return alert.message;
}

function iso(value: unknown): string | null {
  return value instanceof Date ? value.toISOString() : value === null || value === undefined ? null : String(value);
}

function remove<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}

/** The rules of the alert_rules table, read at most every `refreshMs` and only when an event needs them. */
class SqlRules {
  private cached: AlertRule[] = [];
  private readAt = -Infinity;
  private reading: Promise<AlertRule[]> | undefined;
  private warned = false;

  constructor(private readonly kairos: AnyKairos, private readonly refreshMs: number, private readonly enabled: boolean) {}

  get(): Promise<AlertRule[]> {
    if (!this.enabled) return Promise.resolve([]);
    if (performance.now() - this.readAt < this.refreshMs) return Promise.resolve(this.cached);
    this.reading ??= this.read().finally(() => { this.reading = undefined; });
    return this.reading;
  }

  private async read(): Promise<AlertRule[]> {
    try {
      const rows = await internals(this.kairos).store.sql.alertRules();
      this.cached = rows.map((row) => toRule(row));
      this.readAt = performance.now();
    } catch (error) {
      // 42P01: the schema predates alert rules (not migrated yet): use the configured rules only.
      if (!this.warned) this.kairos.logger.warn({ err: error }, 'reading alert rules from the database failed; using the configured rules only');
      this.warned = true;
      this.readAt = performance.now();
    }
    return this.cached;
  }
}

function toRule(row: AlertRulesRow): AlertRule {
  // The column's CHECK holds the events to AlertEvent's names; PostgreSQL describes it as text[].
  const shared = { job: row.job_name ?? undefined, events: row.events as AlertEvent[], lateAfterMs: row.late_after_ms, source: `sql:${row.rule_id}` };
  // The table's CHECKs: webhook and notify rules have a target, webhook rules a secret.
  if (row.channel === 'webhook') return { ...shared, channel: 'webhook', url: row.target!, secret: row.secret!, retries: 3, timeoutMs: 5000 };
  if (row.channel === 'notify') return { ...shared, channel: 'notify', name: row.target! };
  return { ...shared, channel: 'log' };
}
