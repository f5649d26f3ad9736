/**
 * Alert rules as written in the agent's YAML (`alerts:`) or given to `createAlerts()`: one
 * checked shape for both, the same rules as the SQL function add_alert.
 */
import { createRequire } from 'node:module';
import type { z as ZodNamespace } from 'zod';
import { KairosValidationError, describeValue } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { didYouMean, isName, NAME_RULE } from '../core/validate.js';

/** What an alert is about. */
export type AlertEvent = 'failed' | 'disabled' | 'late' | 'expired' | 'missed' | 'broken';
/** Every alert event. */
export const ALERT_EVENTS: readonly AlertEvent[] = ['failed', 'disabled', 'late', 'expired', 'missed', 'broken'];
const EVENT_LIST = ALERT_EVENTS.join(', ');

/** A checked alert rule. */
export type AlertRule = {
  /** Only this job's alerts (job name; for ad-hoc runs the task name); undefined = every job. */
  job?: string;
  events: AlertEvent[];
  /** `late` fires when a scheduled run's first attempt starts more than this after its time. */
  lateAfterMs: number;
  /** Where the rule came from (`config`, `sql:<rule id>`), for log lines. */
  source?: string;
} & (
  | { channel: 'webhook'; url: string; secret?: string; secretEnv?: string; retries: number; timeoutMs: number }
  | { channel: 'notify'; name: string }
  | { channel: 'log' }
);

const URL_PATTERN = /^https?:\/\/[^/\s?#@]+(\/\S*)?$/;
const CHANNEL_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,62}$/;

type Zod = typeof ZodNamespace;

/** The zod schemas, built on first use: zod costs ~7 MB of RSS that a node without alert rules need not pay. */
function schemas(z: Zod) {
  /** A duration: a string with a unit (`90s`, `5m`) or a number of seconds, as in the rest of the agent's configuration. */
  const duration = (minMs: number, maxMs: number): ZodNamespace.ZodType<number> =>
    z.preprocess((v) => {
      try {
        return typeof v === 'number' ? v * 1000 : parseDuration(v, 'duration', { minMs: 0 });
      } catch {
        return v;
      }
    }, z.number({ error: 'a duration such as "90s" or "5m" (a number is seconds)' }).min(minMs).max(maxMs)) as ZodNamespace.ZodType<number>;

  const common = {
    job: z.string({ error: 'a job name' }).refine(isName, { error: `a job name of ${NAME_RULE}` }).optional(),
    events: z.array(z.enum(ALERT_EVENTS as [AlertEvent, ...AlertEvent[]], { error: `one of ${EVENT_LIST}` }), { error: `a list of events (${EVENT_LIST})` })
      .min(1, { error: 'a list of at least one event' }).optional(),
    late_after: duration(0, 30 * 86_400_000).optional(),
  };

  const ruleSchema = z.discriminatedUnion('channel', [
    z.strictObject({
      channel: z.literal('webhook'),
      url: z.string({ error: 'an http:// or https:// URL' }).regex(URL_PATTERN, { error: 'an http:// or https:// URL without spaces or user info' }),
      secret: z.string({ error: 'a secret string' }).min(16, { error: 'a secret of at least 16 characters' }).optional(),
      secret_env: z.string({ error: 'an environment variable name' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'an environment variable name' }).optional(),
      retries: z.number({ error: 'an integer from 0 to 10' }).int().min(0).max(10).optional(),
      timeout: duration(100, 120_000).optional(),
      ...common,
    }),
    z.strictObject({
      channel: z.literal('notify'),
      name: z.string({ error: 'a channel name' }).regex(CHANNEL_NAME, { error: 'a channel name of 1-63 letters, digits and _ . : - (not starting with a digit or symbol)' }),
      ...common,
    }),
    z.strictObject({ channel: z.literal('log'), ...common }),
  ], { error: 'a rule with `channel: webhook`, `channel: notify` or `channel: log`' });

  /** The zod schema of a list of rules in the YAML form (snake_case keys); used by the agent's configuration. */
  const rules: ZodNamespace.ZodType<AlertRule[]> = z
    .array(ruleSchema, { error: 'a list of alert rules' })
    .check((ctx) => {
      ctx.value.forEach((rule, i) => {
        if (rule.channel === 'webhook' && (rule.secret === undefined) === (rule.secret_env === undefined)) {
          ctx.issues.push({ code: 'custom', path: [i, 'secret'], message: 'given exactly once, as `secret` or `secret_env` (the name of an environment variable holding it)', input: undefined });
        }
      });
    })
    .transform((rules) => rules.map(toRule)) as unknown as ZodNamespace.ZodType<AlertRule[]>;
  return { ruleSchema, rules };
}

