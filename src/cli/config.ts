/**
 * Configuration of the agent (`kairos start`): flags over environment variables over a YAML file
 * over defaults. Every value is checked (with zod) in every source that gives it, even one a
 * higher source overrides, so a broken file does not lie in wait for the day a flag is dropped;
 * each problem says where the value came from. A bare number for a duration (`poll_interval: 10`)
 * means seconds everywhere, as pgAgent's `poll_time` does; write `500ms` for milliseconds.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, parseDocument, type YAMLMap } from 'yaml';
import { z } from 'zod';
import { KairosValidationError, describeValue } from '../core/errors.js';
import { redactConnectionString } from '../core/redact.js';
import { DEFAULTS as KAIROS_DEFAULTS } from '../api/options.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { didYouMean, isName, NAME_RULE } from '../core/validate.js';
import { declaredJobsSchema, unknownJobKey, type DeclaredJob } from './declared-jobs.js';
import { alertRulesSchema, redactAlertRules, unknownRuleKey, type AlertRule } from '../observability/alert-rules.js';

/** The agent's settings, complete and checked. */
export interface AgentConfig {
  /** PostgreSQL URL; null = the embedded PostgreSQL. */
  databaseUrl: string | null;
  /** A direct (or session-mode) URL for LISTEN when databaseUrl goes through a transaction-mode pooler; null = databaseUrl. */
  listenUrl: string | null;
  schema: string;
  /** Attempts run at once. */
  concurrency: number;
  queues: string[];
  /** Milliseconds between polls (in every source, a bare number is seconds: `10` = 10 s). */
  pollInterval: number;
  allowShell: boolean;
  /** Prepare the hot statements once per connection; turned off by itself behind a connection pooler. */
  preparedStatements: boolean;
  /** Migrate the schema at start. */
  migrate: boolean;
  /** Name in the node registry; null = the host name. */
  nodeName: string | null;
  nodeTags: string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** `auto` = pretty on a TTY, JSON otherwise. */
  logFormat: 'json' | 'pretty' | 'auto';
  /** Task modules or folders; relative paths are made absolute (from a file: against its folder). */
  tasks: string[];
  /** Milliseconds running attempts get at shutdown. */
  shutdownTimeout: number;
  /** Named connection strings jobs may target; merged name by name across sources. */
  connections: Record<string, string>;
  /** Remarks for the log, e.g. pgAgent settings that were accepted and ignored. */
  notes: string[];
  /** Port of the HTTP server of probes and metrics (/healthz, /readyz, /metrics; 0 = any free port); absent = no server. */
  httpPort?: number;
  /** Address that server binds (YAML `http: { host }`); absent = 127.0.0.1. */
  httpHost?: string;
  /** Alert rules (YAML `alerts:`, see docs/observability.md); absent = none besides the SQL ones. */
  alerts?: AlertRule[];
  /** Jobs declared in the file (YAML `jobs:`, src/cli/declared-jobs.ts), applied at start. */
  jobs?: DeclaredJob[];
}

/** Where configuration comes from; `configFile` is optional. */
export interface AgentConfigInput {
  /**
   * Parsed flags keyed by AgentConfig name (commander's camelCase: `--poll-interval` →
   * `pollInterval`, `--connections name=url` repeatable); undefined = not given. Declare them
   * without commander's `.default()` or `.env()`: a default would hide the environment and the
   * file, and `.env()` would report an environment value as a flag.
   */
  flags: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  configFile?: string;
}

/** Every problem found in the configuration, each a KairosValidationError; the message lists them. */
export class AgentConfigError extends KairosValidationError {
  override name = 'AgentConfigError';
  readonly problems: readonly KairosValidationError[];

  constructor(problems: readonly KairosValidationError[]) {
    const [first] = problems as [KairosValidationError];
    const message = problems.length === 1 ? first.message : `${problems.length} problems in the agent configuration:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`;
    super(first.field, message);
    this.problems = problems;
  }
}

type Key = Exclude<keyof AgentConfig, 'notes'>;
interface Source { label: string; kind: 'flag' | 'env' | 'file'; pgagent: boolean; baseDir: string }
interface Given { key: string; value: unknown; source: Source }

