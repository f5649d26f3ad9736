/**
 * The typed data-access seam, generated sqlc-style: every `-- name:` block of sql/queries/ becomes
 * one method of `Queries` (src/store/queries.ts) with a parameter object named after the query's
 * `@name` parameters and a row type, both typed from what PostgreSQL itself says the statement
 * takes and returns (Parse + Describe against a freshly migrated schema). A column read straight
 * from a table is nullable when the table's column is or the query outer-joins the table; an
 * expression is nullable unless the
 * query's comment lists it on a `Not null:` line. Types follow how Kairos reads results
 * (store/db.ts KAIROS_TYPES): bigint and numeric as numbers, timestamptz as Date.
 */
import type pg from 'pg';
import { querySources, renderSql, type QuerySource } from '../../src/store/sql.js';
import { describeStatement, type Description } from './describe.js';

/** Where the generated file lives, relative to the repository. */
export const QUERIES_FILE = 'src/store/queries.ts';

interface PgType {
  name: string;
  category: string;
  /** Element type of an array, base type of a domain. */
  element: number;
  kind: string;
}

const NUMBER = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'oid']);
const STRING = new Set(['text', 'varchar', 'bpchar', 'name', 'uuid', 'char', 'regclass', 'inet', 'cidr', 'regrole']);
const DATE = new Set(['timestamptz', 'timestamp', 'date']);

/** The TypeScript type of a PostgreSQL type, as a result (`out`) or as a parameter (`in`). */
function tsType(oid: number, types: Map<number, PgType>, direction: 'in' | 'out'): string {
  const type = types.get(oid);
  if (!type) return 'unknown';
  if (type.kind === 'd') return tsType(type.element, types, direction);
  if (type.category === 'A') return `${wrap(tsType(type.element, types, direction))}[]`;
  if (type.kind === 'e') return 'string';
  if (NUMBER.has(type.name)) return 'number';
  if (STRING.has(type.name) || type.name === 'unknown') return 'string';
  if (type.name === 'bool') return 'boolean';
  if (DATE.has(type.name)) return direction === 'in' ? 'Date | string' : 'Date';
  if (type.name === 'interval') return direction === 'in' ? 'string' : 'Interval';
  // A parameter takes JSON text: node-pg would turn a JavaScript array into a PostgreSQL array.
  if (type.name === 'json' || type.name === 'jsonb') return direction === 'in' ? 'string' : 'unknown';
  if (type.name === 'bytea') return 'Buffer';
  return 'unknown';
}

const wrap = (type: string): string => (/[|&]/.test(type) ? `(${type})` : type);
const pascal = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);
const docLines = (text: string, indent: string): string =>
  `${indent}/**\n${text.replaceAll('*/', '*\\/').split('\n').map((line) => `${indent} *${line ? ` ${line}` : ''}`).join('\n')}\n${indent} */\n`;

/** The `Not null:` columns a query's comment declares. */
function declaredNotNull(source: QuerySource): Set<string> {
  const line = source.doc.split('\n').find((l) => /^Not null:/i.test(l));
  return new Set(line ? line.replace(/^Not null:/i, '').split(',').map((c) => c.trim()).filter(Boolean) : []);
}

interface Described {
  source: QuerySource;
  description: Description;
  /** OIDs of the tables the query outer-joins: their columns may be null whatever the table says. */
  outer: Set<number>;
}

const OUTER_JOIN = /\b(?:LEFT|RIGHT|FULL)(?:\s+OUTER)?\s+JOIN\s+(?!LATERAL\b)("?[\w$]+"?\s*\.\s*"?[\w$]+"?|"?[\w$]+"?)/gi;

/** The tables `text` outer-joins, as OIDs (names that are not tables, such as CTEs, drop out). */
async function outerJoined(client: pg.ClientBase, text: string): Promise<Set<number>> {
  const names = [...text.matchAll(OUTER_JOIN)].map((m) => m[1]!.replace(/\s+/g, ''));
  if (names.length === 0) return new Set();
  const { rows } = await client.query<{ oid: number | null }>('SELECT to_regclass(n)::oid::int AS oid FROM unnest($1::text[]) n', [names]);
  return new Set(rows.flatMap((r) => (r.oid === null ? [] : [r.oid])));
}

/** Describe every named query against `schema` (already migrated) on `client`. */
async function describeAll(client: pg.ClientBase, schema: string): Promise<Described[]> {
  const out: Described[] = [];
  for (const source of querySources().values()) {
    try {
      const text = renderSql(source.text, schema);
      out.push({ source, description: await describeStatement(client, text), outer: await outerJoined(client, text) });
    } catch (error) {
      throw new Error(`Query ${source.name} (sql/queries/${source.file}) does not parse: ${(error as Error).message}`, { cause: error });
    }
  }
  return out;
}

