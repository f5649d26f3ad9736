/**
 * Loading SQL text from `sql/`: migrations and named queries, with the schema name substituted.
 * Runtime code never builds SQL from strings; it asks for a query by name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KairosValidationError, describeValue, KairosConflictError, KairosNotFoundError } from '../core/errors.js';

/** The `sql/` folder of the package (same relative path from `src/store` and `dist/store`). */
const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,49}$/;

/**
 * Check a schema name. Lower-case letters, digits and underscores, at most 50 characters, so that
 * the NOTIFY channel derived from it stays within PostgreSQL's 63-byte identifier limit.
 */
export function assertSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw new KairosValidationError(
      'schema',
      `Expected \`schema\` to be a lower-case identifier (letters, digits, _; at most 50 characters), got ${describeValue(schema)}`,
    );
  }
  if (schema.startsWith('pg_')) {
    throw new KairosValidationError('schema', `Expected \`schema\` not to start with "pg_" (reserved by PostgreSQL), got "${schema}"`);
  }
  return schema;
}

/** Quote an identifier for SQL text. Only used on names that already passed validation. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The NOTIFY channel of an installation: one per schema, so installations never hear each other. */
export function channelName(schema: string): string {
  return `kairos:${schema}`;
}

/** The roles an installation uses (names are cluster-wide, so installations may share them). */
export interface RoleNames {
  /** May use the SQL API; sees the jobs of roles it is a member of. @default 'job_scheduler' */
  scheduler: string;
  /** Reads everything. @default 'job_monitor' */
  monitor: string;
  /** A job owner must be a member of it for shell jobs. @default 'kairos_shell' */
  shell: string;
}

/** Default role names. */
export const DEFAULT_ROLES: RoleNames = { scheduler: 'job_scheduler', monitor: 'job_monitor', shell: 'kairos_shell' };

const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** Check a role name: PostgreSQL identifier rules, at most 63 characters, no quotes. */
export function assertRoleName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(value)) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be a role name (letters, digits, _ and $, at most 63 characters), got ${describeValue(value)}`);
  }
  return value;
}

/** Replace the placeholders: `{{schema}}`, `{{channel}}`, `{{lit_schema}}` and the role names. */
export function renderSql(text: string, schema: string, roles: RoleNames = DEFAULT_ROLES): string {
  return text
    .replaceAll('{{schema}}', quoteIdent(schema))
    .replaceAll('{{lit_schema}}', literal(schema))
    .replaceAll('{{channel}}', literal(channelName(schema)))
    .replaceAll('{{role_scheduler}}', quoteIdent(roles.scheduler))
    .replaceAll('{{role_monitor}}', quoteIdent(roles.monitor))
    .replaceAll('{{role_shell}}', quoteIdent(roles.shell))
    .replaceAll('{{lit_role_scheduler}}', literal(roles.scheduler))
    .replaceAll('{{lit_role_monitor}}', literal(roles.monitor))
    .replaceAll('{{lit_role_shell}}', literal(roles.shell));
}

/** One migration file: `0001_init.sql` → version 1, name `init`. */
export interface MigrationFile {
  version: number;
  name: string;
  text: string;
}

/** Read the forward-only migration files in version order. */
export function readMigrations(): MigrationFile[] {
  const dir = `${SQL_DIR}migrations/`;
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      text: readFileSync(dir + file, 'utf8'),
    }));
}

/** One `-- name:` block of `sql/queries/`, before the schema is substituted. */
export interface QuerySource {
  name: string;
  /** The file it is in, e.g. `runs.sql`. */
  file: string;
  /** Its leading comment, without the `-- ` markers. */
  doc: string;
  /** Its SQL with the named parameters replaced by `$1`, `$2`, … in order of first use. */
  text: string;
  /** The parameter names, `params[i]` being `$i+1`. */
  params: string[];
}

/**
 * A named parameter: `@name`, as sqlc writes them. Not after a letter, digit or `@` (an e-mail
 * address in a comment, the `@>` and `@@` operators), and a letter must follow.
 */
const NAMED_PARAMETER = /(?<![\w@])@([a-z][a-z0-9_]*)/g;

/** Replace `@name` parameters by positional ones; a query may not mix both kinds. */
export function bindNamedParameters(text: string, where: string): { text: string; params: string[] } {
  const params: string[] = [];
  const bound = text.replace(NAMED_PARAMETER, (_match, name: string) => {
    let index = params.indexOf(name);
    if (index < 0) index = params.push(name) - 1;
    return `$${index + 1}`;
  });
  if (params.length > 0 && /\$\d/.test(text)) throw new KairosValidationError('sql', `${where} mixes $n and @name parameters`);
  return { text: bound, params };
}

let sources: Map<string, QuerySource> | undefined;

/** Parse every `sql/queries/*.sql` file into its `-- name: xxx` blocks (read once per process). */
export function querySources(): Map<string, QuerySource> {
  if (sources) return sources;
  const dir = `${SQL_DIR}queries/`;
  const map = new Map<string, QuerySource>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const blocks = readFileSync(dir + file, 'utf8').split(/^-- name: /m).slice(1);
    for (const block of blocks) {
      const newline = block.indexOf('\n');
      const name = block.slice(0, newline).trim();
      if (map.has(name)) throw new KairosConflictError(`Duplicate query name ${name} in sql/queries/${file}`);
      const body = block.slice(newline + 1).trim();
      const lines = body.split('\n');
      const comment = lines.findIndex((line) => !line.startsWith('--'));
      const doc = lines.slice(0, comment < 0 ? lines.length : comment).map((line) => line.replace(/^--\s?/, '')).join('\n');
      map.set(name, { name, file, doc, ...bindNamedParameters(body, `Query ${name} (sql/queries/${file})`) });
    }
  }
  sources = map;
  return map;
}

/** The named queries of one schema, rendered once. */
export class QuerySet {
  private readonly rendered = new Map<string, string>();

  constructor(readonly schema: string) {
    for (const [name, source] of querySources()) this.rendered.set(name, renderSql(source.text, schema));
  }

  /** The SQL text of a named query; throws on an unknown name (a programming error). */
  get(name: string): string {
    const text = this.rendered.get(name);
    if (text === undefined) throw new KairosNotFoundError(`Unknown query ${name}`);
    return text;
  }
}