/** The agent's defaults: the library's (src/api/options.ts DEFAULTS) where they overlap. */
const DEFAULTS: Omit<AgentConfig, 'notes'> = {
  databaseUrl: null, listenUrl: null, schema: KAIROS_DEFAULTS.schema, concurrency: KAIROS_DEFAULTS.concurrency, queues: [...KAIROS_DEFAULTS.queues],
  pollInterval: KAIROS_DEFAULTS.pollIntervalMs, allowShell: false, preparedStatements: true, migrate: false,
  nodeName: null, nodeTags: [], logLevel: 'info', logFormat: 'auto', tasks: [], shutdownTimeout: KAIROS_DEFAULTS.shutdownTimeoutMs, connections: {},
};
const POSTGRES_URL = 'a PostgreSQL URL such as postgres://user@host:5432/db';
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** Numeric levels in a flat or `kairos:` file: 0=debug, 1=info (pgAgent's LOG), 2=warn, 3=error. */
const KAIROS_LEVEL_NUMBERS = LEVELS;
/** pgAgent's own `-l` numbering (ERROR=0, WARNING=1, DEBUG=2), used in a `pgagent:` section. */
const PGAGENT_LEVEL_NUMBERS = ['error', 'warn', 'debug'] as const;
const BOOLEAN_WORDS: Record<string, boolean> = { true: true, false: false, 1: true, 0: false };

const integer = (min: number, max: number): z.ZodType =>
  z.preprocess((v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v), z.number({ error: `an integer from ${min} to ${max}` }).int().min(min).max(max));
const bool = (): z.ZodType =>
  z.preprocess((v) => (typeof v === 'string' || typeof v === 'number' ? (BOOLEAN_WORDS[String(v).trim().toLowerCase()] ?? v) : v), z.boolean({ error: 'true or false (or 1 or 0)' }));
const text = (expected: string, pattern: RegExp): z.ZodType => z.string({ error: expected }).regex(pattern);
/**
 * A comma-separated string or a YAML list; a repeated flag gives an array whose items may be
 * comma lists too. Empty items of a comma list (`a,,b`, `a,`) are skipped; YAML items are kept as written.
 */
const list = (source: Source, item: z.ZodType, min = 0): z.ZodType => {
  const split = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);
  const items = (v: unknown): unknown => (typeof v === 'string' ? split(v) : Array.isArray(v) && source.kind === 'flag' ? v.flatMap((i) => (typeof i === 'string' ? split(i) : [i])) : v);
  return z.preprocess(items, z.array(item, { error: 'a list (YAML) or a comma-separated string' }).min(min, { error: 'a list of at least one name' }));
};
const duration = (field: string, minMs: number, maxMs: number): z.ZodType =>
  z.preprocess((v) => toMilliseconds(v, field), z.number({ error: `a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}, such as "10s" (a number without a unit is seconds)` }).int().min(minMs).max(maxMs));
const HOST = text('a host name or IP address to bind, such as 127.0.0.1 or 0.0.0.0', /^[A-Za-z0-9.:_[\]-]{1,255}$/);
const QUEUE = z.string({ error: `a queue name of ${NAME_RULE}` }).refine(isName, { error: `a queue name of ${NAME_RULE}` });
const postgresUrl = (): z.ZodType => z.string({ error: POSTGRES_URL }).refine(isPostgresUrl, { error: POSTGRES_URL });