let built: ReturnType<typeof schemas> | undefined;
function cachedSchemas(): ReturnType<typeof schemas> {
  return (built ??= schemas((createRequire(import.meta.url)('zod') as { z: Zod }).z));
}

/** The zod schema of a list of rules in the YAML form (snake_case keys); used by the agent's configuration. */
export function alertRulesSchema(): ZodNamespace.ZodType<AlertRule[]> {
  return cachedSchemas().rules;
}

type Parsed = ZodNamespace.infer<ReturnType<typeof schemas>['ruleSchema']>;

function toRule(rule: Parsed): AlertRule {
  const shared = { job: rule.job, events: rule.events ? [...new Set(rule.events)] : [...ALERT_EVENTS], lateAfterMs: rule.late_after ?? 60_000, source: 'config' };
  if (rule.channel === 'webhook') {
    return { ...shared, channel: 'webhook', url: rule.url, secret: rule.secret, secretEnv: rule.secret_env, retries: rule.retries ?? 3, timeoutMs: rule.timeout ?? 5000 };
  }
  if (rule.channel === 'notify') return { ...shared, channel: 'notify', name: rule.name };
  return { ...shared, channel: 'log' };
}

const CAMEL_TO_SNAKE: Record<string, string> = { lateAfter: 'late_after', secretEnv: 'secret_env' };

/**
 * A zod issue of an unknown key in a rule (the rule schemas are strict) as the field of that key
 * and `Unknown key … ; did you mean …?`, with the keys of the rule's channel as the schema has
 * them; undefined for any other issue. `rules` is the list that was checked, `field` its name,
 * `from` where it came from (` (from …)`).
 */
export function unknownRuleKey(issue: ZodNamespace.core.$ZodIssue, rules: unknown, field: string, from = ''): { field: string; message: string } | undefined {
  if (issue.code !== 'unrecognized_keys' || issue.keys.length === 0 || issue.path.length !== 1 || typeof issue.path[0] !== 'number') return undefined;
  const rule = `${field}[${issue.path[0]}]`;
  const channel = (Array.isArray(rules) ? (rules[issue.path[0]] as { channel?: unknown } | undefined)?.channel : undefined);
  const option = cachedSchemas().ruleSchema.options.find((o) => o.shape.channel.value === channel);
  const known = option ? Object.keys(option.shape) : [];
  const key = issue.keys[0]!;
  return { field: `${rule}.${key}`, message: `Unknown key \`${key}\` of the ${String(channel)} alert rule \`${rule}\`${from}${didYouMean(key, known, 'keys')}` };
}

/**
 * Check rules given in code (camelCase `lateAfter`, `secretEnv` accepted as well as the YAML
 * spelling). @throws {KairosValidationError} naming the first bad field, e.g. `alerts[0].url`.
 */
export function parseAlertRules(input: unknown, field = 'alerts'): AlertRule[] {
  const snake = Array.isArray(input)
    ? input.map((rule: unknown) => (rule && typeof rule === 'object' && !Array.isArray(rule)
      ? Object.fromEntries(Object.entries(rule).map(([k, v]) => [CAMEL_TO_SNAKE[k] ?? k, v]))
      : rule))
    : input;
  const parsed = alertRulesSchema().safeParse(snake, { reportInput: true });
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues as [ZodNamespace.core.$ZodIssue];
  const unknownKey = unknownRuleKey(issue, snake, field);
  if (unknownKey) throw new KairosValidationError(unknownKey.field, unknownKey.message);
  const path = field + issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  const got = /secret/.test(path) ? 'a value (not shown)' : describeValue(issue.input);
  throw new KairosValidationError(path, `Expected \`${path}\` to be ${issue.message}, got ${got}`);
}

/**
 * Copy of rules safe to log: secrets replaced by `***`, and webhook URLs cut to their origin (chat
 * webhooks carry their token in the path).
 */
export function redactAlertRules(rules: readonly AlertRule[]): AlertRule[] {
  return rules.map((rule) => {
    if (rule.channel !== 'webhook') return { ...rule };
    let url = '(invalid URL)';
    try {
      const parsed = new URL(rule.url);
      url = parsed.pathname === '/' && !parsed.search ? parsed.origin : `${parsed.origin}/***`;
    } catch {
      // keep the placeholder
    }
    return { ...rule, url, ...(rule.secret === undefined ? {} : { secret: '***' }) };
  });
}