/** The types and NOT NULL columns the descriptions mention. */
async function catalog(pool: pg.ClientBase, described: Described[]): Promise<{ types: Map<number, PgType>; notNull: Set<string> }> {
  const { rows } = await pool.query<{ oid: number; name: string; category: string; element: number; kind: string }>(
    `SELECT oid::int, typname AS name, typcategory AS category,
            (CASE WHEN typtype = 'd' THEN typbasetype ELSE typelem END)::int AS element, typtype AS kind FROM pg_type`,
  );
  const types = new Map(rows.map((r) => [r.oid, r]));
  const pairs = described.flatMap((d) => (d.description.columns ?? []).filter((c) => c.table !== 0).map((c) => [c.table, c.column]));
  const { rows: attrs } = await pool.query<{ key: string }>(
    `SELECT attrelid::int || '.' || attnum AS key FROM pg_attribute
      WHERE attnotnull AND (attrelid::int, attnum::int) IN (SELECT * FROM unnest($1::int[], $2::int[]))`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
  return { types, notNull: new Set(attrs.map((a) => a.key)) };
}

/**
 * Generate src/store/queries.ts from the queries and the schema installed as `schema`, on a
 * dedicated client (it may be inside a transaction: the test changes the schema and rolls back).
 */
export async function generateQueries(client: pg.ClientBase, schema: string): Promise<string> {
  const pool = client;
  const described = await describeAll(client, schema);
  const { types, notNull } = await catalog(pool, described);
  const declarations: string[] = [];
  const methods: string[] = [];
  for (const { source, description, outer } of described) {
    const where = `sql/queries/${source.file}`;
    const type = pascal(source.name);
    const declared = declaredNotNull(source);
    const args: string[] = [];
    if (source.params.length > 0) {
      const fields = source.params.map((p, i) => `  ${p}: ${tsType(description.params[i] ?? 0, types, 'in')} | null;`);
      declarations.push(`/** The parameters of {@link Queries.${source.name}}. */\nexport interface ${type}Params {\n${fields.join('\n')}\n}\n`);
      args.push(`params: ${type}Params`);
    }
    if (source.params.length !== description.params.length) {
      throw new Error(`Query ${source.name} (${where}) takes ${description.params.length} parameters but names ${source.params.length}: write them as @name`);
    }
    const values = `[${source.params.map((p) => `params.${p}`).join(', ')}]`;
    args.push('db?: Queryable');
    const doc = docLines(`${source.doc || source.name}\n\n(\`${source.name}\` in ${where})`, '  ');
    if (description.columns === null) {
      methods.push(`${doc}  async ${source.name}(${args.join(', ')}): Promise<number> {\n    return (await this.execute('${source.name}', ${values}, db)).rowCount ?? 0;\n  }\n`);
      continue;
    }
    const seen = new Set<string>();
    const fields = description.columns.map((c) => {
      if (seen.has(c.name)) throw new Error(`Query ${source.name} (${where}) returns two columns named ${c.name}`);
      seen.add(c.name);
      const fromTable = c.table !== 0 && !outer.has(c.table) && notNull.has(`${c.table}.${c.column}`);
      const nullable = !(declared.has(c.name) || fromTable);
      const name = /^[a-z_][a-z0-9_]*$/i.test(c.name) ? c.name : JSON.stringify(c.name);
      const ts = tsType(c.type, types, 'out');
      return `  ${name}: ${ts}${nullable && ts !== 'unknown' ? ' | null' : ''};`;
    });
    for (const column of declared) if (!seen.has(column)) throw new Error(`Query ${source.name} (${where}) declares "${column}" not null but returns no such column`);
    declarations.push(`/** A row of {@link Queries.${source.name}}. */\nexport interface ${type}Row {\n${fields.join('\n')}\n}\n`);
    methods.push(`${doc}  async ${source.name}(${args.join(', ')}): Promise<${type}Row[]> {\n    return (await this.execute('${source.name}', ${values}, db)).rows as ${type}Row[];\n  }\n`);
  }
  return `${HEADER}\n${declarations.join('\n')}\n${CLASS_DOC}export class Queries {\n  constructor(private readonly execute: Execute) {}\n\n${methods.join('\n')}}\n`;
}

const HEADER = `/**
 * GENERATED by \`npm run gen:queries\` from sql/queries/*.sql; do not edit by hand
 * (test/store/queries.test.ts fails when this file and the queries disagree).
 *
 * One typed method per named query: parameters by the names the SQL gives them (\`@name\`), rows
 * typed from PostgreSQL's own description of the statement (scripts/codegen/queries.ts).
 */
import type { Queryable } from './db.js';
import type { Interval } from './rows.js';

/** How the methods run a query: by name, with its values in parameter order. */
export type Execute = (name: string, values: unknown[], db: Queryable | undefined) => Promise<{ rows: unknown[]; rowCount: number | null }>;
`;

const CLASS_DOC = `/** Every named query of sql/queries/, typed. Reached through \`Store.sql\`. */\n`;