/** Each setting: its environment variable, its YAML key, and its schema for a given source. */
const FIELDS: Record<Key, { env?: string; yaml: string; schema: (source: Source) => z.ZodType }> = {
  databaseUrl: { env: 'DATABASE_URL', yaml: 'database_url', schema: postgresUrl },
  listenUrl: { env: 'KAIROS_LISTEN_URL', yaml: 'listen_url', schema: postgresUrl },
  schema: {
    env: 'KAIROS_SCHEMA', yaml: 'schema',
    schema: () => text('a lower-case identifier (letters, digits, _; at most 50 characters; not starting with pg_)', /^(?!pg_)[a-z_][a-z0-9_]{0,49}$/),
  },
  concurrency: { env: 'KAIROS_CONCURRENCY', yaml: 'concurrency', schema: () => integer(1, 10_000) },
  queues: { env: 'KAIROS_QUEUES', yaml: 'queues', schema: (source) => list(source, QUEUE, 1).transform((q) => [...new Set(q as string[])]) },
  pollInterval: { env: 'KAIROS_POLL_INTERVAL', yaml: 'poll_interval', schema: () => duration('pollInterval', 100, 3_600_000) },
  allowShell: { env: 'KAIROS_ALLOW_SHELL', yaml: 'allow_shell', schema: bool },
  preparedStatements: { env: 'KAIROS_PREPARED_STATEMENTS', yaml: 'prepared_statements', schema: bool },
  migrate: { yaml: 'migrate', schema: bool },
  nodeName: { env: 'KAIROS_NODE_NAME', yaml: 'node_name', schema: () => text('a name of 1-200 characters without control characters', /^[^\p{Cc}]{1,200}$/u) },
  nodeTags: { env: 'KAIROS_NODE_TAGS', yaml: 'node_tags', schema: (source) => list(source, text('a tag of 1-100 characters without spaces or commas', /^[^\s,\p{Cc}]{1,100}$/u)) },
  logLevel: {
    env: 'KAIROS_LOG_LEVEL', yaml: 'log_level',
    schema: (source) => {
      const numbers: readonly string[] = source.pgagent ? PGAGENT_LEVEL_NUMBERS : KAIROS_LEVEL_NUMBERS;
      const numeric = source.kind !== 'file' ? '' : source.pgagent ? ' (or pgAgent\'s 0=error, 1=warning, 2=debug)' : ' (or 0=debug, 1=info, 2=warn, 3=error)';
      return z.preprocess(
        (v) => (typeof v === 'string' ? v.trim().toLowerCase() : typeof v === 'number' && source.kind === 'file' ? (numbers[v] ?? v) : v),
        z.enum(LEVELS, { error: `one of debug, info, warn, error${numeric}` }),
      );
    },
  },
  logFormat: { env: 'KAIROS_LOG_FORMAT', yaml: 'log_format', schema: () => z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(['json', 'pretty', 'auto'], { error: 'one of json, pretty, auto' })) },
  tasks: {
    env: 'KAIROS_TASKS', yaml: 'tasks',
    // A path is made absolute where it was written, so a config file works from any directory;
    // anything else (`@acme/jobs`) is a package name for the loader to resolve.
    schema: (source) => list(source, z.string({ error: 'a module or folder path' }).min(1)).transform((t) => (t as string[]).map((p) => (isAbsolute(p) || /^\.\.?(\/|$)/.test(p) ? resolve(source.baseDir, p) : p))),
  },
  shutdownTimeout: { env: 'KAIROS_SHUTDOWN_TIMEOUT', yaml: 'shutdown_timeout', schema: () => duration('shutdownTimeout', 0, 3_600_000) },
  connections: {
    yaml: 'connections',
    schema: () => z.preprocess(connectionPairs, z.record(z.string(), z.unknown(), { error: 'a mapping of names to PostgreSQL URLs (flags: name=url)' }).check((ctx) => {
      for (const [name, url] of Object.entries(ctx.value)) {
        if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(name)) ctx.issues.push({ code: 'custom', path: [name], message: 'a name of letters, digits, _ and - (at most 63)', input: name });
        else if (typeof url !== 'string' || !isPostgresUrl(url)) ctx.issues.push({ code: 'custom', path: [name], message: POSTGRES_URL, input: url });
      }
    })),
  },
  httpPort: { env: 'KAIROS_HTTP_PORT', yaml: 'http.port', schema: () => integer(0, 65_535) },
  httpHost: { env: 'KAIROS_HTTP_HOST', yaml: 'http.host', schema: () => HOST },
  alerts: { yaml: 'alerts', schema: () => alertRulesSchema() },
  jobs: { yaml: 'jobs', schema: () => declaredJobsSchema() },
};
const KEYS = Object.keys(FIELDS) as Key[];
/** pgAgent's connection settings, turned into `databaseUrl`. YAML reads `password: 0123` as 123, hence strings only. */
const PGAGENT_DB: Record<string, z.ZodType> = {
  db_host: z.string({ error: 'a host name or socket directory' }).min(1),
  db_port: integer(1, 65_535),
  ...Object.fromEntries(['db_name', 'db_user', 'db_password'].map((k) => [k, z.string({ error: 'a string (quote it: YAML reads 0123 as the number 123)' })])),
};
const PGAGENT_IGNORED: Record<string, string> = {
  enabled: 'a Kairos agent runs while `kairos start` runs',
  retry_on_crash: "restart the agent with your service manager (systemd's Restart=, a container restart policy)",
};
const SECRET = /^(databaseUrl|connections|db_password)\b/;
/** Alert fields whose values are never shown in a message (webhook secrets; URLs may hold tokens). */
const HIDDEN = /^alerts\[\d+\]\.(secret|url)$/;

/**
 * Build the agent's configuration from `flags` (keys as in AgentConfig, e.g. `pollInterval`),
 * `env` (DATABASE_URL, KAIROS_SCHEMA, KAIROS_CONCURRENCY, KAIROS_QUEUES, KAIROS_POLL_INTERVAL,
 * KAIROS_ALLOW_SHELL, KAIROS_NODE_NAME, KAIROS_NODE_TAGS, KAIROS_LOG_LEVEL, KAIROS_LOG_FORMAT,
 * KAIROS_TASKS, KAIROS_SHUTDOWN_TIMEOUT; empty ones count as unset) and the YAML `configFile`:
 * flat, under `kairos:` or under `pgagent:` (pgAgent's db_host, db_port, db_name, db_user,
 * db_password, poll_time and log_level; enabled and retry_on_crash are ignored with a note). In a
 * nested file, other top-level keys belong to other programs and are left alone.
 *
 * @throws {AgentConfigError} listing every problem, each a KairosValidationError naming its source.
 */
export async function loadAgentConfig(input: AgentConfigInput): Promise<AgentConfig> {
  const notes: string[] = [];
  const problems: KairosValidationError[] = [];
  const fromFile = input.configFile === undefined ? [] : await readConfigFile(input.configFile, notes, problems);
  const fromEnv: Given[] = [];
  const fromFlags: Given[] = [];
  const cwd = process.cwd();
  for (const key of KEYS) {
    const flag = input.flags[key];
    const label = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (flag !== undefined && flag !== null) fromFlags.push({ key, value: flag, source: { label, kind: 'flag', pgagent: false, baseDir: cwd } });
    const name = FIELDS[key].env;
    const env = name === undefined ? undefined : input.env[name];
    if (name !== undefined && env !== undefined && env.trim() !== '') fromEnv.push({ key, value: env, source: { label: name, kind: 'env', pgagent: false, baseDir: cwd } });
  }
  const config: Record<string, unknown> = { ...DEFAULTS, connections: {} };
  // Lowest precedence first, so that higher sources overwrite; connections merge name by name.
  for (const { key, value, source } of [...fromFile, ...fromEnv, ...fromFlags]) {
    const schema = key in FIELDS ? FIELDS[key as Key].schema(source) : (PGAGENT_DB[key] as z.ZodType);
    const parsed = schema.safeParse(value, { reportInput: true });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const from = ` (from ${source.label})`;
        const unknownKey = key === 'alerts' ? unknownRuleKey(issue as Parameters<typeof unknownRuleKey>[0], value, key, from)
          : key === 'jobs' ? unknownJobKey(issue as Parameters<typeof unknownJobKey>[0], key, from) : undefined;
        if (unknownKey) {
          problems.push(new KairosValidationError(unknownKey.field, unknownKey.message));
          continue;
        }
        const field = key + issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
        const got = issue.path.length === 0 ? value : issue.input;
        const shown = HIDDEN.test(field) ? 'a value (not shown)' : SECRET.test(field) ? describeSecret(got) : describeValue(got);
        problems.push(new KairosValidationError(field, `Expected \`${field}\` (from ${source.label}) to be ${issue.message}, got ${shown}`));
      }
    } else if (key === 'connections') Object.assign(config.connections as object, parsed.data);
    else if (key in FIELDS) config[key] = parsed.data; // pgAgent's db_* become databaseUrl below
  }
  if (problems.length > 0) throw new AgentConfigError(problems);
  const pgagent = fromFile.filter((g) => g.key in PGAGENT_DB);
  if (pgagent.length > 0 && ![...fromEnv, ...fromFlags].some((g) => g.key === 'databaseUrl')) config.databaseUrl = pgagentUrl(pgagent);
  return { ...(config as Omit<AgentConfig, 'notes'>), notes };
}

/** The configuration with passwords in connection strings replaced by `***`, safe to log. */
export function redactConfig(config: AgentConfig): Record<string, unknown> {
  return {
    ...structuredClone(config),
    databaseUrl: config.databaseUrl === null ? null : redactConnectionString(config.databaseUrl),
    connections: Object.fromEntries(Object.entries(config.connections).map(([name, url]) => [name, redactConnectionString(url)])),
    ...(config.alerts === undefined ? {} : { alerts: redactAlertRules(config.alerts) }),
  };
}

/** Read and check the shape of the YAML file; values are checked by the caller with the others. */
async function readConfigFile(path: string, notes: string[], problems: KairosValidationError[]): Promise<Given[]> {
  const fail = (message: string): never => {
    throw new AgentConfigError([new KairosValidationError('configFile', message)]);
  };
  let content = '';
  try {
    content = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    fail(`Cannot read the configuration file ${path}: ${reason}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(content, { lineCounter: lines, uniqueKeys: true });
  const [syntax] = doc.errors;
  if (syntax) fail(`Invalid YAML in ${path}: ${syntax.message.trimEnd()}`);
  if (doc.contents === null) return [];
  if (!isMap(doc.contents)) fail(`Expected the configuration file ${path} to be a YAML mapping of settings, got ${describeValue(doc.toJS())}`);
  const root = doc.contents as YAMLMap;
  const at = (node: unknown): number => lines.linePos((node as { range?: [number] }).range?.[0] ?? 0).line;
  const sections = root.items.filter((p) => isScalar(p.key) && (p.key.value === 'kairos' || p.key.value === 'pgagent'));
  if (sections.length > 1) fail(`Expected the configuration file ${path} to have one of \`kairos:\` or \`pgagent:\`, not both`);
  const section = sections[0];
  const sectionName = section ? String((section.key as { value: unknown }).value) : '';
  const map = section ? section.value : root;
  if (section && map !== null && !isMap(map)) fail(`Expected \`${sectionName}\` in ${path} (line ${at(section.key)}) to be a mapping of settings, got ${describeValue((doc.toJS() as Record<string, unknown>)[sectionName])}`);
  const known = new Map<string, string>([...KEYS.map((k) => [FIELDS[k].yaml, k] as const), ['poll_time', 'pollInterval'], ...Object.keys(PGAGENT_DB).map((k) => [k, k] as const)]);
  if (section) {
    for (const pair of root.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : '';
      if (known.has(name)) problems.push(new KairosValidationError(name, `Setting \`${name}\` in ${path} (line ${at(pair.key)}) is outside the \`${sectionName}:\` section; move it under \`${sectionName}:\``));
    }
  }
  const given: Given[] = [];
  const source = (keyPath: string, line: number): Source => ({ label: `${path}:${keyPath} at line ${line}`, kind: 'file', pgagent: sectionName === 'pgagent', baseDir: dirname(resolve(path)) });
  // Values from toJS (which resolves aliases), lines from the syntax tree.
  const data = doc.toJS() as Record<string, unknown>;
  const values = (section ? data[sectionName] : data) as Record<string, unknown> | null;
  for (const pair of (map as YAMLMap | null)?.items ?? []) {
    const name = isScalar(pair.key) ? String(pair.key.value) : 'a non-scalar key';
    const keyPath = section ? `${sectionName}.${name}` : name;
    const line = at(pair.key);
    const key = known.get(name);
    if (name === 'http') given.push(...httpSettings(pair, (values?.http ?? null) as Record<string, unknown> | null, keyPath, { path, at, known, problems, source }));
    else if (name in PGAGENT_IGNORED) notes.push(`${path}: \`${keyPath}\` (line ${line}) is accepted for pgAgent compatibility and ignored: ${PGAGENT_IGNORED[name]}`);
    else if (key === undefined) problems.push(new KairosValidationError(keyPath, `Unknown setting \`${name}\` in ${path} (line ${line})${didYouMean(name, [...known.keys()], 'settings')}`));
    else if (given.some((g) => g.key === key)) problems.push(new KairosValidationError(key, `Setting \`${keyPath}\` in ${path} (line ${line}) repeats \`${FIELDS[key as Key]?.yaml ?? key}\` under another name; keep one`));
    else if (values?.[name] !== null && values?.[name] !== undefined) given.push({ key, value: values[name], source: source(keyPath, line) }); // empty = default
  }
  const url = given.find((g) => g.key === 'databaseUrl');
  const db = given.filter((g) => g.key in PGAGENT_DB);
  if (url && db.length > 0) problems.push(new KairosValidationError('databaseUrl', `Expected ${path} to give either \`database_url\` or pgAgent's \`db_*\` settings, not both (${url.source.label})`));
  else if (db.length > 0 && !db.some((g) => g.key === 'db_host')) problems.push(new KairosValidationError('db_host', `Expected ${path} to give \`db_host\` along with ${db.map((g) => `\`${g.key}\``).join(', ')}`));
  return given;
}

/** The `http: { port, host }` mapping of a file, as `httpPort` and `httpHost` settings. */
function httpSettings(
  pair: YAMLMap['items'][number], values: Record<string, unknown> | null, keyPath: string,
  ctx: { path: string; at: (node: unknown) => number; known: Map<string, string>; problems: KairosValidationError[]; source: (keyPath: string, line: number) => Source },
): Given[] {
  if (values === null) return []; // empty = defaults
  if (!isMap(pair.value)) {
    ctx.problems.push(new KairosValidationError(keyPath, `Expected \`${keyPath}\` in ${ctx.path} (line ${ctx.at(pair.key)}) to be a mapping with \`port\` and \`host\`, got ${describeValue(values)}`));
    return [];
  }
  const given: Given[] = [];
  for (const item of pair.value.items) {
    const name = isScalar(item.key) ? String(item.key.value) : 'a non-scalar key';
    const key = ctx.known.get(`http.${name}`);
    const line = ctx.at(item.key);
    if (key === undefined) ctx.problems.push(new KairosValidationError(`${keyPath}.${name}`, `Unknown setting \`${name}\` under \`${keyPath}\` in ${ctx.path} (line ${line})${didYouMean(name, ['port', 'host'], 'settings')}`));
    else if (values[name] !== null && values[name] !== undefined) given.push({ key, value: values[name], source: ctx.source(`${keyPath}.${name}`, line) });
  }
  return given;
}

/** Build a URL from pgAgent's settings (already checked); a host starting with `/` is a socket directory. */
function pgagentUrl(given: Given[]): string {
  const get = (key: string): string | undefined => (given.find((g) => g.key === key)?.value as string | number | undefined)?.toString().trim();
  const [host = '', port, name, user, password] = ['db_host', 'db_port', 'db_name', 'db_user', 'db_password'].map(get);
  const auth = user === undefined && password === undefined ? '' : `${encodeURIComponent(user ?? '')}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@`;
  const socket = host.startsWith('/');
  const address = socket ? '' : `${host.includes(':') ? `[${host}]` : host}${port === undefined ? '' : `:${port}`}`;
  const query = socket ? `?host=${encodeURIComponent(host)}${port === undefined ? '' : `&port=${port}`}` : '';
  return `postgresql://${auth}${address}${name === undefined ? (socket ? '/' : '') : `/${encodeURIComponent(name)}`}${query}`;
}

/** Seconds for bare numbers (pgAgent's poll_time), parseDuration for the rest; a failure is left for zod to report. */
function toMilliseconds(value: unknown, field: string): unknown {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : undefined;
  if (seconds !== undefined) {
    const ms = seconds * 1000;
    return Math.abs(ms - Math.round(ms)) < 1e-6 ? Math.round(ms) : ms; // 1.1 * 1000 is 1100.0000000000002
  }
  try {
    return parseDuration(value, field, { minMs: 0 });
  } catch {
    return value;
  }
}

/** `name=url` flags (repeated or one string) become a mapping; a mapping from YAML passes through. */
function connectionPairs(value: unknown): unknown {
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) return value;
  return Object.fromEntries(items.map((item: string) => [item.split('=', 1)[0] as string, item.includes('=') ? item.slice(item.indexOf('=') + 1) : '']));
}

function isPostgresUrl(value: string): boolean {
  if (!/^postgres(ql)?:\/\//.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/** Describe a value that may hold a password without showing the password. */
function describeSecret(value: unknown): string {
  if (typeof value === 'string') return describeValue(redactConnectionString(value));
  return typeof value === 'number' ? 'a number (not shown)' : describeValue(value);
}
